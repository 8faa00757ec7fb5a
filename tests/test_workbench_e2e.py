"""Pilot end-to-end: demo store -> edit -> save -> rerun (scripted) -> gate -> promote."""

from __future__ import annotations

import asyncio

import pytest
from tui_fixture import wait_for

from store import connect
from t2e_tui.ui.app import make_app

CANCELLED_RULE = ("- For cancelled orders, check the fulfillments for tracking numbers before "
                  "saying there is none.")


@pytest.fixture
def demo(tmp_path, new_demo):
    return new_demo(tmp_path / "demo.sqlite")


async def launcher_ready(pilot):
    """Wait for the rerun launcher and its plan; returns the launcher."""
    from t2e_tui.ui.screens.workbench_launcher import LauncherScreen

    await wait_for(pilot, lambda: isinstance(pilot.app.screen, LauncherScreen))
    launcher = pilot.app.screen
    await wait_for(pilot, lambda: launcher._plan is not None)
    return launcher


async def add_rule_and_save(pilot, editor, hypothesis: str) -> None:
    """Append CANCELLED_RULE in the editor and save it with `hypothesis`."""
    from textual.widgets import TextArea

    from t2e_tui.ui.screens.workbench_editor import HypothesisModal

    ta = editor.query_one(TextArea)
    ta.move_cursor(ta.document.end)
    ta.insert("\n" + CANCELLED_RULE)
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HypothesisModal))
    await pilot.press("tab")  # focus starts in the name field; the note is next
    await pilot.press(*hypothesis)
    await pilot.press("enter")
    await wait_for(pilot, lambda: editor.saved is not None)


def mark(app, demo, candidate: str) -> None:
    """Mark the demo's heldout baseline run and `candidate`'s run, as `b` and `c` do."""
    by = {c["name"]: c for c in demo["candidates"]}
    app.baseline_run = demo["runs"]["baseline"]
    app.candidate_run = by[candidate]["run_id"]


async def open_editor(pilot, parent: str):
    """Press `e` and wait for the editor; it edits `parent`. Returns the editor."""
    from t2e_tui.ui.screens.workbench_editor import EditorScreen

    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, EditorScreen))
    editor = pilot.app.screen
    assert editor.parent_name == parent
    return editor


async def test_edit_save_rerun_gate_promote(demo):
    from t2e_tui.ui.screens.workbench_gate import GateScreen

    store = demo["store"]
    by = {c["name"]: c for c in demo["candidates"]}
    app = make_app(store, load_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        mark(app, demo, "cross-order-v1")
        editor = await open_editor(pilot, "cross-order-v1")
        await add_rule_and_save(pilot, editor, "cancelled orders have tracking")
        saved = editor.saved
        assert saved.name == "cross-order-v2"
        await pilot.press("ctrl+r")
        launcher = await launcher_ready(pilot)
        assert launcher.form().tasks == "heldout"
        assert launcher.form().candidate == saved.name
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen))
        gate = app.screen
        await wait_for(pilot, lambda: gate.result is not None)
        assert gate.result.decision == "promote"
        assert str(gate.query_one("#gate-head").render()).startswith(" PROMOTE")
        await pilot.press("P")
        await wait_for(pilot, lambda: gate.human is not None)
    conn = connect(store)
    row = conn.execute(
        "SELECT g.candidate_hash, g.decision, h.decision FROM gate_decisions g JOIN "
        "human_decisions h USING (row_id) WHERE g.row_id = ?", (gate.result.row_id,)).fetchone()
    assert row == (saved.hash, "promote", "promote")
    parent = conn.execute("SELECT parent_hash FROM candidates WHERE candidate_hash = ?",
                          (saved.hash,)).fetchone()[0]
    assert parent == by["cross-order-v1"]["hash"]


