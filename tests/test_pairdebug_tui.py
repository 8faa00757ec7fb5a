"""Pair-debugging in the app (#14): deep links (CLI and the copy key), rerun this task from
the compare screen and a task row, fork at the selected step. Pilot tests at 80x24."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from tui_fixture import build_store, settle, wait_for

import store
from store.queries import resolve_episode
from t2e_tui.cli.main import cli
from t2e_tui.links import compare_link, resolve_link
from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.compare import CompareScreen
from t2e_tui.ui.screens.pairdebug_dialogs import ForkDialog, LinkDialog, RerunTaskDialog
from t2e_tui.ui.screens.task_rerun import TaskRerunScreen, outcome_strip
from t2e_tui.ui.widgets.lanes import AlignedLanes


@pytest.fixture
def fx(tmp_path):
    path = tmp_path / "fx.sqlite"
    return path, build_store(path)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory, demo_template):
    from demo_store import copy_demo

    return copy_demo(demo_template, tmp_path_factory.mktemp("pdemo") / "demo.sqlite")["store"]


def _run_id(path, name: str) -> str:
    conn = store.connect(path)
    try:
        return conn.execute("SELECT run_id FROM runs WHERE name = ?", (name,)).fetchone()[0]
    finally:
        conn.close()


# ------------------------------------------------------------------ deep links

def test_open_link_resolves_before_the_app_starts(fx, monkeypatch):
    path, ids = fx
    started = []
    import t2e_tui.cli.app as cli_app
    import t2e_tui.ui.app as ui_app

    monkeypatch.setattr(cli_app, "not_a_terminal", lambda: None)  # as if in a terminal
    monkeypatch.setattr(ui_app, "make_app", lambda p, start=None, session=None:
                        started.append(start) or
                        type("A", (), {"run": lambda self: None, "session_link": None})())
    r = CliRunner().invoke(cli, ["--store", str(path), "open", "runb:2", "--vs",
                                 "candidate:2:0", "--step", "3"])
    assert r.exit_code == 0, r.output
    a, b = ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")]
    # the step, and the episode it is of (`--step B3` would name b)
    assert started == [("compare", str(a), str(b), "3", str(a))]


@pytest.mark.parametrize("args,msg", [
    (["run:2"], "ambiguous"),                      # runbase, runcand, runscript, runlive
    (["runbase:2", "--vs", "nosuch:2"], "no run matches 'nosuch'"),
    (["runbase:99"], "has no task '99'"),
    (["--vs", "runbase:2"], "need an episode reference"),
    # a step neither episode has: the app's `:` words, before the app (it opened at step 0)
    (["runbase:2", "--vs", "candidate:2:0", "--step", "999"], "no step 999 in A or B"),
    (["runbase:2", "--vs", "candidate:2:0", "--step", "B999"], "no step 999 in A or B"),
    (["runbase:2", "--step", "999"], "no step 999 in A"),
])
def test_a_bad_link_is_one_line_exit_2_and_no_app(fx, monkeypatch, args, msg):
    path, _ = fx
    import t2e_tui.ui.app as ui_app

    monkeypatch.setattr(ui_app, "make_app", lambda *a, **k: pytest.fail("the app started"))
    r = CliRunner().invoke(cli, ["--store", str(path), "open", *args])
    assert r.exit_code == 2 and msg in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_open_step_only_b_has_lands_on_b_as_the_colon_prompt_does(fx, monkeypatch):
    """`--step 13`, a step only the --vs episode has (12 steps against 15): B's, as `:`
    goes there; the link named A's step 13 and the app opened at the first divergence."""
    path, ids = fx
    started = []
    import t2e_tui.cli.app as cli_app
    import t2e_tui.ui.app as ui_app

    monkeypatch.setattr(cli_app, "not_a_terminal", lambda: None)
    monkeypatch.setattr(ui_app, "make_app", lambda p, start=None, session=None:
                        started.append(start) or
                        type("A", (), {"run": lambda self: None, "session_link": None})())
    r = CliRunner().invoke(cli, ["--store", str(path), "open", "runbase:2", "--vs",
                                 "candidate:2:0", "--step", "13"])
    assert r.exit_code == 0, r.output
    a, b = ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")]
    assert started == [("compare", str(a), str(b), "13", str(b))]


