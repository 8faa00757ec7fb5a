"""The rerun launcher: refusals before anything runs, the leakage warning, the estimate,
cancel and resume."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest
from textual.widgets import Input
from tui_fixture import wait_for

from store import connect
from t2e_tui.candidate_versions import ensure_recorded, save_version
from t2e_tui.candidates import Candidate, packaged_baseline
from t2e_tui.ui.app import make_app


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "s.sqlite"
    conn = connect(path)
    base = packaged_baseline()
    save_version(conn, base, hypothesis="baseline", candidates_dir=tmp_path / "cands",
                 name="baseline")
    conn.close()
    return path


def n_runs(path) -> int:
    return connect(path).execute("SELECT count(*) FROM runs").fetchone()[0]


async def open_launcher(app, pilot, **kw):
    from t2e_tui.ui.screens.workbench_launcher import LauncherScreen

    screen = LauncherScreen(**kw)
    app.push_screen(screen)
    await wait_for(pilot, lambda: screen.is_mounted)
    # the first estimate runs after the first refresh: a plan or a refusal
    await wait_for(pilot, lambda: screen._plan is not None
                   or str(screen.query_one("#lf-refusal").render()))
    return screen


async def set_field(pilot, screen, field, value):
    field_input = screen.query_one(f"#lf-{field}", Input)
    # a changed value posts Input.Changed, which starts a new estimate in a worker: wait
    # until that one has landed (an unchanged value asks for no new estimate)
    before = screen._est_gen + (field_input.value != value)
    field_input.value = value
    await wait_for(pilot, lambda: screen._est_gen >= before and not screen.estimating)


@pytest.mark.parametrize("field,value,expect", [
    ("tasks", "nosuch-1,nosuch-2", "nosuch-1"),
    ("model", "openai:gpt-4o", "no endpoint"),
    ("trials", "0", "at least 1"),
    ("baseline", "zzzzzz", "no such run"),
])
async def test_refusals_before_anything_runs(store, field, value, expect):
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_launcher(app, pilot, candidate="baseline")
        assert "episodes" in str(screen.query_one("#lf-estimate").render())
        await set_field(pilot, screen, field, value)
        assert expect in str(screen.query_one("#lf-refusal").render())
        before = screen._est_gen
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: screen._est_gen > before and not screen.estimating)
        assert screen.status is None
    assert n_runs(store) == 0


async def test_missing_api_key_and_empty_candidate_are_refused(store, tmp_path, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[endpoints.openai]\nbase_url = "http://127.0.0.1:9/v1"\n'
                   'api_key_env = "T2E_TEST_NO_SUCH_KEY"\n')
    monkeypatch.setenv("T2E_CONFIG", str(cfg))
    monkeypatch.delenv("T2E_TEST_NO_SUCH_KEY", raising=False)
    empty = tmp_path / "empty.md"
    empty.write_text("---\nname: empty\n---\n\n")
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_launcher(app, pilot, candidate="baseline")
        await set_field(pilot, screen, "model", "openai:gpt-4o")
        assert "T2E_TEST_NO_SUCH_KEY" in str(screen.query_one("#lf-refusal").render())
        await set_field(pilot, screen, "model", "scripted")
        await set_field(pilot, screen, "candidate", str(empty))
        assert "empty" in str(screen.query_one("#lf-refusal").render())
    assert n_runs(store) == 0


def _viewed_while_drafting(store, tmp_path, task_ids) -> Any:
    """The baseline recorded, then views of `task_ids` (mini-retail), then a child of the
    baseline saved: the child's drafting window holds the views. Returns the child version."""
    conn = connect(store)
    base = ensure_recorded(conn, "baseline")
    time.sleep(0.01)
    for tid in task_ids:
        conn.execute("INSERT INTO evidence_views (domain, task_id, viewed_at, via) VALUES "
                     "('mini-retail', ?, strftime('%Y-%m-%dT%H:%M:%f+00:00'), 'tui')", (tid,))
    time.sleep(0.01)
    child = save_version(conn, Candidate(name="child", body=base.body + "\n- Be brief."),
                         hypothesis="h", parent_ref=base.hash,
                         candidates_dir=tmp_path / "cands").version
    conn.close()
    return child