async def test_promoting_against_the_verdict_asks_for_a_reason(demo):
    from textual.widgets import Static

    from t2e_tui.ui.screens.workbench_gate import ConfirmModal, GateScreen, ReasonModal

    by = {c["name"]: c for c in demo["candidates"]}
    app = make_app(demo["store"], load_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.baseline_run = demo["runs"]["baseline"]
        app.candidate_run = by["skip-confirm-v1"]["run_id"]
        await pilot.press("G")
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen)
                       and app.screen.result is not None)
        gate = app.screen
        assert gate.result.decision == "discard"
        assert gate.result.row_id == by["skip-confirm-v1"]["row"]  # reopening adds no row
        # check rows say what they count: tasks, episodes, or a metric value
        from textual.widgets import DataTable

        table = gate.query_one("#gate-checks", DataTable)
        cells = {str(row[0]): [str(x) for x in row[2:]] for row in
                 (table.get_row_at(i) for i in range(table.row_count))}
        assert cells["no_task_regressions"] == ["1 task at 1", "1 task 1→0", "1 task"]
        assert cells["no_max_steps"][:2] == ["0 episodes", "0 episodes"]
        from t2e_tui.ui.screens.compare import CompareScreen

        await pilot.press("enter")  # the first task behind a failed check
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        assert app.screen.a.task_id == "confirm-01"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is gate)
        # the demo's human already discarded: changing a recorded decision asks first
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "already has a human decision: discard" in str(
            app.screen.query(Static).first().render())
        await pilot.press("n")  # no: nothing recorded
        await wait_for(pilot, lambda: app.screen is gate)
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonModal))
        await pilot.press("escape")  # cancelled: nothing recorded
        await pilot.pause()
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonModal))
        await pilot.press(*"trust me")
        await pilot.press("enter")
        await wait_for(pilot, lambda: gate.human is not None and gate.human["override"])
        await pilot.press("D")  # discarding after the override keeps the override visible
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await wait_for(pilot, lambda: not gate.human["override"])
        assert "replaces an OVERRIDE promote (trust me)" in str(
            gate.query_one("#gate-human").render())
    conn = connect(demo["store"])
    rows = conn.execute("SELECT decision, override, reason FROM human_decisions WHERE row_id = ?"
                        " ORDER BY decision_id", (gate.result.row_id,)).fetchall()
    assert rows == [("discard", 0, None), ("promote", 1, "trust me"), ("discard", 0, None)]
    # no new gate row: the demo's three (two heldout verdicts and the transfer one) only
    assert conn.execute("SELECT count(*) FROM gate_decisions").fetchone()[0] == 3


async def test_rerun_from_filtered_tasks_uses_those_tasks(demo):
    by = {c["name"]: c for c in demo["candidates"]}
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_tasks(demo["runs"]["baseline"], by["cross-order-v1"]["run_id"])
        await wait_for(pilot, lambda: getattr(app.screen, "loaded", False))
        tasks = app.screen
        tasks.action_filter("fixed")
        await pilot.pause()
        fixed = tasks.visible_task_ids()
        assert len(fixed) == 7
        await pilot.press("R")
        launcher = await launcher_ready(pilot)
        assert launcher._plan.task_ids == fixed
        assert launcher.form().candidate == "cross-order-v1"


async def test_editing_the_packaged_baseline_in_an_empty_store(tmp_path, monkeypatch):
    from textual.widgets import TextArea

    from t2e_tui.ui.screens.workbench_editor import EditorScreen, HypothesisModal

    monkeypatch.chdir(tmp_path)
    store = tmp_path / "empty.sqlite"
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
        editor = app.screen
        assert editor.parent_hash is None and editor.parent_name == "baseline"
        await pilot.press("ctrl+s")  # unchanged: refused, no modal
        await pilot.pause()
        assert app.screen is editor
        editor.query_one(TextArea).insert("- Be [bold]kind[/bold].\n", (0, 0))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, HypothesisModal))
        await pilot.press("enter")  # an empty hypothesis is refused in the modal
        await pilot.pause()
        assert isinstance(app.screen, HypothesisModal)
        await pilot.press(*"kindness")
        await pilot.press("enter")
        await wait_for(pilot, lambda: editor.saved is not None)
    conn = connect(store)
    rows = conn.execute("SELECT name, parent_hash IS NULL, path FROM candidates "
                        "ORDER BY saved_at").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("baseline", 1), ("baseline-v2", 0)]
    assert (tmp_path / "candidates" / "baseline-v2.md").read_text().count("[bold]kind") == 1


async def test_external_editor_round_trip(demo, tmp_path, monkeypatch):
    import contextlib
    import shlex
    import sys

    from textual.widgets import TextArea

    from t2e_tui.ui.screens.workbench_editor import EditorScreen

    # a tiny "editor": appends a rule line and an escape sequence to the file it is given
    script = tmp_path / "ed.py"
    script.write_text("import sys\np = sys.argv[1]\nopen(p, 'a').write('\\n- Added in $EDITOR."
                      "\\x1b[31m')\n")
    monkeypatch.setenv("VISUAL", f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}")
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    suspended = []

    @contextlib.contextmanager
    def fake_suspend():  # headless drivers can't suspend; the real one is used in a terminal
        suspended.append(True)
        yield

    monkeypatch.setattr(app, "suspend", fake_suspend)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
        await pilot.press("f4")
        await pilot.pause()
        text = app.screen.query_one(TextArea).text
    assert suspended == [True]
    assert text.rstrip().endswith("- Added in $EDITOR.")  # control sequence stripped


