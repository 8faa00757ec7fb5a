"""Triage at 80x24 (#15): divergence blocks in steps, both sides in the detail pane, keys you
can find (? help, palette, clicks), honest empty states, and what the app remembers."""

from __future__ import annotations

import json

import pytest
from textual.command import CommandList
from tui_fixture import build_store, line_text, settle, wait_for

from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.compare import CompareScreen
from t2e_tui.ui.screens.help import HelpScreen
from t2e_tui.ui.screens.runs import RunsScreen
from t2e_tui.ui.screens.search import SearchScreen
from t2e_tui.ui.screens.tasks import TasksScreen
from t2e_tui.ui.widgets.keybar import KeyBar
from t2e_tui.ui.widgets.lanes import AlignedLanes
from t2e_tui.ui.widgets.linetable import LineTable


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "fx.sqlite"
    return path, build_store(path)


def app_on(path, **kw):
    kw.setdefault("load_config", False)
    return make_app(path, poll_interval=0, **kw)


async def open_task_2(app, pilot, ids):
    await settle(pilot)
    app.open_compare(ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")])
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, CompareScreen)
    return screen, screen.query_one(AlignedLanes)


async def rested(pilot, screen):
    await pilot.pause()  # the cursor's RowChanged starts the detail timer
    await wait_for(pilot, lambda: not screen.detail_pending)
    await pilot.pause()


def detail_text(screen) -> str:
    return str(screen.query_one("#detail-body").render())


def bar_text(screen) -> str:
    return "".join(seg.text for seg in screen.query_one(KeyBar).render_line(0))


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


# -- compare: both sides at 80 columns, steps, last turns ---------------------------------------

async def test_detail_at_80_shows_both_sides_and_where_the_empty_side_was(store):
    path, ids = store
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen, lanes = await open_task_2(app, pilot, ids)
        transfer = next(i for i, r in enumerate(screen.alignment.rows)
                        if r.b is not None and r.b.name == "transfer_to_human_agents")
        lanes.move_to(transfer)
        await rested(pilot, screen)
        text = detail_text(screen)
        assert "(nothing on this side" not in text
        assert "A has no step here; its previous: step" in text
        assert "B · step" in text and "transfer_to_human_agents" in text


async def test_lane_header_names_both_steps_and_what_t_does(store):
    path, ids = store
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen, lanes = await open_task_2(app, pilot, ids)
        row = screen.alignment.rows[lanes.cursor]
        head = line_text(lanes, 0)
        assert f"A step {row.step('a')} · B step {row.step('b')}" in head and "t→B" in head
        await pilot.press("t")
        assert "t→gold" in line_text(lanes, 0)
        assert "A→B→gold" in bar_text(screen)
        title = str(screen.query_one("#cmp-title").render())
        assert "3 differences · first at A step 1, B step 1 (messages part)" in title


async def test_colon_goes_to_a_step(store):
    path, ids = store
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen, lanes = await open_task_2(app, pilot, ids)
        await pilot.press("colon")
        await pilot.pause()
        await pilot.press("8", "enter")
        await settle(pilot)
        row = screen.alignment.rows[lanes.cursor]
        assert row.a.step_idx == 8 or row.a.result_idx == 8
        await pilot.press("colon")
        await pilot.pause()
        await pilot.press("9", "9", "enter")
        await settle(pilot)
        assert "no step 99 in A or B" in notes(app)