async def test_leakage_warning_lists_tasks_viewed_while_drafting(store, tmp_path):
    child = _viewed_while_drafting(store, tmp_path, ["crossorder-01"])
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_launcher(app, pilot, candidate=child.name)
        warn = str(screen.query_one("#lf-warning").render())
        assert "leakage" in warn and "crossorder-01" in warn
        await set_field(pilot, screen, "tasks", "dev")
        assert "leakage" not in str(screen.query_one("#lf-warning").render())


def hold_episodes_after(monkeypatch, first: int) -> threading.Event:
    """Let a run's first `first` episodes play, then hold every other one (awaiting, as a model
    call would) until the returned event is set: a ctrl+c lands mid-run at any speed, where a
    run had to be long enough for the keypress to beat it."""
    from t2e_tui.engine import engine as engine_mod

    release = threading.Event()
    real = engine_mod._play_one
    started = [0]

    async def held(*args, **kw):
        started[0] += 1
        while started[0] > first and not release.is_set():
            await asyncio.sleep(0.01)
        return await real(*args, **kw)

    monkeypatch.setattr(engine_mod, "_play_one", held)
    return release


@pytest.mark.slow
async def test_estimate_cancel_and_resume(store, monkeypatch):
    from t2e_tui.ui.screens.workbench_launcher import LauncherScreen

    release = hold_episodes_after(monkeypatch, 4)
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_launcher(app, pilot, candidate="baseline")
        await set_field(pilot, screen, "tasks", "heldout")
        await set_field(pilot, screen, "trials", "2")
        est = str(screen.query_one("#lf-estimate").render())
        n = len(screen._plan.task_ids) * 2
        assert f"{n} episodes" in est
        await pilot.press("ctrl+l")
        bar = screen.query_one("#lf-progress")
        await wait_for(pilot, lambda: (bar.progress or 0) >= 1)
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: screen.status not in (None, "running"))
        assert screen.status == "interrupted"
        run_id = screen.run_id
        conn = connect(store)
        done = conn.execute("SELECT count(*) FROM episodes WHERE run_id = ? AND status='done'",
                            (run_id,)).fetchone()[0]
        assert 0 < done < n
        assert conn.execute("SELECT status FROM runs WHERE run_id = ?",
                            (run_id,)).fetchone()[0] == "interrupted"
        release.set()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.status not in (None, "running", "interrupted"),
                       timeout=120)
        assert screen.status == "complete" and screen.run_id == run_id
        assert conn.execute("SELECT count(*) FROM episodes WHERE run_id = ?",
                            (run_id,)).fetchone()[0] == n
        assert isinstance(app.screen, LauncherScreen)  # no baseline run: no gate to show


@pytest.fixture
def demo(tmp_path, new_demo):
    return new_demo(tmp_path / "demo.sqlite")  # outside the app's event loop


async def rerun_from_fixed_filter(pilot, baseline: str, candidate: str):
    """Tasks screen of the pair, 3 (Fixed), then the rerun launcher: (fixed ids, launcher)."""
    from t2e_tui.ui.screens import workbench_hooks
    from t2e_tui.ui.screens.workbench_launcher import LauncherScreen

    app = pilot.app
    app.open_tasks(baseline, candidate)
    await wait_for(pilot, lambda: getattr(app.screen, "loaded", False))
    tasks = app.screen
    await pilot.press("3")
    await wait_for(pilot, lambda: tasks.filter == "fixed" and tasks.visible_task_ids())
    fixed = tasks.visible_task_ids()
    workbench_hooks.open(app, "rerun")
    await wait_for(pilot, lambda: isinstance(app.screen, LauncherScreen))
    launcher = app.screen
    await wait_for(pilot, lambda: launcher.is_mounted)
    return fixed, launcher