async def test_gate_screen_explains_a_refused_pair_and_launcher_warns_first(demo):
    from textual.widgets import Input

    from t2e_tui.ui.screens.workbench_gate import GateScreen
    from t2e_tui.ui.screens.workbench_launcher import LauncherScreen

    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        app.baseline_run = demo["runs"]["baseline"]       # heldout tasks
        app.candidate_run = demo["runs"]["baseline-train"]  # train tasks
        await pilot.press("G")
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen)
                       and "refuses" in str(app.screen.query_one("#gate-verdict").render()))
        await pilot.press("escape")
        launcher = LauncherScreen(candidate="cross-order-v1", baseline_run=demo["runs"]["baseline"])
        app.push_screen(launcher)
        await wait_for(pilot, lambda: launcher._plan is not None)
        assert "differ" not in str(launcher.query_one("#lf-warning").render())
        assert "not a registered heldout set" not in str(
            launcher.query_one("#lf-warning").render())   # the demo registered its heldout
        launcher.query_one("#lf-tasks", Input).value = "dev"
        await wait_for(pilot, lambda: "differ from the baseline" in
                       str(launcher.query_one("#lf-warning").render()))
        # a heldout claim on tasks that are no registered set is said up front (#10)
        assert "not a registered heldout set" in str(launcher.query_one("#lf-warning").render())


async def test_rerun_on_filtered_tasks_is_gated_on_the_shared_tasks(demo):
    """Review item 1: filtered tasks -> rerun -> gate used to crash the app (different task
    sets). A rerun on a subset of the baseline's tasks is gated on the shared tasks, labelled."""
    from t2e_tui.ui.screens.workbench_gate import GateScreen

    by = {c["name"]: c for c in demo["candidates"]}
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_tasks(demo["runs"]["baseline"], by["cross-order-v1"]["run_id"])
        await wait_for(pilot, lambda: getattr(app.screen, "loaded", False))
        app.screen.action_filter("fixed")
        await pilot.pause()
        fixed = app.screen.visible_task_ids()
        await pilot.press("R")
        launcher = await launcher_ready(pilot)
        assert "judge only these shared tasks" in str(launcher.query_one("#lf-warning").render())
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen)
                       and app.screen.refusal is not None)
        gate = app.screen
        await pilot.press("i")   # the person asks for the shared tasks (= --intersect)
        await wait_for(pilot, lambda: gate.result is not None)
        assert gate.result.comparison.intersected
        assert gate.result.evidence_role == "development"   # chosen by outcome
        assert gate.result.comparison.task_ids == fixed
        verdict = str(gate.query_one("#gate-verdict").render())
        assert f"restricted to the {len(fixed)} shared tasks" in verdict
        rerun = launcher.run_id
    assert app.return_code in (None, 0)
    conn = connect(demo["store"])
    row = conn.execute("SELECT intersected FROM gate_decisions WHERE candidate_run_id = ?",
                       (rerun,)).fetchone()
    assert row == (1,)


async def test_review_path_filter_edit_save_rerun_gate(demo):
    """The review's reproduction, key by key: 3 (Fixed filter) on the tasks screen, e, edit,
    save, ctrl+r, ctrl+l. The 7-task rerun is gated on those tasks; the app keeps running."""
    from t2e_tui.ui.screens.workbench_editor import EditorScreen
    from t2e_tui.ui.screens.workbench_gate import GateScreen

    by = {c["name"]: c for c in demo["candidates"]}
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_tasks(demo["runs"]["baseline"], by["cross-order-v1"]["run_id"])
        await wait_for(pilot, lambda: getattr(app.screen, "loaded", False))
        tasks = app.screen
        await pilot.press("3")
        await wait_for(pilot, lambda: len(tasks.visible_task_ids()) == 7)
        fixed = tasks.visible_task_ids()
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
        editor = app.screen
        await add_rule_and_save(pilot, editor, "tracking")
        await pilot.press("ctrl+r")
        launcher = await launcher_ready(pilot)
        assert launcher._plan.task_ids == fixed
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen)
                       and (app.screen.result is not None or app.screen.refusal is not None))
        gate = app.screen
        assert "--intersect" in gate.refusal   # the same refusal as `t2e gate`
        await pilot.press("i")
        await wait_for(pilot, lambda: gate.result is not None)
        assert gate.result.comparison.task_ids == fixed and gate.result.comparison.intersected
        assert "restricted to the 7 shared tasks" in str(gate.query_one("#gate-verdict").render())
    assert app.return_code in (None, 0)


async def _rerun(store, tasks: str, name: str) -> str:
    """A scripted heldout rerun of cross-order-v1 on `tasks` (outside the app)."""
    from pathlib import Path

    from t2e_tui.demo import demo_candidates_dir
    from t2e_tui.engine import execute_run
    from t2e_tui.engine.plan import plan_run

    conn = connect(store)
    try:
        plan = plan_run(domain="mini-retail", candidate="cross-order-v1",
                        candidates_dir=str(demo_candidates_dir(Path(store))), tasks=tasks,
                        trials=1, concurrency=2, model="scripted", user="scripted", name=name,
                        role="heldout", store_conn=conn)
    finally:
        conn.close()
    return (await asyncio.to_thread(execute_run, plan, str(store))).run_id