async def test_colon_takes_a_b_step_as_the_gutter_prints_it(store):
    """A row only B has is numbered `B12` in the gutter and in `t2e show --vs`; typed back at
    `:` it went to A's step 12 (the prompt took digits only)."""
    from t2e_tui.align_where import parse_step

    assert parse_step("B12") == ("b", 12) and parse_step(" 7 ") == (None, 7)
    assert parse_step("a3") == ("a", 3) and parse_step("C1") is None and parse_step("") is None
    path, ids = store
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen, lanes = await open_task_2(app, pilot, ids)
        b_steps = [r.b.step_idx for r in screen.alignment.rows if r.b is not None]
        a_rows = {r.a.step_idx: i for i, r in enumerate(screen.alignment.rows) if r.a is not None}
        step = next(s for s in b_steps if s in a_rows
                    and screen.alignment.rows[a_rows[s]].b is not None
                    and screen.alignment.rows[a_rows[s]].b.step_idx != s)
        await pilot.press("colon")
        await pilot.pause()
        await pilot.press("B", *str(step), "enter")
        await settle(pilot)
        row = screen.alignment.rows[lanes.cursor]
        assert row.b is not None and step in (row.b.step_idx, row.b.result_idx)
        assert lanes.cursor != a_rows[step]  # not A's step of that number


async def test_a_deep_link_to_a_step_of_b(store):
    """`t2e open A --vs B --step B4`: the cursor on B's step 4 (the start tuple names the
    episode the step is of); `--step 4` stays A's."""
    import store as store_mod
    from t2e_tui.cli.app import _step_of
    from t2e_tui.errors import T2EError

    path, ids = store
    a, b = ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")]
    conn = store_mod.connect(path)
    try:
        assert _step_of(conn, "B4", a, b) == (b, 4) and _step_of(conn, "4", a, b) == (a, 4)
        with pytest.raises(T2EError):
            _step_of(conn, "B4", a, None)
        with pytest.raises(T2EError):
            _step_of(conn, "x", a, b)
    finally:
        conn.close()
    app = app_on(path, start=("compare", str(a), str(b), "4", str(b)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                       and app.screen.alignment is not None)
        await settle(pilot)
        lanes = app.screen.query_one(AlignedLanes)
        row = app.screen.alignment.rows[lanes.cursor]
        assert row.b is not None and 4 in (row.b.step_idx, row.b.result_idx)


async def test_end_shows_how_each_side_ended(store):
    path, ids = store
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen, lanes = await open_task_2(app, pilot, ids)
        await pilot.press("end")
        await rested(pilot, screen)
        assert lanes.cursor == lanes.n_rows - 1
        text = detail_text(screen)
        assert text.count("No thanks ###STOP###") == 2  # each side's last message
        assert "End" in bar_text(screen) or "end" in bar_text(screen)


async def test_resize_keeps_the_cursor_row_in_view(demo):
    by = {c["name"]: c for c in demo["candidates"]}
    app = app_on(demo["store"])
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.open_task_compare(demo["runs"]["baseline"], by["cross-order-v1"]["run_id"],
                              "crossorder-13")
        await settle(pilot)
        screen = app.screen
        lanes = screen.query_one(AlignedLanes)
        lanes.move_to(18)  # the last row: far below the first screenful at 80x24
        await rested(pilot, screen)
        assert lanes.cursor == 18
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        await rested(pilot, screen)
        top, height = lanes.scroll_offset.y, lanes.size.height - 1
        assert height < 18 and top <= 18 < top + height, (top, height)
        assert lanes.cursor == 18
        assert f"step {screen.alignment.rows[18].step('a')}" in detail_text(screen)


# -- finding keys -------------------------------------------------------------------------------

async def test_question_mark_opens_help_with_this_screens_keys_first(store):
    path, ids = store
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_task_2(app, pilot, ids)
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen) and help_screen.title_text == "Compare"
        wheres = [r[3] for r in help_screen.rows]
        assert wheres[0] == "this screen" and wheres[-1] == "everywhere"
        assert wheres.index("everywhere") > max(i for i, w in enumerate(wheres)
                                                 if w != "everywhere") - len(wheres)
        assert not any(w in ("AlignedLanes", "LineTable", "StepDetail", "T2EApp")
                       for w in wheres)
        descs = {r[1] for r in help_screen.rows}
        assert "Next difference" in descs and "Expand long fields, raw_data" in descs
        await pilot.press("question_mark")
        assert isinstance(app.screen, CompareScreen)