async def test_rerun_of_the_fixed_filter_is_recorded_and_not_clean_heldout(demo):
    """The tasks screen's Fixed filter (3) handed to the launcher: the run's manifest records
    the outcome filter and the gate downgrades its heldout claim to development."""
    import json

    from t2e_tui.ui.screens.workbench_gate import GateScreen

    cand = {c["name"]: c for c in demo["candidates"]}["cross-order-v1"]
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        fixed, launcher = await rerun_from_fixed_filter(pilot, demo["runs"]["baseline"],
                                                         cand["run_id"])
        await set_field(pilot, launcher, "candidate", "cross-order-v1")
        await wait_for(pilot, lambda: launcher._plan is not None)
        assert launcher._plan.task_ids == fixed and launcher._plan.role == "heldout"
        assert launcher._plan.task_selection["filter"] == "fixed"
        assert "outcome filter (fixed)" in str(launcher.query_one("#lf-warning").render())
        # the same ids re-ordered and re-spaced are still the filter's choice (#10)
        field = launcher.query_one("#lf-tasks", Input)
        typed = field.value
        field.value = " , ".join(reversed(fixed))
        assert launcher.task_selection()["filter"] == "fixed"
        field.value = typed
        await pilot.pause()
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen)
                       and (app.screen.result is not None or app.screen.refusal is not None))
        gate = app.screen
        assert "--intersect" in gate.refusal   # the screen refuses as `t2e gate` does
        await pilot.press("i")
        await wait_for(pilot, lambda: gate.result is not None)
        assert gate.result.role.claimed == "heldout"
        assert gate.result.evidence_role == "development"
        assert any(r.startswith("tasks selected by an outcome filter (fixed)")
                   for r in gate.result.role.reasons)
        assert "(claimed heldout)" in str(gate.query_one("#gate-head").render())
        verdict = str(gate.query_one("#gate-verdict").render())
        assert "role: tasks selected by an outcome filter (fixed)" in verdict
        run_id = gate.result.comparison.candidate.run_id
    manifest = json.loads(connect(demo["store"]).execute(
        "SELECT manifest_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0])
    sel = manifest["task_selection"]
    assert sel["by"] == "outcome_filter" and sel["filter"] == "fixed"
    assert sel["tasks"] == len(fixed) and sel["runs"] == [demo["runs"]["baseline"],
                                                          cand["run_id"]]


async def test_a_split_typed_by_name_records_no_outcome_filter(demo):
    cand = {c["name"]: c for c in demo["candidates"]}["cross-order-v1"]
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        _, launcher = await rerun_from_fixed_filter(pilot, demo["runs"]["baseline"],
                                                     cand["run_id"])
        await wait_for(pilot, lambda: launcher._plan is not None)
        assert launcher._plan.task_selection is not None
        await set_field(pilot, launcher, "tasks", "heldout")   # a split, chosen by its name
        await wait_for(pilot, lambda: launcher._plan is not None)
        assert launcher._plan.task_selection is None
        assert "task_selection" not in launcher._plan.manifest()
        assert "outcome filter" not in str(launcher.query_one("#lf-warning").render())


async def test_the_launcher_registers_its_tasks_as_a_heldout_set(store):
    """#10: a heldout set is registered with `t2e heldout register` or from the launcher; the
    warning that the tasks are no registered set goes once they are."""
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_launcher(app, pilot, candidate="baseline")
        await set_field(pilot, screen, "tasks", "dev")
        await wait_for(pilot, lambda: screen._plan is not None
                       and "not a registered heldout set" in str(
                           screen.query_one("#lf-warning").render()))
        await pilot.press("f6")
        await wait_for(pilot, lambda: "not a registered heldout set" not in str(
            screen.query_one("#lf-warning").render()))
        rows = connect(store).execute("SELECT name, role, task_ids_json FROM heldout_sets").fetchall()
        assert len(rows) == 1 and rows[0][1] == "heldout"
        assert sorted(json.loads(rows[0][2])) == sorted(screen._plan.task_ids)
        assert n_runs(store) == 0  # registering runs nothing


async def test_the_estimate_reads_the_store_off_the_ui_thread(store, monkeypatch):
    """#12: planning the rerun (on mount and on every form change) and the first read of the
    baseline's tasks happen in a worker thread, never on the UI thread."""
    import threading

    import t2e_tui.engine.plan as plan_mod
    from t2e_tui import run_queries as rq

    on_main: list[tuple[str, bool]] = []

    def spy(name, real):
        def wrapped(*a, **kw):
            on_main.append((name, threading.current_thread() is threading.main_thread()))
            return real(*a, **kw)
        return wrapped

    for mod, name in [(rq, "baseline_tasks"), (rq, "expected_steps"), (plan_mod, "plan_run")]:
        monkeypatch.setattr(mod, name, spy(name, getattr(mod, name)))
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_launcher(app, pilot, candidate="baseline")
        # the empty tasks field was filled by the estimate's worker (no baseline: heldout)
        assert screen.query_one("#lf-tasks", Input).value == "heldout"
        screen.query_one("#lf-trials", Input).value = "3"
        await wait_for(pilot, lambda: screen._plan is not None and screen._plan.trials == 3)
    assert {name for name, _ in on_main} == {"baseline_tasks", "expected_steps", "plan_run"}
    assert [name for name, main in on_main if main] == []


async def test_a_stale_estimate_never_overwrites_a_newer_one(store, monkeypatch):
    """A slow plan for an older form state lands after the newer one: it is dropped."""
    import threading

    import t2e_tui.engine.plan as plan_mod
    from t2e_tui.ui.screens.workbench_launcher import LauncherScreen

    real_plan, real_apply = plan_mod.plan_run, LauncherScreen._apply_estimate
    reached, release = threading.Event(), threading.Event()
    applied: list[int] = []

    def slow_plan(*a, **kw):
        if kw.get("tasks") == "dev":
            reached.set()
            assert release.wait(30), "the test never released the slow plan"
        return real_plan(*a, **kw)

    def apply(self, gen, est):
        real_apply(self, gen, est)
        applied.append(gen)

    monkeypatch.setattr(plan_mod, "plan_run", slow_plan)
    monkeypatch.setattr(LauncherScreen, "_apply_estimate", apply)
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_launcher(app, pilot, candidate="baseline")
        heldout = list(screen._plan.task_ids)
        screen.query_one("#lf-tasks", Input).value = "dev"
        await wait_for(pilot, reached.is_set)
        stale = screen._est_gen
        await set_field(pilot, screen, "tasks", "heldout")   # lands while "dev" still plans
        assert screen._plan.task_ids == heldout
        release.set()
        await wait_for(pilot, lambda: stale in applied)
        assert screen._plan.task_ids == heldout
        assert f"{len(heldout)} tasks" in str(screen.query_one("#lf-estimate").render())
        assert screen.query_one("#lf-tasks", Input).value == "heldout"


def baseline_run(store, tmp_path, **kw) -> str:
    """A scripted baseline run on two dev tasks, made with the settings in `kw`."""
    from t2e_tui.engine import execute_run
    from t2e_tui.engine.plan import plan_run

    conn = connect(store)
    try:
        plan = plan_run(domain="mini-retail", candidate="baseline",
                        candidates_dir=str(tmp_path / "cands"), tasks="crossorder-01,crossorder-02",
                        store_conn=conn, role="heldout", **kw)
    finally:
        conn.close()
    # the tests are async: the engine runs its own event loop, so in another thread
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(execute_run, plan, str(store)).result().run_id


async def test_the_launcher_proposes_the_baseline_runs_settings(store, tmp_path):
    """#13: with a baseline run, the launcher's defaults are that run's settings (trials, the
    step and error limits, the user), so the pair it launches is one the gate accepts."""
    base = baseline_run(store, tmp_path, trials=2, max_steps=30, max_errors=7)
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_launcher(app, pilot, candidate="baseline", baseline_run=base)
        await wait_for(pilot, lambda: screen._plan is not None and not screen.estimating)
        assert screen.query_one("#lf-trials", Input).value == "2"
        plan = screen._plan
        assert (plan.trials, plan.max_steps, plan.max_errors) == (2, 30, 7)
        assert "gate will refuse" not in str(screen.query_one("#lf-warning").render())


async def test_a_setting_the_gate_refuses_is_named_and_launch_asks_first(store, tmp_path):
    """#13: trials other than the baseline's: the estimate says the gate will refuse the pair
    (naming the setting and both values, from the gate's own list) and ^l asks before running;
    n runs nothing, y runs it."""
    from t2e_tui.ui.screens.gate_modals import ConfirmModal
    from t2e_tui.ui.screens.workbench_launcher import LauncherScreen

    base = baseline_run(store, tmp_path, trials=1)
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_launcher(app, pilot, candidate="baseline", baseline_run=base)
        await set_field(pilot, screen, "trials", "3")
        warn = str(screen.query_one("#lf-warning").render())
        assert "trials (--trials): 1 vs 3" in warn and "gate will refuse" in warn
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "trials (--trials): 1 vs 3" in str(app.screen.query_one("Static").render())
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LauncherScreen))
        assert screen.status is None and n_runs(store) == 1
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.status not in (None, "running"), timeout=120)
        assert screen.status == "complete" and n_runs(store) == 2