def test_links_round_trip_through_prefixes(fx):
    path, ids = fx
    conn = store.connect(path)
    a, b = ids["episodes"][("base", "3")], ids["episodes"][("cand", "3")]
    link = compare_link(conn, a, b, 4)
    assert link == "t2e open runbase:3:0 --vs runcand:3:0 --step 4"
    parts = link.split()
    assert resolve_link(conn, parts[2], parts[4]) == (a, b)
    assert resolve_episode(conn, "runc:3") == b  # an id prefix, as `t2e show` takes it


async def test_deep_link_opens_at_the_step_and_y_copies_it(fx, monkeypatch):
    path, ids = fx
    a, b = ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")]
    copied = []
    app = make_app(path, load_config=False, poll_interval=0, start=("compare", str(a), str(b),
                                                                    "6"))
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        row = screen.alignment.rows[screen.query_one(AlignedLanes).cursor]
        assert 6 in (row.a.step_idx, row.a.result_idx)
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, LinkDialog))
        expected = f"t2e open runbase:2:0 --vs runcand:2:0 --step {row.a.step_idx}"
        assert copied == [expected] and app.screen.link == expected
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


# ------------------------------------------------------------------ rerun this task

async def test_rerun_task_from_the_compare_screen(demo_store):
    base = _run_id(demo_store, "baseline heldout")
    cand = _run_id(demo_store, "cross-order-v1 heldout")
    conn = store.connect(demo_store)
    a = resolve_episode(conn, f"{base}:crossorder-01")
    b = resolve_episode(conn, f"{cand}:crossorder-01")
    conn.close()
    app = make_app(demo_store, load_config=False, poll_interval=0, start=("compare", str(a),
                                                                          str(b)))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        compare = app.screen
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RerunTaskDialog))
        await pilot.press("backspace", "2", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TaskRerunScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.finished and screen._timer is None)
        assert screen.error is None
        assert [(r["side"], r["trial"], r["done"]) for r in screen.rows] == [
            ("A", 0, True), ("A", 1, True), ("B", 0, True), ("B", 1, True)]
        strip = str(screen.query_one("#rerun-strip").render())
        assert strip.startswith("A ") and "B " in strip and "flip A" in strip
        assert screen.first_step_at is not None
        conn = store.connect(demo_store)
        runs = conn.execute("SELECT role, manifest_json FROM runs WHERE run_id IN (?, ?)",
                            screen.run_ids).fetchall()
        conn.close()
        assert [r[0] for r in runs] == ["development", "development"]
        sel = [json.loads(r[1])["task_selection"] for r in runs]
        assert all(s["by"] == "task-rerun" and s["task"] == "crossorder-01" for s in sel)
        # the live tail showed the reruns' newest steps word for word: evidence views of them
        from t2e_tui.ui_queries import rerun_progress

        conn = store.connect(demo_store)
        shown = {t[0] for t in rerun_progress(conn, list(screen.run_ids), 5)[1]}
        await wait_for(pilot, lambda: shown <= {r[0] for r in conn.execute(
            "SELECT episode_id FROM evidence_views WHERE via = 'tui-rerun'")}, timeout=10)
        conn.close()
        # any trial opens in the lanes, against the other side's same trial
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                       and app.screen is not compare)
        assert app.screen.episode_a == screen.rows[1]["episode_id"]
        assert app.screen.episode_b == screen.rows[3]["episode_id"]