async def test_palette_lists_app_actions_first(store):
    path, _ = store
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.5)
        options = app.screen.query_one(CommandList)
        await wait_for(pilot, lambda: options.option_count > 10)
        first = [str(options.get_option_at_index(i).prompt).split("\n")[0] for i in range(12)]
        assert first[:6] == ["Open the marked pair's tasks", "Search every trace",
                             "Edit the candidate", "Rerun the candidate (gated)",
                             "Gate verdict", "Lineage of candidates"]
        assert any(t.startswith("Theme: ansi-dark") for t in first)


async def test_key_bar_keys_and_rows_are_clickable(store):
    path, ids = store
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen, lanes = await open_task_2(app, pilot, ids)
        bar = screen.query_one(KeyBar)
        text = bar_text(screen)
        x = text.index(" n ") + 1
        start = lanes.cursor
        await pilot.click(KeyBar, offset=(x, 0))
        await pilot.pause()
        assert lanes.cursor == screen.alignment.blocks[1][0] != start
        assert bar.item_at(x).ident == "compare.next"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen)
        table = app.screen.query_one(LineTable)
        await pilot.click(LineTable, offset=(5, 2))  # header, row 0, row 1: the candidate run
        await pilot.pause()
        assert table.cursor == 1
        await pilot.click(LineTable, offset=(5, 2))  # a second click opens it
        await settle(pilot)
        assert isinstance(app.screen, TasksScreen) and app.screen.baseline == "runcand"


async def test_x_shows_only_when_something_is_cut_and_says_what_it_did(store):
    path, ids = store
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen, lanes = await open_task_2(app, pilot, ids)
        await rested(pilot, screen)
        assert not screen.query_one("#detail").truncated
        assert " x " not in bar_text(screen)  # nothing cut: x would do nothing
        await pilot.press("x")
        assert not screen.expanded
        await pilot.press("d")
        assert any("detail pane" in n for n in notes(app))
        assert screen.query_one("#detail").has_focus
        await pilot.press("d")
        assert lanes.has_focus and any("lanes" in n for n in notes(app))


async def test_x_expands_a_cut_field_and_says_so(tmp_path):
    from tui_fixture import GOLD, _episode, _task

    from store import writer
    from store.db import open_db

    path = tmp_path / "long.sqlite"
    db = open_db(path)
    with writer.transaction(db):
        writer.ensure_world(db, "w", kind="import", domain="retail")
        writer.create_run(db, name="r", world_id="w", domain="retail", agent_model="m",
                          num_trials=1, run_id="runlong")
        writer.put_tasks(db, "runlong", [_task("1", GOLD["1"])])
    msgs = [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "x" * 9000}]
    eid = _episode(db, "runlong", "1", 0, 0, msgs, False, [False, False])
    db.conn.close()
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_compare(eid)
        await settle(pilot)
        screen = app.screen
        long_row = next(i for i, r in enumerate(screen.alignment.rows)
                        if r.a is not None and len(r.a.text or "") > 5000)
        screen.query_one(AlignedLanes).move_to(long_row)
        await rested(pilot, screen)
        assert screen.query_one("#detail").truncated and " x " in bar_text(screen)
        await pilot.press("x")
        assert screen.expanded and "long fields shown in full (x: cut them again)" in notes(app)


# -- runs, tasks, search: what Enter opens and what empty says ---------------------------------

async def test_enter_on_an_unmarked_run_opens_that_run(store):
    path, _ = store
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("b", "down", "c", "down", "enter")  # the scripted run, unmarked
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TasksScreen)
        assert (screen.baseline, screen.candidate) == ("runscript", None)
        await pilot.press("escape", "up", "o")  # o opens the marked pair
        await settle(pilot)
        assert (app.screen.baseline, app.screen.candidate) == ("runbase", "runcand")


