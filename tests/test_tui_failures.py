"""The failures screen (Pilot and snapshots at 80x24 and 160x48), the label key on the tasks
and compare screens, and the classes in the compare header."""

from __future__ import annotations

import pytest
from textual.widgets import Input
from tui_fixture import build_store, line_text, settle, wait_for

from store import connect
from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.compare import CompareScreen
from t2e_tui.ui.screens.failures import FailuresScreen
from t2e_tui.ui.screens.label import LabelScreen, parse_entry
from t2e_tui.ui.screens.tasks import TasksScreen
from t2e_tui.ui.widgets.linetable import LineTable

SIZES = [(80, 24), (160, 48)]


@pytest.fixture
def fx(tmp_path):
    path = tmp_path / "fx.sqlite"
    return path, build_store(path)


def app_for(path):
    return make_app(path, load_config=False, poll_interval=0, clock=lambda: 0.0)


async def open_failures(pilot):
    await settle(pilot)
    await pilot.press("b", "down", "c", "f")       # runs screen: mark a pair, f
    await settle(pilot)


def test_parse_entry():
    assert parse_entry("missing_write it never tried") == ("missing_write", False, "it never tried")
    assert parse_entry("-wrong_target") == ("wrong_target", True, None)


async def test_failures_screen_drills_into_a_class_and_opens_compare_at_the_divergence(fx):
    path, ids = fx
    app = app_for(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_failures(pilot)
        screen = app.screen
        assert isinstance(screen, FailuresScreen) and (screen.run, screen.vs) == ("runcand", "runbase")
        rows = {r["class"]: r for r in screen.table_rows}
        # the candidate regresses task 2 with an unconfirmed write on another item
        assert rows["unconfirmed_write"]["candidate"] == 1 and rows["unconfirmed_write"]["delta"] == 1
        table = screen.query_one(LineTable)
        names = [line_text(table, y).split()[0] for y in range(1, 1 + len(screen.table_rows))]
        idx = names.index("unconfirmed_write")
        table.move_to(idx)
        await pilot.press("enter")
        assert screen.view == "episodes" and screen.class_filter == "unconfirmed_write"
        assert [e.task_id for e in screen._shown] == ["2"]
        ep = screen._shown[0]
        assert "episode" in str(screen.query_one("#fail-why").render())
        await pilot.press("enter")
        await settle(pilot)
        cmp = app.screen
        assert isinstance(cmp, CompareScreen)
        assert (cmp.episode_a, cmp.episode_b) == (ids["episodes"][("base", "2")], ep.episode_id)
        # the cursor sits on the first-divergence step of the failing side
        row = cmp.alignment.rows[cmp.query_one("#lanes").cursor]
        assert ep.first_step in (row.b.step_idx, row.b.result_idx)
        # and the header names the classes and the step
        title = str(cmp.query_one("#cmp-title").render())
        # at 80 columns the header is fitted: the step the cursor opened at and the class
        # first, then where the differences start (n/p)
        third = title.splitlines()[2]
        assert third.startswith(f"B fails at step {ep.first_step} · unconfirmed"), title
        assert "first at A step 1" in third


async def test_failures_views_and_single_run(fx):
    path, _ = fx
    app = app_for(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_failures("runbase")
        await settle(pilot)
        screen = app.screen
        assert screen.vs is None and all("delta" not in r for r in screen.table_rows)
        await pilot.press("2")
        assert screen.view == "episodes" and len(screen._shown) == len(screen.episodes)
        await pilot.press("3")
        await wait_for(pilot, lambda: screen.clusters)
        assert sum(c.size for c in screen.clusters) == len(screen.episodes)
        assert "class " in line_text(screen.query_one(LineTable), 1)


def _views(path) -> list[tuple[int, str]]:
    conn = connect(path)
    try:
        return sorted(tuple(r) for r in conn.execute(
            "SELECT episode_id, via FROM evidence_views"))
    finally:
        conn.close()


@pytest.fixture
def scripted_heldout(tmp_path):
    """A store with the scripted stand-in's run on mini-retail's heldout split (55 failures)."""
    import json

    from click.testing import CliRunner

    from t2e_tui.cli import cli

    path = tmp_path / "s.sqlite"
    res = CliRunner().invoke(cli, ["--store", str(path), "run", "--tasks", "heldout", "--role",
                                   "heldout", "--name", "base", "--json"])
    assert res.exit_code == 0, res.output
    return path, json.loads(res.output)["run_id"]


async def test_failures_screen_records_a_view_of_what_it_quotes(scripted_heldout):
    """The why pane quotes the highlighted episode's trace and the clusters view the words
    its members share: each is an evidence view (the gate's leakage guard); the class table
    (names and counts) is none. Before, the screen showed them and recorded nothing."""
    path, run_id = scripted_heldout
    app = app_for(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_failures(run_id)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, FailuresScreen) and screen.view == "classes"
        assert _views(path) == []
        await pilot.press("2")
        await wait_for(pilot, lambda: screen.episodes_loaded)
        await settle(pilot)
        first = screen._shown[0]
        assert str(first.episode_id) in str(screen.query_one("#fail-why").render())
        await wait_for(pilot, lambda: _views(path) == [(first.episode_id, "tui-failures")],
                       timeout=10)
        await pilot.press("3")
        await wait_for(pilot, lambda: screen.clusters)
        members = {m for c in screen.clusters for m in c.members}
        assert len(members) > 1
        # the why line says the highlighted cluster's size and its representative (it read
        # "representative episode 46 of 1")
        await settle(pilot)
        c = screen._shown[0]
        n = f"{c.size} episode{'' if c.size == 1 else 's'}"
        assert (f"cluster of {n}; representative: episode {c.representative}"
                in str(screen.query_one("#fail-why").render()))
        await wait_for(pilot, lambda: {e for e, _via in _views(path)} == members, timeout=10)
        # moving over an episode already viewed from this screen adds no second row
        await pilot.press("2")
        await settle(pilot)
        assert len(_views(path)) == len(members)


async def test_label_key_on_tasks_overrides_the_class(fx):
    path, ids = fx
    app = app_for(path)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("b", "down", "c", "enter")
        await settle(pilot)
        tasks = app.screen
        assert isinstance(tasks, TasksScreen)
        await wait_for(pilot, lambda: tasks.failure_classes)
        tasks.query_one(LineTable).move_to([r.task_id for r in tasks.shown].index("2"))
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, LabelScreen)
        app.screen.query_one(Input).value = "under_inspection read nothing first"
        await pilot.press("enter")
        await settle(pilot)
        await wait_for(pilot, lambda: tasks.failure_classes.get(ids["episodes"][("cand", "2")], [""])[0]
                       == "under_inspection")
        row = connect(path).execute("SELECT label, note, kind FROM labels").fetchone()
        assert tuple(row) == ("under_inspection", "read nothing first", "failure_class")
        # the class filter (c) keeps only the labelled task
        for _ in range(8):
            if tasks.class_filter == "under_inspection":
                break
            await pilot.press("c")
        assert [r.task_id for r in tasks.shown] == ["2"]


async def test_label_key_on_compare_rejects_at_a_step(fx):
    path, ids = fx
    app = app_for(path)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.open_compare(ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")])
        await settle(pilot)
        cmp = app.screen
        assert "B fails at step 8 · unconfirmed_write" in str(cmp.query_one("#cmp-title").render())
        await pilot.press("l")
        await settle(pilot)
        app.screen.query_one(Input).value = "-unconfirmed_write"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is cmp
        assert "B fails at step 8 · unconfirmed_write" not in str(cmp.query_one("#cmp-title").render())
        row = connect(path).execute("SELECT target_kind, kind, label FROM labels").fetchone()
        assert tuple(row) == ("step", "failure_class_reject", "unconfirmed_write")


async def test_label_dialog_refuses_an_unknown_class(fx):
    path, ids = fx
    app = app_for(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(LabelScreen(ids["episodes"][("cand", "2")], None, None))
        await settle(pilot)
        app.screen.query_one(Input).value = "no_such_class"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, LabelScreen)      # still open, nothing stored
        assert connect(path).execute("SELECT count(*) FROM labels").fetchone()[0] == 0


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_failures_snapshot(snap_compare, fx, size):
    path, _ = fx

    async def before(pilot):
        await open_failures(pilot)

    assert snap_compare(app_for(path), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_failures_episodes_snapshot(snap_compare, fx, size):
    path, _ = fx

    async def before(pilot):
        await open_failures(pilot)
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(app_for(path), terminal_size=size, run_before=before)


@pytest.fixture
def fly_demo(tmp_path, new_demo):
    return new_demo(tmp_path / "fly.sqlite")


async def test_flywheel_chart_view(fly_demo):
    d = fly_demo
    app = app_for(d["store"])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_failures(d["runs"]["baseline"])
        await settle(pilot)
        await pilot.press("4")
        screen = app.screen
        await wait_for(pilot, lambda: screen.flywheel_rows is not None and screen._shown)
        table = screen.query_one(LineTable)
        lines = [line_text(table, y) for y in range(1, len(screen._shown) + 1)]
        assert lines[0].startswith("versions") and "cross-order-v1" in lines[0]
        fixed = next(x for x in lines if x.startswith("fixed"))
        assert fixed.rstrip().endswith("0 7 0")
        assert any(x.startswith("missing_write") for x in lines)
        # which run each point is: the CLI's sentence (like with like, never a partial rerun)
        why = " ".join(str(screen.query_one("#fail-why").render()).split())
        assert "newest complete run on the same 56 mini-retail tasks, agent scripted" in why


async def test_flywheel_view_says_why_it_is_empty_as_the_cli_does(fx):
    """A store of imported runs only has failed episodes but no candidate version: the view
    says that (the CLI's sentence, from the same function), never `no failed episodes`."""
    path, _ = fx
    app = app_for(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_failures(pilot)
        screen = app.screen
        assert screen.n_failed > 0
        await pilot.press("4")
        await wait_for(pilot, lambda: screen.flywheel_rows is not None)
        await settle(pilot)
        table = screen.query_one(LineTable)
        assert line_text(table, 1).strip() == "no candidate versions yet"
        why = " ".join(str(screen.query_one("#fail-why").render()).split())
        assert "t2e candidate save FILE" in why and "t2e run --candidate NAME" in why
        from t2e_tui.analysis.flywheel import flywheel_chart

        assert why == "{}: {}".format(*flywheel_chart(connect(path))["empty"])
        await pilot.press("1")                 # the other views keep their own sentence
        assert screen.query_one(LineTable).empty == "no failed episodes"
