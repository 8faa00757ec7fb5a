"""The tasks screen on thousands of tasks (#18): rows read in one pass agree with the gate,
the table builds cells only for the lines it draws, and scrolling, selection, sorting,
filtering and reversing work through that lazy table."""

from __future__ import annotations

import threading

import pytest
from tui_fixture import line_text, settle, wait_for

from store.db import INFRA, connect
from t2e_tui import data_access as da
from t2e_tui.gate import compare_runs
from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.tasks import TasksScreen, pick_pair
from t2e_tui.ui.screens.tasks_cells import TRANSITION_ORDER
from t2e_tui.ui.widgets.linetable import LineTable

N = 1200
PATTERN = ((1, 1), (1, 0), (0, 0), (0, 1))  # successes of two trials


def task_id(i: int) -> str:
    return f"t{i}" if i % 250 == 13 else str(i)  # a few ids that are not numbers


def build(path, n: int = N) -> None:
    """Two runs of `n` tasks x 2 trials, bulk-written in the writer's shape: every outcome
    mix, plus infrastructure errors, running trials, unscored trials and tasks one run
    lacks."""
    conn = connect(path)
    now = "2026-01-01T00:00:00+00:00"
    conn.execute("INSERT INTO worlds VALUES ('wx', 'import', 'retail', NULL, ?)", (now,))
    rows, eid = [], 0
    for r, run in enumerate(("rbase", "rcand")):
        conn.execute("INSERT INTO runs (run_id, name, role, world_id, domain, status, "
                     "agent_model, num_trials, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                     (run, f"run-{run}", "discovery", "wx", "retail", "complete", "m", 2, now))
        for i in range(n):
            if r == 1 and i % 211 == 9:
                continue  # only in the baseline
            ok = PATTERN[i % 4] if r == 0 else PATTERN[(i // 4) % 4]
            for trial in (0, 1):
                eid += 1
                status, reward = "done", float(ok[trial])
                term = "user_stop" if ok[trial] else ("max_steps" if i % 3 == 0 else "user_stop")
                if r == 1 and trial == 1 and i % 97 == 5:
                    term, reward = INFRA, None
                if r == 1 and trial == 1 and i % 101 == 7:
                    status, term, reward = "running", None, None
                if i % 307 == 11:
                    reward = None  # finished, no grade (foreign traces)
                success = None if reward is None else int(reward == 1.0)
                rows.append((eid, run, f"{i}:{trial}", i * 2 + trial, task_id(i), trial, status,
                             term, reward, success, int(i % 5 == 0)))
    conn.executemany("INSERT INTO episodes (episode_id, run_id, episode_key, ord, task_id, "
                     "trial, status, termination_reason, reward, success, n_tool_errors) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.commit()
    conn.close()


@pytest.fixture
def big(tmp_path):
    path = tmp_path / "big.sqlite"
    build(path)
    return path


def test_task_rows_agree_with_the_gate_and_the_per_trial_rule(big):
    conn = da.open_conn(str(big))
    rows = da.task_rows(conn, "rbase", "rcand")
    assert len(rows) == N
    got = {r.task_id: r.transition for r in rows}
    gate = {r.task_id: r.transition.replace("_", " ")
            for r in compare_runs(conn, "rbase", "rcand", intersect=True).rows}
    assert len(gate) > N * 0.9 and all(got[t] == v for t, v in gate.items())
    # the rest get the explorer's labels, the same as transition_of over Trial objects
    for r in rows:
        assert r.transition == da.transition_of(r.base, r.cand), r.task_id
    by = {r.task_id: r for r in rows}
    assert by["9"].transition == "only base" and not by["9"].cand
    assert [t.status for t in by["7"].cand] == ["done", "running"]
    assert by["11"].transition == "unscored"
    # task order: numbers in number order, then the other ids
    assert [r.task_id for r in rows[:3]] == ["0", "1", "2"]
    assert [r.task_id for r in rows[-6:]] == ["1199", "t1013", "t13", "t263", "t513", "t763"]
    # trials in trial order, as Trial objects only when asked
    assert [t.trial for t in by["6"].base] == [0, 1]
    assert by["0"].hints == ["B:1 tool err", "C:1 tool err"]
    assert by["3"].terms == {"max_steps", "user_stop"} and "B:max steps" in by["3"].hints
    assert by["1"].base_failed and not by["0"].cand_failed
    conn.close()


def test_read_signature_is_the_run_signature(big):
    conn = da.open_conn(str(big))
    for runs in (("rbase", "rcand"), ("rcand", None)):
        rows, sig = da.read_task_rows(conn, *runs)
        assert sig == da.run_signature(conn, [r for r in runs if r])
        assert sum(len(r.raw_base) + len(r.raw_cand) for r in rows) == sig[0]
    conn.close()


def visible_ids(table: LineTable) -> list[str]:
    return [line_text(table, y).split()[0] for y in range(1, table.size.height)
            if line_text(table, y).strip()]


async def test_lazy_table_scrolls_selects_sorts_and_filters(big):
    app = make_app(big, load_config=False, poll_interval=0)
    opened: list[tuple] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_compare = lambda a, b=None, **kw: opened.append((a, b))
        app.open_tasks("rbase", "rcand")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen.loaded)
        await settle(pilot)
        screen = app.screen
        table = screen.query_one(LineTable)
        page = table.size.height - 1
        # only the lines drawn have cells: not 1,200 rows of them
        assert len(screen.all_rows) == N
        assert 0 < len(screen._cells) <= page + 1
        assert visible_ids(table)[:3] == ["0", "1", "2"]

        await pilot.press("end")
        await pilot.pause()
        assert table.cursor == N - 1 and visible_ids(table)[-1] == screen.shown[-1].task_id
        await pilot.press("home", "pagedown")
        await pilot.pause()
        assert table.cursor == table.size.height - 2  # a page less the line kept in view
        assert screen.shown[table.cursor].task_id in visible_ids(table)
        assert len(screen._cells) <= 3 * (page + 1)

        # Enter compares the row under the cursor: the trials whose outcomes differ
        row = screen.shown[table.cursor]
        await pilot.press("enter")
        assert opened == [pick_pair(row.base, row.cand)] and opened[0][0] is not None

        # sort by transition: regressed first, task order among equals, drawn so (the
        # cursor stays on its task: Home goes to the top)
        await pilot.press("s", "home")
        await pilot.pause()
        assert screen.sort == "transition"
        order = [TRANSITION_ORDER.get(r.transition, 9) for r in screen.shown]
        assert order == sorted(order)
        regressed = [r.task_id for r in screen.all_rows if r.transition == "regressed"]
        assert [r.task_id for r in screen.shown[:len(regressed)]] == regressed
        assert visible_ids(table) == regressed[:len(visible_ids(table))]
        assert "regressed" in line_text(table, 1)
        # reversed, the cursor stays on its task
        await pilot.press("down", "down")
        before = list(screen.shown)
        keep = before[table.cursor].task_id
        await pilot.press("v")
        await pilot.pause()
        assert screen.shown == before[::-1] and screen.shown[table.cursor].task_id == keep
        await pilot.press("v")

        # filter: only regressed and worsened rows, counted in the status line
        await pilot.press("2")
        await pilot.pause()
        assert {r.transition for r in screen.shown} <= {"regressed", "worsened"}
        n = sum(r.transition in ("regressed", "worsened") for r in screen.all_rows)
        assert len(screen.shown) == n and f"{n}/{N} regressed or worsened" in \
            screen.query_one("#tasks-status").text.plain
        await pilot.press("end", "enter")
        last = screen.shown[-1]
        assert opened[-1] == pick_pair(last.base, last.cand)


async def test_table_lines_take_the_new_theme(big):
    """LineTable caches drawn lines and its base styles; a theme change must not leave the
    old colours on screen."""
    app = make_app(big, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_tasks("rbase", "rcand")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen.loaded)
        await settle(pilot)
        table = app.screen.query_one(LineTable)

        def backgrounds() -> set:
            return {seg.style.bgcolor for y in (0, 2) for seg in table.render_line(y)
                    if seg.style and seg.style.bgcolor}

        before = backgrounds()
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await settle(pilot)
        after = backgrounds()
        assert before and after and not (before & after)


def held_reads(monkeypatch) -> threading.Event:
    """The task rows are read only once the returned event is set (30 s at most)."""
    gate = threading.Event()
    real = da.read_task_rows

    def slow(*args):
        assert gate.wait(30)
        return real(*args)

    monkeypatch.setattr(da, "read_task_rows", slow)
    return gate


async def test_says_loading_until_the_rows_land(big, monkeypatch):
    """While 10^4 tasks are read the screen says so (it said "no finished episodes yet")."""
    gate = held_reads(monkeypatch)
    app = make_app(big, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_tasks("rbase", "rcand")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen))
        await pilot.pause()
        screen = app.screen
        table = screen.query_one(LineTable)
        assert "loading tasks…" in line_text(table, 1)
        assert screen.query_one("#tasks-status").text.plain == "loading tasks…"
        assert "rbase" in screen.query_one("#tasks-title").text.plain
        await pilot.press("2")  # a filter key meanwhile changes nothing it says
        assert "loading tasks…" in line_text(table, 1)
        gate.set()
        await wait_for(pilot, lambda: screen.loaded)
        await settle(pilot)
        n = sum(r.transition in ("regressed", "worsened") for r in screen.all_rows)
        status = screen.query_one("#tasks-status").text.plain
        assert status.startswith(f"{n}/1200 regressed or worsened")


async def test_big_pair_shows_its_first_page_while_the_rest_is_read(big, monkeypatch):
    """From PREVIEW_MIN tasks the first page (whole rows, task order) is on screen before
    every row is read; the cursor and Enter work on it; a filter applies when all are in."""
    from t2e_tui import task_rows

    monkeypatch.setattr(task_rows, "PREVIEW_MIN", 1000)
    gate = held_reads(monkeypatch)
    app = make_app(big, load_config=False, poll_interval=0)
    opened: list[tuple] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_compare = lambda a, b=None, **kw: opened.append((a, b))
        app.open_tasks("rbase", "rcand")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen._first)
        await pilot.pause()
        screen = app.screen
        table = screen.query_one(LineTable)
        assert not screen.loaded and visible_ids(table)[:3] == ["0", "1", "2"]
        status = screen.query_one("#tasks-status").text.plain
        assert status == f"first {len(screen._first)} of 1,200 tasks · loading the rest…"
        assert "run-rbase" in screen.query_one("#tasks-title").text.plain
        # the id column is as wide as the longest id of all 1,200, not of the first page
        assert table.columns[0].width == len("t1013")
        await pilot.press("down", "enter")
        row = screen.shown[1]
        assert row.task_id == "1" and opened == [pick_pair(row.base, row.cand)]
        await pilot.press("2")
        assert screen.shown is screen._first and screen.visible_task_ids() == []
        first = [(r.task_id, r.transition, r.hints, r.terms) for r in screen._first]
        gate.set()
        await wait_for(pilot, lambda: screen.loaded)
        await settle(pilot)
        assert {r.transition for r in screen.shown} <= {"regressed", "worsened"}
        assert len(screen.all_rows) == N and "/1200 regressed or worsened" in \
            screen.query_one("#tasks-status").text.plain
        # the first page said what the whole read says about those tasks
        assert first == [(r.task_id, r.transition, r.hints, r.terms)
                         for r in screen.all_rows[:len(first)]]


async def test_go_to_task_lists_a_bounded_best_first_page(big):
    """g at 1,200 tasks hands the palette the best LIMIT hits, not every task (at 25,000
    the palette took seconds to list them all and again per typed letter)."""
    from textual.command import CommandList
    from tui_fixture import palette_shows

    from t2e_tui.ui.screens.task_jump import LIMIT

    app = make_app(big, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_compare = lambda a, b=None, **kw: None
        app.open_tasks("rbase", "rcand")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen.loaded)
        await settle(pilot)
        tasks = app.screen
        await pilot.press("g")
        await palette_shows(pilot, "task")
        listing = app.screen.query_one(CommandList)
        assert listing.option_count == LIMIT
        # the changed tasks first: the first listed is the first regressed/fixed one
        first = str(listing.get_option_at_index(0).prompt)
        changed = [r.task_id for r in tasks.all_rows if r.transition in ("regressed", "fixed")]
        assert first.split()[:2] == ["task", changed[0]]
        await pilot.press(*"1199")
        await palette_shows(pilot, "task 1199")
        await wait_for(pilot, lambda: 0 < listing.option_count <= LIMIT)
        await pilot.press("enter")
        await settle(pilot)
        assert tasks.shown[tasks.query_one(LineTable).cursor].task_id == "1199"


async def test_new_rows_lay_out_the_screen_only_when_a_scrollbar_comes_or_goes():
    """Assigning virtual_size lays out the whole screen: on every filter key over 10^4 rows.
    Now only a scrollbar that appears or goes costs a layout; the thumb still follows."""
    from textual.app import App, ComposeResult

    from t2e_tui.ui.widgets.linetable import Column

    class One(App):
        def compose(self) -> ComposeResult:
            yield LineTable([Column("task", 0)], id="t")

    app = One()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(LineTable)
        table.set_rows([[str(i)] for i in range(100)])
        await pilot.pause()
        layouts = []
        real = app.screen._refresh_layout

        def spy(*a, **kw):
            layouts.append(1)
            return real(*a, **kw)

        app.screen._refresh_layout = spy
        table.set_rows([[str(i)] for i in range(50)])  # still more than fits: no layout
        await pilot.pause()
        assert layouts == []
        assert table.show_vertical_scrollbar
        assert table.vertical_scrollbar.window_virtual_size == 51
        assert line_text(table, 1).strip() == "0"
        table.set_rows([[str(i)] for i in range(3)])  # now it fits: the scrollbar goes
        await pilot.pause()
        assert layouts and not table.show_vertical_scrollbar
        assert [line_text(table, y).strip() for y in (1, 2, 3)] == ["0", "1", "2"]


async def test_every_part_of_a_loaded_pair_is_kept_out_of_full_gc_passes(big):
    """The rows, then their hints, then the failure classes land in three steps; each must
    leave the cyclic collector's reach. The classes (a list per failed episode and per task)
    were left in it: at 25,000 tasks ~55k lists, and the full pass that fell on a key walked
    them (the first `t` of bench/tui_outside.py at 160x48: 58-130 ms to the last byte)."""
    import gc

    app = make_app(big, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        gc.unfreeze()
        app.open_tasks("rbase", "rcand")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen.loaded)
        screen = app.screen
        await wait_for(pilot, lambda: bool(screen.row_classes))
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert screen.failure_classes and any(r.hints for r in screen.all_rows)
        reach = {id(o) for o in gc.get_objects()}  # tracked and not frozen
        data = {
            "rows": [screen.all_rows, *screen.all_rows],
            "trials": [t for r in screen.all_rows for t in (r.raw_base, r.raw_cand)],
            "hints": [r.hints for r in screen.all_rows if r.hints],
            "episode classes": list(screen.failure_classes.values()),
            "task classes": list(screen.row_classes.values()),
        }
        left = {k: sum(id(o) in reach for o in v) for k, v in data.items()}
        assert left == dict.fromkeys(data, 0)


async def test_sort_keys_find_their_order_read_with_the_rows(big, monkeypatch):
    """The sort orders are computed by the load worker (with the hints they depend on), not
    by the first `s` on the UI thread (10 ms at 25,000 tasks)."""
    from t2e_tui.ui.screens import tasks_cells

    app = make_app(big, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_tasks("rbase", "rcand")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen.loaded)
        screen = app.screen
        await app.workers.wait_for_complete()
        await settle(pilot)
        calls: list[str] = []
        real = tasks_cells.sorted_rows
        monkeypatch.setattr(tasks_cells, "sorted_rows",
                            lambda rows, key: calls.append(key) or real(rows, key))
        await pilot.press("s")
        await pilot.pause()
        assert screen.sort == "transition" and calls == []
        assert screen.shown == real(screen.all_rows, "transition")
        await pilot.press("s")
        await pilot.pause()
        assert screen.sort == "hints" and calls == []
        assert [len(r.hints) for r in screen.shown] == sorted(
            (len(r.hints) for r in screen.all_rows), reverse=True)