async def test_an_empty_filter_says_no_task_matches(store):
    path, _ = store
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("b", "down", "c", "enter")
        await settle(pilot)
        await pilot.press("5")  # flaky: none in the fixture
        table = app.screen.query_one(LineTable)
        assert line_text(table, 1).startswith("no task matches this filter (flaky): 1 shows all")
        status = app.screen.query_one("#tasks-status").text.plain
        assert status.startswith("0/4 flaky")


async def test_a_search_without_hits_says_so(store):
    path, _ = store
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        await pilot.press(*"zebra", "enter")
        await settle(pilot)
        status = app.screen.query_one("#search-status").text.plain
        assert status.startswith("no hits for 'zebra'")
        assert "no step contains 'zebra'" in line_text(app.screen.query_one(LineTable), 1)


# -- remembered between sessions ---------------------------------------------------------------

async def test_theme_marks_and_last_screen_come_back(store):
    path, ids = store
    app = app_on(path, remember=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("b", "down", "c", "enter")
        await settle(pilot)
        await pilot.press("2", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        app.theme = "ansi-light"
        await pilot.pause()
    again = app_on(path, remember=True)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert again.theme == "ansi-light"
        screen = again.screen
        assert isinstance(screen, CompareScreen)
        assert (screen.episode_a, screen.episode_b) == (ids["episodes"][("base", "2")],
                                                        ids["episodes"][("cand", "2")])
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(again.screen, TasksScreen)
        await pilot.press("escape")
        await settle(pilot)
        runs = again.screen
        assert (runs.baseline, runs.candidate) == ("runbase", "runcand")


async def test_nothing_is_restored_for_runs_that_are_gone(store, tmp_path):
    from t2e_tui import session_state

    path, _ = store
    session_state.remember(path, baseline="gone1", candidate="runcand",
                           screen=["compare", "gone1", "runcand", 1, 2])
    app = app_on(path, remember=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen)
        assert (app.screen.baseline, app.screen.candidate) == (None, "runcand")


def test_a_broken_state_file_reads_as_empty(tmp_path):
    from t2e_tui import session_state

    bad = tmp_path / "state.json"
    bad.write_text("{not json")
    assert session_state.for_store("x.sqlite", path=bad) == {}
    assert session_state.remember("x.sqlite", path=bad, baseline="r1")
    assert json.loads(bad.read_text())["stores"][session_state.store_key("x.sqlite")] == {
        "baseline": "r1"}


async def test_no_color_picks_the_terminals_own_colours(store, monkeypatch):
    path, _ = store
    monkeypatch.setenv("NO_COLOR", "1")
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.theme == "ansi-dark" and app.no_color


# -- the walk: crossorder-13 of the demo in six keys -------------------------------------------

async def test_crossorder_13_walk_at_80x24_takes_six_keys(demo):
    """`t2e demo` leaves the gated pair marked; from `t2e open`: o (its tasks), g 1 3 Enter
    (go to crossorder-13, which opens it), End (last turns): the baseline's last user message
    and the order change only the candidate made are on screen."""
    from t2e_tui import session_state

    by = {c["name"]: c for c in demo["candidates"]}
    session_state.remember(demo["store"], baseline=demo["runs"]["baseline"],
                           candidate=by["cross-order-v1"]["run_id"], screen=["runs"])
    app = app_on(demo["store"], remember=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        await pilot.press("g")
        await pilot.pause(0.3)
        await pilot.press("1", "3")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.a.task_id == "crossorder-13"
        await pilot.press("end")
        await rested(pilot, screen)
        text = detail_text(screen)
        # the last turns of both sides share the last row (they answer each other)
        assert "A · step 17 · user" in text and "thanks anyway. ###STOP###" in text
        assert "B · step 25 · user" in text and "No, that's all. Thank you! ###STOP###" in text
        lanes = screen.query_one(AlignedLanes)
        shown = [line_text(lanes, y) for y in range(lanes.size.height)]
        assert any("(only in B)" in t and "modify_pending_order_items" in t for t in shown)


def test_go_to_task_ranks_ids_before_fuzzy_and_changed_tasks_first():
    from t2e_tui.ui.screens.task_jump import rank

    # Textual's fuzzy score is unbounded: an exact id still wins over "108" for "task 18"
    assert rank("18", "regressed", "task 18", 9.0) > rank("108", "both pass", "task 18", 9.0)
    # "13" ends both ids; the task whose outcome changed comes first
    assert rank("crossorder-13", "fixed", "13", 0.5) > rank("address-13", "both fail", "13",
                                                               0.5)
    assert rank("113", "fixed", "13", 0.0) < rank("address-13", "both fail", "13", 0.0)
    assert rank("7", "both pass", "zz", 0.0) == 0.0


# -- nothing that tells two things apart is cut at 80x24 ---------------------------------------

async def test_runs_at_80_keep_two_ablation_runs_apart_and_name_the_source(store):
    from store.db import open_db

    path, _ = store
    db = open_db(path)
    db.conn.execute("UPDATE runs SET name = 'ablate cross-order-v1 leave-one-out full' "
                    "WHERE run_id = 'runbase'")
    db.conn.execute("UPDATE runs SET name = 'ablate cross-order-v1 leave-one-out -rule1' "
                    "WHERE run_id = 'runcand'")
    db.conn.close()
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(LineTable)
        first, second = line_text(table, 1), line_text(table, 2)
        # the id first, the name cut (fitting.cut_apart: whole words at both ends): the ends
        # that differ stay in view
        assert first.split()[0] == "runbase" and first.split("…")[1].split()[0] == "full"
        assert second.split()[0] == "runcand" and second.split("…")[1].split()[0] == "-rule1"
        info = app.screen.query_one("#runs-info").text.plain
        # an imported run: its file's name, early enough to be in view at 80 columns
        assert info.startswith("runbase · discovery · 4 tasks · from baseline.json")


async def test_runs_at_80_show_every_status_whole(store):
    """'interrupted' and a live run's '+N running' used to be cut to 8 cells ('interru…')."""
    from store.db import open_db

    path, _ = store
    db = open_db(path)
    db.conn.execute("UPDATE runs SET status = 'interrupted' WHERE run_id = 'runcand'")
    db.conn.execute("UPDATE episodes SET status = 'running' WHERE run_id = 'runlive'")
    db.conn.close()
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(LineTable)
        lines = {line_text(table, y).split()[0]: line_text(table, y)
                 for y in range(1, table.n_rows + 1)}
        assert " interrupted " in lines["runcand"]
        assert " running +1 " in lines["runlive"]


async def test_lineage_at_80_shows_verdicts_whole_and_an_empty_state_with_keys(demo, store):
    from textual.widgets import DataTable

    app = app_on(demo["store"])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        cells = [str(table.get_row_at(i)[3]) for i in range(table.row_count)]
        # whole verdicts (a transfer rejection adds its ✗T mark after it, #16)
        assert any(c.startswith("promote (heldout)") for c in cells)
        assert "discard (heldout)" in cells
        assert table.columns[list(table.columns)[3]].width >= len("inconclusive (heldout)")
    path, _ = store
    empty = app_on(path)
    async with empty.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        text = str(empty.screen.query_one("#lin-hyp").render())
        assert "No saved versions yet: e opens the editor" in text and "ctrl+s saves" in text


async def test_one_run_against_gold_names_the_gold_action_not_a_step(store):
    path, ids = store
    app = app_on(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_compare(ids["episodes"][("cand", "2")])
        await settle(pilot)
        lanes = app.screen.query_one(AlignedLanes)
        row = next(i for i, r in enumerate(app.screen.alignment.rows) if r.b is not None)
        lanes.move_to(row)
        await pilot.pause()
        head = line_text(lanes, 0)
        assert f"gold #{app.screen.alignment.rows[row].b.gold_index}" in head
        assert "B step" not in head
