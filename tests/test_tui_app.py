"""Pilot tests: every screen and key path of the explorer on the fixture store."""

from __future__ import annotations

import pytest
from tui_fixture import add_live_episode, build_store, line_text, palette_shows, settle, wait_for

from t2e_tui import data_access as da
from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.compare import CompareScreen
from t2e_tui.ui.screens.help import HelpScreen
from t2e_tui.ui.screens.runs import RunsScreen
from t2e_tui.ui.screens.search import SearchScreen
from t2e_tui.ui.screens.tasks import TasksScreen
from t2e_tui.ui.widgets.lanes import AlignedLanes
from t2e_tui.ui.widgets.linetable import LineTable


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "fx.sqlite"
    ids = build_store(path)
    return path, ids


async def open_pair(app, pilot):
    await settle(pilot)
    await pilot.press("b", "down", "c", "enter")
    await settle(pilot)


async def test_runs_screen_lists_runs_and_labels_scripted(store):
    path, ids = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        assert [r.run_id for r in screen.runs] == ["runbase", "runcand", "runscript", "runlive"]
        table = screen.query_one(LineTable)
        lines = [line_text(table, y) for y in range(1, 5)]
        assert "stand-in" in lines[2] and "stand-in" not in lines[0]
        assert "0.750" in lines[0] and "75%" in lines[0]
        assert "running" in lines[3]
        assert "prove nothing" in str(screen.query_one("#runs-note").render())


async def test_pick_pair_opens_tasks_with_transitions_and_filters(store):
    path, _ = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pair(app, pilot)
        screen = app.screen
        assert isinstance(screen, TasksScreen)
        assert (screen.baseline, screen.candidate) == ("runbase", "runcand")
        assert [(r.task_id, r.transition) for r in screen.shown] == [
            ("1", "both pass"), ("2", "regressed"), ("3", "fixed"), ("4", "both pass")]
        assert "C:1 tool err" in screen.all_rows[1].hints
        await pilot.press("2")
        assert [r.task_id for r in screen.shown] == ["2"]
        await pilot.press("3")
        assert [r.task_id for r in screen.shown] == ["3"]
        await pilot.press("4")  # failed on the candidate side (3 failed on the baseline only)
        assert [r.task_id for r in screen.shown] == ["2"]
        status = screen.query_one("#tasks-status").text.plain
        assert status.startswith("1/4 failed on the candidate"), status
        await pilot.press("1", "s")  # sort by transition: regressed first
        assert screen.sort == "transition" and screen.shown[0].task_id == "2"
        await pilot.press("v")
        assert screen.shown[-1].task_id == "2"
        await pilot.press("t")  # termination filter cycles through the reasons present
        assert screen.termination == "user_stop" and len(screen.shown) == 4


async def test_jump_to_task_picker(store):
    path, _ = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pair(app, pilot)
        screen = app.screen
        await pilot.press("2")  # hide task 3 behind a filter: the jump clears it
        await pilot.press("g")
        await pilot.pause()
        await pilot.press(*"task 3")
        await palette_shows(pilot, "task 3")
        await pilot.press("enter")
        await settle(pilot)
        # going to a task opens its compare; Escape comes back to it in the list
        assert isinstance(app.screen, CompareScreen) and app.screen.a.task_id == "3"
        await pilot.press("escape")
        assert app.screen is screen
        table = screen.query_one(LineTable)
        assert screen.shown[table.cursor].task_id == "3"


