"""Ablation: leave-one-out reruns, contributions from the gate's transitions, CLI and screen."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tui_fixture import wait_for

from t2e_tui.ablation import ablate, leave_one_out
from t2e_tui.candidates import parse

BODY = """You are a helpful customer support agent.
- When the customer says 'the same as the one I already received', look up their delivered orders to find that item.
- Transfer every upset customer to a human.
1. Be brief."""


def test_leave_one_out_drops_exactly_one_rule_each():
    cand = parse(f"---\nname: m\n---\n{BODY}\n")
    out = leave_one_out(cand)
    assert [n for n, _, _ in out] == [1, 2, 3]
    for n, rule, c in out:
        lines = c.body.split("\n")
        assert rule not in [ln.strip() for ln in lines] and len(lines) == 3
        assert lines[0] == "You are a helpful customer support agent."


@pytest.fixture
def cand_file(tmp_path):
    p = tmp_path / "m.md"
    p.write_text(f"---\nname: m\nparent: null\n---\n{BODY}\n")
    return p


def test_contributions_have_the_sign_of_each_rule(tmp_path, cand_file):
    store = str(tmp_path / "s.sqlite")
    steps = []
    res = ablate(store, str(cand_file), tasks="heldout",
                 on_progress=lambda label, i, n: steps.append((i, n)))
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]
    by = {r["index"]: r for r in res["rules"]}
    assert by[1]["contribution"] > 0 and by[1]["tasks_won"] and not by[1]["tasks_lost"]
    assert by[2]["contribution"] < 0 and by[2]["tasks_lost"]          # the harmful rule
    assert by[3]["contribution"] == 0                                  # an inert rule
    assert res["complete"]


def test_no_rule_lines_is_refused(tmp_path):
    p = tmp_path / "flat.md"
    p.write_text("Just prose, no rules.\n")
    r = subprocess.run([sys.executable, "-m", "t2e_tui.cli", "ablate", str(p), "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "no rule lines" in json.loads(r.stdout)["error"]


@pytest.mark.slow
def test_cli_json_and_bad_tasks(tmp_path, cand_file):
    r = subprocess.run([sys.executable, "-m", "t2e_tui.cli", "ablate", str(cand_file),
                        "--tasks", "nosuch-1", "--json"], capture_output=True, text=True)
    assert r.returncode == 2 and "nosuch-1" in r.stdout
    r = subprocess.run([sys.executable, "-m", "t2e_tui.cli", "ablate", str(cand_file),
                        "--tasks", "heldout"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "rule 2: contribution -" in r.stdout and "stand-in" in r.stdout


def save_three_rules(tmp_path, cand_file):
    """A store holding one saved version of the three-rule candidate."""
    from store import connect
    from t2e_tui.candidate_versions import save_version
    from t2e_tui.candidates import load

    store = tmp_path / "s.sqlite"
    conn = connect(store)
    save_version(conn, load(cand_file), hypothesis="three rules",
                 candidates_dir=tmp_path / "cands")
    conn.close()
    return store


async def ablate_from_lineage(pilot):
    """L, then a on the selected version; wait (up to 30 s) for the ablation's result."""
    from t2e_tui.ui.screens.workbench_ablation import AblationScreen

    app = pilot.app
    from t2e_tui.ui.screens.workbench_lineage import LineageScreen

    await pilot.press("L")
    await wait_for(pilot, lambda: isinstance(app.screen, LineageScreen)
                   and getattr(app.screen, "rows", None))
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, AblationScreen)
                   and app.screen.result is not None)


async def test_ablation_screen_from_lineage(tmp_path, cand_file):
    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.screens.workbench_ablation import AblationScreen

    store = save_three_rules(tmp_path, cand_file)
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 30)) as pilot:
        await ablate_from_lineage(pilot)
        screen = app.screen
        assert isinstance(screen, AblationScreen) and screen.result is not None
        assert screen.result["tasks"] == "dev"
        assert screen.query_one("DataTable").row_count == 3


async def test_after_ablation_the_launcher_offers_the_ablated_candidate(tmp_path, cand_file):
    """Review item 12: the ablation records its leave-one-out variants as candidates; the
    launcher opened next must offer the candidate being worked on, not `m-minus-rule3`."""
    from store import connect
    from t2e_tui.candidate_versions import ablated_from, list_versions
    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.screens.workbench_context import current_version
    from t2e_tui.ui.screens.workbench_launcher import LauncherScreen

    store = save_three_rules(tmp_path, cand_file)
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 30)) as pilot:
        await ablate_from_lineage(pilot)
        assert app.screen.result is not None
        await pilot.press("escape")
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, LauncherScreen))
        assert app.screen.form().candidate == "m"
        # the variants are the newest rows; without the screen's hint the latest saved version
        # that is not a variant is chosen
        conn = connect(store)
        versions = list_versions(conn)
        assert versions[-1].name.startswith("m-minus-rule") and ablated_from(versions[-1]) == "m"
        app.working_candidate = None
        assert current_version(app, conn).name == "m"
        # the lineage nests the variants under m and marks them, rather than listing them as
        # unrelated root versions
        from t2e_tui.candidate_versions import lineage

        tree = [(r["name"], r["depth"], r["ablation"]) for r in lineage(conn)]
        assert tree[0] == ("m", 0, False)
        assert sorted(tree[1:]) == [(f"m-minus-rule{i}", 1, True) for i in (1, 2, 3)]
        conn.close()


async def test_enter_shows_an_ablation_rule_in_full_at_80(tmp_path, cand_file):
    """At 80 columns the rule text column is cut; Enter shows the selected rule whole, with
    the run that left it out (#15)."""
    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.screens.workbench_ablation import AblationScreen

    store = save_three_rules(tmp_path, cand_file)
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await ablate_from_lineage(pilot)
        screen = app.screen
        assert isinstance(screen, AblationScreen) and screen.result is not None
        rule = screen.result["rules"][1]
        await pilot.press("down", "enter")
        await pilot.pause()
        shown = str(screen.query_one("#abl-rule").render())
        assert f"rule {rule['index']}: " + rule["rule"].strip()[:60] in " ".join(shown.split())
        assert f"run {rule['run_id']}" in shown