async def test_rerun_keeps_a_and_b_as_on_the_compare_screen(demo_store):
    """A is the baseline and B the candidate on the compare screen: the dialog, the rerun
    screen and a trial opened from it say and show them the same way round."""
    from tui_fixture import screen_lines

    from t2e_tui.ui_queries import run_candidate_hash

    base = _run_id(demo_store, "baseline heldout")
    cand = _run_id(demo_store, "cross-order-v1 heldout")
    conn = store.connect(demo_store)
    a = resolve_episode(conn, f"{base}:crossorder-01")
    b = resolve_episode(conn, f"{cand}:crossorder-01")
    hashes = {run_candidate_hash(conn, base): "A", run_candidate_hash(conn, cand): "B"}
    conn.close()
    app = make_app(demo_store, load_config=False, poll_interval=0, start=("compare", str(a),
                                                                          str(b)))
    app.baseline_run, app.candidate_run = base, cand
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        compare = app.screen
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RerunTaskDialog))
        await settle(pilot)
        said = [ln.strip(" │") for ln in screen_lines(app)]
        a_at = next(i for i, ln in enumerate(said) if ln.startswith("A: "))
        b_at = next(i for i, ln in enumerate(said) if ln.startswith("B: "))
        assert said[a_at].startswith("A: baseline") and "candidate" in said[b_at], said
        assert a_at < b_at
        await pilot.press("backspace", "1", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TaskRerunScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.finished and screen._timer is None)
        assert screen.error is None
        head = str(screen.query_one("#rerun-title").render()).splitlines()[0]
        assert "A baseline · B cross-order-v1" in head, head
        conn = store.connect(demo_store)
        sides = {side: hashes[run_candidate_hash(conn, rid)]
                 for side, rid in zip("AB", screen.run_ids, strict=True)}
        conn.close()
        assert sides == {"A": "A", "B": "B"}  # each side reran its own candidate
        await pilot.press("enter")   # trial 0 of A: A on the left, B's trial 0 on the right
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                       and app.screen is not compare)
        opened = app.screen
        assert opened.episode_a == next(r["episode_id"] for r in screen.rows
                                        if r["side"] == "A")
        assert opened.episode_b == next(r["episode_id"] for r in screen.rows
                                        if r["side"] == "B")
        conn = store.connect(demo_store)
        run_of = dict(conn.execute("SELECT episode_id, run_id FROM episodes WHERE episode_id "
                                   "IN (?, ?)", (opened.episode_a, opened.episode_b)))
        conn.close()
        assert run_of[opened.episode_a] == screen.run_ids[0]
        assert run_of[opened.episode_b] == screen.run_ids[1]


def test_outcome_strip_and_flip_rate():
    t = outcome_strip([("A", [True, True, False]), ("B", [True, None, True])])
    assert t.plain == "A ✓✓✗  B ✓·✓  flip A 0.67  flip B 0.00"


async def test_rerun_from_a_task_row_asks_first(demo_store):
    base = _run_id(demo_store, "baseline heldout")
    app = make_app(demo_store, load_config=False, poll_interval=0, start=("tasks", base))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RerunTaskDialog))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, RerunTaskDialog))


# ------------------------------------------------------------------ fork from the lanes

async def test_fork_at_the_selected_step_opens_parent_vs_fork(demo_store):
    base = _run_id(demo_store, "baseline heldout")
    conn = store.connect(demo_store)
    a = resolve_episode(conn, f"{base}:auth-02")
    conn.close()
    app = make_app(demo_store, load_config=False, poll_interval=0,
                   start=("compare", str(a), "", "4"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        parent_screen = app.screen
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, ForkDialog))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                       and app.screen is not parent_screen and app.screen.b is not None)
        fork_id = app.screen.episode_b
        assert app.screen.episode_a == a
    conn = store.connect(demo_store)
    row = conn.execute("SELECT forked_from_episode, forked_at_step FROM episodes WHERE "
                       "episode_id = ?", (fork_id,)).fetchone()
    conn.close()
    assert row == (a, 4)


# ------------------------------------------------------------------ notes and the journal