async def test_the_leakage_consequence_is_in_view_at_80x24(store, tmp_path):
    """#13: many leaked tasks: at 80×24 the warning still shows what follows (a heldout claim
    downgraded to development), the ids cut to a few and "N more"."""
    from tui_fixture import screen_lines

    from t2e_tui.engine.plan import load_world, resolve_task_ids

    ids = resolve_task_ids(load_world("mini-retail", None), "heldout", None)
    assert len(ids) > 6
    child = _viewed_while_drafting(store, tmp_path, ids)
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_launcher(app, pilot, candidate=child.name)
        assert "leakage" in str(screen.query_one("#lf-warning").render())
        await pilot.pause()
        text = " ".join(" ".join(line.strip("█ ").split()) for line in screen_lines(app))
        assert "downgraded to development" in text
        assert f"{len(ids)} of these tasks" in text


async def test_the_key_bar_shows_one_key_per_action_before_and_after_a_launch(store):
    """#13: the bar said `f6 Register set` while a field had focus (the field takes ctrl+k)
    and `^k Register set` once the fields were disabled by a launch: a key an input takes
    must not be the one the bar shows, so each action shows the same key throughout."""
    from t2e_tui.ui.widgets.keybar import KeyBar

    def keys(screen) -> dict[str, str]:
        bar = screen.query_one(KeyBar)
        bar._bindings_changed(screen)
        return {i.ident: i.key for i in bar._items if i.ident.startswith("launcher.")}

    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_launcher(app, pilot, candidate="baseline")
        await set_field(pilot, screen, "tasks", "crossorder-01")
        screen.query_one("#lf-tasks", Input).focus()
        await pilot.pause()
        before = keys(screen)
        assert before["launcher.register"] == "f6"
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: screen.status not in (None, "running"), timeout=120)
        assert keys(screen) == before
    # the mechanism: no key of the launcher's (but a priority one) is one a field takes
    from t2e_tui.ui.screens.workbench_launcher import LauncherScreen

    taken = {k.strip() for b in Input.BINDINGS for k in b.key.split(",")}
    for b in LauncherScreen.BINDINGS:
        if not b.priority:
            assert not taken & {k.strip() for k in b.key.split(",")}, b.id