async def _mark_and_gate(app, pilot, baseline: str, candidate: str):
    """On the runs screen: b on the baseline row, c on the candidate row, then G."""
    from t2e_tui.ui.widgets.linetable import LineTable

    runs = app.screen
    await wait_for(pilot, lambda: bool(getattr(runs, "runs", None)))
    ids = [r.run_id for r in runs.runs]
    table = runs.query_one(LineTable)
    table.move_to(ids.index(baseline))
    await pilot.press("b")
    table.move_to(ids.index(candidate))
    await pilot.press("c")
    assert (app.baseline_run, app.candidate_run) == (baseline, candidate)
    await pilot.press("G")


async def test_b_c_G_on_a_subset_run_gates_the_shared_tasks(demo):
    from t2e_tui.ui.screens.workbench_gate import GateScreen

    subset = "crossorder-01,crossorder-02,crossorder-05"
    sub = await _rerun(demo["store"], subset, "cross-order-v1 subset")
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await _mark_and_gate(app, pilot, demo["runs"]["baseline"], sub)
        # refused like `t2e gate` without --intersect; `i` asks for the shared tasks
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen)
                       and app.screen.refusal is not None)
        gate = app.screen
        assert "i gates on the 3 task(s)" in str(gate.query_one("#gate-verdict").render())
        await pilot.press("i")
        await wait_for(pilot, lambda: gate.result is not None)
        assert gate.result.comparison.task_ids == subset.split(",")
        assert "restricted to the 3 shared tasks" in str(gate.query_one("#gate-verdict").render())
        assert any("restricted to the 3 tasks both runs share" in w
                   for w in gate.result.warnings)
        # deciding on evidence that is not clean heldout asks first
        from textual.widgets import Static

        from t2e_tui.ui.screens.workbench_gate import ConfirmModal

        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "This evidence is development, not clean heldout" in str(
            app.screen.query(Static).first().render())
        await pilot.press("y")
        await wait_for(pilot, lambda: gate.human is not None)
    conn = connect(demo["store"])
    author = conn.execute("SELECT author FROM human_decisions WHERE row_id = ?",
                          (gate.result.row_id,)).fetchone()[0]
    conn.close()
    import os

    assert author == os.environ.get("USER")   # the same author as `t2e decide`


async def test_partly_overlapping_runs_are_refused_readably_then_i_intersects(demo):
    from t2e_tui.ui.screens.workbench_gate import GateScreen

    # two heldout tasks the baseline ran plus one train task it did not
    conn = connect(demo["store"])
    train = conn.execute("SELECT task_id FROM episodes WHERE run_id = ? ORDER BY task_id "
                         "LIMIT 1", (demo["runs"]["baseline-train"],)).fetchone()[0]
    conn.close()
    mixed = await _rerun(demo["store"], f"crossorder-01,crossorder-02,{train}", "mixed")
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await _mark_and_gate(app, pilot, demo["runs"]["baseline"], mixed)
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen)
                       and app.screen.refusal is not None)
        gate = app.screen
        verdict = str(gate.query_one("#gate-verdict").render())
        assert "refuses this pair" in verdict and "different task sets" in verdict
        assert "i gates on the 2 task(s)" in verdict
        assert gate.result is None
        await pilot.press("i")
        await wait_for(pilot, lambda: gate.result is not None)
        assert gate.result.comparison.intersected
        assert gate.result.comparison.only_candidate == [train]
        assert "restricted to the 2 shared tasks" in str(gate.query_one("#gate-verdict").render())
    assert app.return_code in (None, 0)


async def test_an_unexpected_gate_failure_is_shown_not_raised(demo, monkeypatch):
    from t2e_tui import gate as gate_mod
    from t2e_tui.ui.screens.workbench_gate import GateScreen

    def broken(*a, **kw):
        raise ValueError("disk on fire")

    monkeypatch.setattr(gate_mod, "gate", broken)
    by = {c["name"]: c for c in demo["candidates"]}
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        app.baseline_run = demo["runs"]["baseline"]
        app.candidate_run = by["cross-order-v1"]["run_id"]
        await pilot.press("G")
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen)
                       and app.screen.refusal is not None)
        verdict = str(app.screen.query_one("#gate-verdict").render())
        assert "the gate failed: ValueError: disk on fire" in verdict
        await pilot.press("P")  # no result: nothing to decide, nothing raised
        await pilot.pause()
    assert app.return_code in (None, 0)