def test_journal_gathers_notes_reruns_and_forks_sanitised(demo_store, tmp_path):
    from tui_fixture import HOSTILE

    base = _run_id(demo_store, "baseline heldout")
    run = CliRunner().invoke
    s = ["--store", str(demo_store)]
    assert run(cli, [*s, "fork", f"{base}:auth-08", "--at", "3"]).exit_code == 0
    assert run(cli, [*s, "note", f"{base}:auth-08", f"step note {HOSTILE} <img src=x>",
                     "--step", "2"]).exit_code == 0
    assert run(cli, [*s, "note", "--task", "auth-08", "| a | pipe\n# not a heading"]
               ).exit_code == 0
    out = tmp_path / "j.md"
    r = run(cli, [*s, "journal", "auth-08", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert text.startswith("# Journal: task auth-08")
    assert "\x1b" not in text and "\x07" not in text
    assert "<img" not in text and "&lt;img src=x&gt;" in text
    assert "\\[bold red\\]not markup\\[/\\]" in text
    assert "\\| a \\| pipe # not a heading" in text          # one line, pipes escaped
    assert "## Forks" in text and "| 3 |" in text                 # the fork at step 3
    assert "scripted stand-in" in text
    assert "## Noted steps" in text


def test_journal_bad_input_is_one_line_and_writes_nothing(demo_store, tmp_path):
    out = tmp_path / "j.md"
    r = CliRunner().invoke(cli, ["--store", str(demo_store), "journal", "no-such-task", "-o",
                                 str(out)])
    assert r.exit_code == 2 and "is in no run of this store" in r.output and not out.exists()
    r = CliRunner().invoke(cli, ["--store", str(demo_store), "note", "--task", "x", "  "])
    assert r.exit_code == 2 and "cannot be empty" in r.output


async def test_a_note_on_a_step_is_stored_and_marked_in_the_lanes(fx):
    from tui_fixture import HOSTILE

    from store.notes import notes_for
    from t2e_tui.ui.screens.pairdebug_dialogs import NoteDialog

    path, ids = fx
    a, b = ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")]
    app = make_app(path, load_config=False, poll_interval=0, start=("compare", str(a), str(b),
                                                                    "4"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        lanes = screen.query_one(AlignedLanes)
        assert lanes.noted == set()
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteDialog))
        app.screen.query_one("#text").value = "asks twice " + HOSTILE
        await pilot.press("enter")
        await wait_for(pilot, lambda: ("a", 4) in lanes.noted)
        line = "".join(seg.text for seg in lanes.render_line(lanes.cursor + 1 -
                                                             lanes.scroll_offset.y))
        assert "✎" in line
    conn = store.connect(path)
    notes = notes_for(conn, [("step", f"{a}:4")])
    conn.close()
    assert [n["text"] for n in notes] == ["asks twice " + HOSTILE]


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_task_rerun_snapshot(snap_compare, tmp_path, new_demo, size):
    """The finished rerun screen (seeded plans, fixed clock: nothing moves between runs)."""
    from t2e_tui.engine.task_rerun import plan_task_rerun

    path = new_demo(tmp_path / "demo.sqlite")["store"]
    base = _run_id(path, "baseline heldout")
    conn = store.connect(path)
    eid = resolve_episode(conn, f"{base}:crossorder-01")
    plans = plan_task_rerun(conn, eid, draft="cross-order-v1", baseline="baseline", trials=3,
                            seed=7)
    conn.close()
    app = make_app(path, load_config=False, poll_interval=0, clock=lambda: 0.0)

    async def before(pilot):
        await settle(pilot)
        screen = TaskRerunScreen("crossorder-01", eid, ("baseline", "cross-order-v1"), plans)
        pilot.app.push_screen(screen)
        await wait_for(pilot, lambda: screen.finished_at is not None)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=before)


async def test_a_refused_rerun_says_the_message_not_the_error_class(fx):
    """Planning a rerun of an imported run's task is refused (no world of ours holds it): the
    notice says why, in the words a user acts on, never an internal class name."""
    path, ids = fx
    a, b = ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")]
    app = make_app(path, load_config=False, poll_interval=0, start=("compare", str(a), str(b),
                                                                    "4"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: any("rerun" in n.message for n in app._notifications))
        (msg,) = [n.message for n in app._notifications if "rerun" in n.message]
        assert msg.startswith("preparing the rerun failed: run runbase was imported: its task "
                              "can't be rerun here"), msg
        assert "Error" not in msg


def test_error_text_names_the_class_only_of_an_unexpected_error():
    from store import StoreError
    from t2e_tui.errors import T2EError, error_text
    from world.errors import WorldError

    for exc in (T2EError("no such run"), StoreError("no such run"), WorldError("no such run")):
        assert error_text(exc) == "no such run"
    assert error_text(ValueError("disk on fire")) == "ValueError: disk on fire"