async def test_compare_opens_at_first_divergence_and_navigates(store):
    path, ids = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pair(app, pilot)
        await pilot.press("2", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert (screen.episode_a, screen.episode_b) == (ids["episodes"][("base", "2")],
                                                        ids["episodes"][("cand", "2")])
        lanes = screen.query_one(AlignedLanes)
        al = screen.alignment
        # blocks: the conversations part at the user's first words (a message-level split),
        # then the exchange call's arguments, then the transfer only B made
        assert [b for b, _ in al.blocks] == al.divergences
        assert lanes.cursor == al.blocks[0][0]
        assert al.rows[lanes.cursor].split and al.rows[lanes.cursor].status == "text"
        await pilot.press("n")
        row = al.rows[lanes.cursor]
        assert row.a.name == "exchange_delivered_order_items" and row.status == "args"
        await pilot.press("n")
        assert lanes.cursor == al.blocks[2][0]
        assert al.rows[lanes.cursor].b.name == "transfer_to_human_agents"
        await pilot.press("n")  # no further: stays
        assert lanes.cursor == al.blocks[2][0]
        await pilot.press("p")
        assert al.rows[lanes.cursor].status == "args"
        # 80 columns: one lane at a time, t toggles A → B → gold
        assert screen.narrow and lanes.mode == "a"
        await pilot.press("t")
        assert lanes.mode == "b"
        await pilot.press("t")
        assert screen.view == "gold" and screen.has_class("-goldview")
        gold = screen.query_one("#gold", LineTable)
        assert gold.has_focus
        # the exchange gold action: found in A, missing in B
        assert "missing" in line_text(gold, 3)
        await pilot.press("escape")
        assert isinstance(app.screen, TasksScreen)
    conn = da.open_conn(str(path))
    views = conn.execute("SELECT episode_id, via, task_id FROM evidence_views").fetchall()
    conn.close()
    assert sorted(tuple(v) for v in views) == sorted(
        [(ids["episodes"][("base", "2")], "tui", "2"), (ids["episodes"][("cand", "2")], "tui",
                                                        "2")])


async def test_compare_wide_shows_both_lanes_gold_and_detail(store):
    path, ids = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.open_compare(ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")])
        await settle(pilot)
        screen = app.screen
        lanes = screen.query_one(AlignedLanes)
        assert lanes.mode == "split"
        await pilot.press("n")  # from the users' first words to the exchange call
        await wait_for(pilot, lambda: not screen.detail_pending)
        line = line_text(lanes, lanes.cursor - lanes.scroll_offset.y + 1)
        a_lane, b_lane = line.split("│")
        # A: the name shortened so the differing argument shows; B's call failed: its end
        # (the error) stays in view, the arguments are in the detail pane
        assert "exchange_delivered_order" in a_lane and '["111"]' in a_lane
        assert b_lane.rstrip().endswith("Error: item not found"), b_lane
        detail = str(screen.query_one("#detail-body").render())
        assert "ERROR" in detail and "latency" in detail and "tokens 102 in" in detail
        assert '"999"' in detail or "999" in detail
        title = str(screen.query_one("#cmp-title").render())
        # the fixture episodes carry NL assertion checks: NL shows, marked judge-dependent
        assert "NL*judge" in title and "DB 0" in title and "ACTION" in title


async def test_hostile_trace_text_is_shown_not_interpreted(store):
    path, ids = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.open_compare(ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")])
        await settle(pilot)
        lanes = app.screen.query_one(AlignedLanes)
        text = "\n".join(line_text(lanes, y) for y in range(1, lanes.n_rows + 1))
        assert "[bold red]not markup[/]" in text
        assert "\x1b" not in text and "pwned" not in text


async def test_single_run_compares_with_gold(store):
    path, ids = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("down", "enter")  # candidate run on its own
        await settle(pilot)
        assert isinstance(app.screen, TasksScreen) and app.screen.candidate is None
        await pilot.press("down", "enter")  # task 2
        await settle(pilot)
        screen = app.screen
        assert screen.alignment.single and screen.episode_b is None
        assert [g.found_a for g in screen.alignment.gold] == [True, True, False]
        assert screen.query_one(AlignedLanes).label_b == "gold actions"


async def test_live_run_rows_fill_in(store):
    path, ids = store
    app = make_app(path, load_config=False, poll_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_tasks(ids["live"], None)
        await settle(pilot)
        screen = app.screen
        assert [r.task_id for r in screen.all_rows] == ["1"]
        add_live_episode(path, "2")
        await wait_for(pilot, lambda: len(screen.all_rows) == 2)
        await settle(pilot)
        assert [r.task_id for r in screen.all_rows] == ["1", "2"]
        runs = app.screen_stack[0]
        # the runs screen underneath reads nothing while the tasks screen is on top (its SQL
        # would race the keys of the screen in use); six poll intervals pass unread
        await pilot.pause(0.3)
        assert next(r for r in runs.runs if r.run_id == "runlive").episodes == 1
        app.pop_screen()  # shown again, it catches up at once
        await wait_for(pilot, lambda: next(
            r for r in runs.runs if r.run_id == "runlive").episodes == 2)


async def test_search_jumps_to_the_step(store):
    path, ids = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await open_pair(app, pilot)
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        await pilot.press(*"transfer human", "enter")
        await settle(pilot)
        hits = app.screen.hits
        assert hits and all(h.run_name == "candidate" for h in hits)
        target = next(h for h in hits if h.role == "assistant")
        app.screen.query_one(LineTable).move_to(hits.index(target))
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        # opened as the pair (baseline left) at the row holding the hit's step
        assert screen.episode_a == ids["episodes"][("base", "2")]
        assert screen.episode_b == ids["episodes"][("cand", "2")]
        row = screen.alignment.rows[screen.query_one(AlignedLanes).cursor]
        assert row.b.step_idx == target.idx and row.b.name == "transfer_to_human_agents"


async def test_search_ranks_by_relevance_on_ctrl_o(store):
    """ctrl+o: the same words' hits ranked by bm25 (as `t2e search --rank`), said in the
    status line; again: storage order. Before any search it says what will come."""
    from store import queries

    path, _ = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await pilot.pause()
        screen = app.screen
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert "ranked (bm25)" in str(screen.query_one("#search-status").render())
        await pilot.press("ctrl+o")
        await pilot.press(*"user", "enter")
        await settle(pilot)
        conn = da.open_conn(path)
        try:
            stored = [h["step_id"] for h in queries.search(conn, "user", limit=200)]
            ranked = [h["step_id"] for h in queries.search(conn, "user", limit=200, rank=True)]
        finally:
            conn.close()
        assert stored != ranked and sorted(stored) == sorted(ranked)  # the order differs
        assert [h.step_id for h in screen.hits] == stored
        assert "storage order" in str(screen.query_one("#search-status").render())
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: [h.step_id for h in screen.hits] == ranked)
        assert "ranked (bm25)" in str(screen.query_one("#search-status").render())
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: [h.step_id for h in screen.hits] == stored)


async def test_help_lists_every_binding(store):
    path, _ = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await open_pair(app, pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        ids = {r[2] for r in help_screen.rows}
        assert {"compare.next", "compare.prev", "compare.toggle", "compare.expand", "help",
                "search", "quit", "back", "edit", "rerun", "gate", "lineage"} <= ids
        await pilot.press("escape")
        assert isinstance(app.screen, CompareScreen)


async def test_keymap_override_from_config(store, tmp_path, monkeypatch):
    path, _ = store
    cfg = tmp_path / "config.toml"
    cfg.write_text('[keymap]\n"compare.next" = "m"\n', "utf-8")
    monkeypatch.setenv("T2E_CONFIG", str(cfg))
    app = make_app(path, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await open_pair(app, pilot)
        await pilot.press("2", "enter")
        await settle(pilot)
        lanes = app.screen.query_one(AlignedLanes)
        al = app.screen.alignment
        await pilot.press("n")  # no longer bound
        assert lanes.cursor == al.divergences[0]
        await pilot.press("m")
        assert lanes.cursor == al.divergences[1]


async def test_bad_config_becomes_a_notice(store, tmp_path, monkeypatch):
    path, _ = store
    cfg = tmp_path / "config.toml"
    cfg.write_text("[keymap\n", "utf-8")
    monkeypatch.setenv("T2E_CONFIG", str(cfg))
    app = make_app(path, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert any("config ignored" in n.message and "config.toml" in n.message
                   for n in app._notifications)
        assert isinstance(app.screen, RunsScreen)


async def test_worker_error_becomes_a_notice(store):
    path, _ = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_compare(424242)
        await settle(pilot)
        assert any("loading trajectories failed" in n.message and "424242" in n.message
                   for n in app._notifications)


async def test_command_palette_runs_screen_actions(store):
    path, _ = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pair(app, pilot)
        screen = app.screen
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Regressed")
        await palette_shows(pilot, "regressed")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and screen.filter == "regressed"


async def test_expand_toggles_long_fields(tmp_path):
    from store import writer
    from store.db import open_db

    path = tmp_path / "big.sqlite"
    db = open_db(path)
    rid = writer.create_run(db, name="big", agent_model="m", run_id="runbig")
    eid = writer.begin_episode(db, rid, episode_key="1:0", task_id="1", trial=0)
    writer.append_step(db, eid, 0, {"role": "user", "content": "x" * 20_000 + "END"})
    writer.finish_episode(db, eid, termination_reason="user_stop", reward_info={"reward": 0.0})
    db.conn.close()
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.open_compare(eid)
        await settle(pilot)
        screen = app.screen
        screen.query_one(AlignedLanes).move_to(0)
        await pilot.pause()
        body = str(screen.query_one("#detail-body").render())
        assert "press x to expand" in body and "END" not in body
        await pilot.press("x")
        await pilot.pause()
        body = str(screen.query_one("#detail-body").render())
        assert "END" in body.replace("\n", "")


async def test_compare_scrolls_to_a_divergence_below_the_fold(tmp_path):
    """At 80×24 the first divergence of a long pair is far down: it must be on screen."""
    from store import writer
    from store.db import open_db

    path = tmp_path / "long.sqlite"
    db = open_db(path)
    eids = []
    for r, last in (("a", "#W1"), ("b", "#W2")):
        rid = writer.create_run(db, name=f"long-{r}", agent_model="m", run_id=f"long{r}")
        eid = writer.begin_episode(db, rid, episode_key="1:0", task_id="1", trial=0)
        msgs = []
        for i in range(40):
            msgs.append({"role": "user", "content": f"question {i}"})
            msgs.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": f"c{i}", "name": "get_order_details",
                 "arguments": {"order_id": f"#X{i}"}}]})
            msgs.append({"role": "tool", "id": f"c{i}", "content": "{}"})
        msgs.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": "w", "name": "cancel_pending_order", "arguments": {"order_id": last}}]})
        for i, m in enumerate(msgs):
            writer.append_step(db, eid, i, m)
        writer.finish_episode(db, eid, termination_reason="user_stop",
                              reward_info={"reward": 1.0})
        eids.append(eid)
    db.conn.close()
    from t2e_tui.align import align

    conn = da.open_conn(str(path))
    a, b = (da.load_episode(conn, e) for e in eids)
    conn.close()
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # the data can arrive before the screen's first layout (the read starts before
        # compose): deliver it then, as the fast path does
        screen = CompareScreen(*eids)
        screen._started, screen._pending = True, (a, b, align(a.steps, b.steps))
        app.push_screen(screen)
        await settle(pilot)
        lanes = app.screen.query_one(AlignedLanes)
        assert lanes.cursor == app.screen.alignment.divergences[0] == 80
        top = lanes.scroll_offset.y
        assert top <= lanes.cursor < top + lanes.size.height - 1
        await pilot.press("home")
        assert lanes.scroll_offset.y == 0
        await pilot.press("n")
        assert lanes.scroll_offset.y <= 80 < lanes.scroll_offset.y + lanes.size.height - 1


async def test_tasks_title_labels_the_scripted_run(store):
    path, ids = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        app.open_tasks(ids["scripted"], None)
        await settle(pilot)
        title = str(app.screen.query_one("#tasks-title").render())
        assert "scripted stand-in" in title and "vs gold actions" in title


async def test_marks_and_visible_tasks_are_shared_with_the_workbench(store):
    path, _ = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("b", "down", "c")
        assert (app.baseline_run, app.candidate_run) == ("runbase", "runcand")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("4")  # the candidate's failures: what a rerun would retry
        assert app.screen.visible_task_ids() == ["2"]


async def test_trial_keys_cycle_through_a_tasks_trials(tmp_path):
    from tui_fixture import GOLD, _episode, _task, trajectory

    from store import writer
    from store.db import open_db

    path = tmp_path / "trials.sqlite"
    db = open_db(path)
    eps: dict = {}
    for rid, variant in (("rb", "base"), ("rc", "cand")):
        writer.create_run(db, name=rid, agent_model="m", run_id=rid, num_trials=3)
        writer.put_tasks(db, rid, [_task("2", GOLD["2"])])
        for trial in range(3):
            msgs, ok, found = trajectory("2", variant)
            eps[(rid, trial)] = _episode(db, rid, "2", trial, trial, msgs, ok, found)
    db.conn.close()
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.open_compare(eps[("rb", 0)], eps[("rc", 0)])
        await settle(pilot)
        assert "B trial 1/3" in str(app.screen.query_one("#cmp-title").render())
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        assert (screen.episode_a, screen.episode_b) == (eps[("rb", 0)], eps[("rc", 1)])
        assert "B trial 2/3" in str(screen.query_one("#cmp-title").render())
        await pilot.press("1", "1")
        await settle(pilot)
        assert app.screen.episode_a == eps[("rb", 2)]
        await pilot.press("escape")  # the trial switch replaced the screen: back goes up
        assert isinstance(app.screen, RunsScreen)


async def test_compare_search_compare_stacks_two_compare_screens(store):
    path, ids = store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_compare(ids["episodes"][("base", "1")])
        await settle(pilot)
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"exchange", "enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        stack = [type(s).__name__ for s in app.screen_stack]
        assert stack == ["RunsScreen", "CompareScreen", "SearchScreen", "CompareScreen"]
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.episode_a == ids["episodes"][("base", "1")]


async def test_start_on_tasks_or_compare(store):
    path, ids = store
    app = make_app(path, load_config=False, poll_interval=0, start=("tasks", "runbase", "runcand"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, TasksScreen) and app.screen.candidate == "runcand"
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)
    eid = ids["episodes"][("cand", "3")]
    app = make_app(path, load_config=False, poll_interval=0, start=("compare", str(eid)))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen) and app.screen.alignment.single
