"""The real shared pair (gpt-4.1 vs Sierra's SFT gpt-4.1, retail test split) in the explorer:
task 18 passes in one run and fails in the other, and the compare screen shows where they part.
Skipped when ../shared is absent."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from tui_fixture import line_text, palette_shows, settle, wait_for

from t2e_tui import data_access as da
from t2e_tui.align_print import print_compare
from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.compare import CompareScreen
from t2e_tui.ui.screens.tasks import TasksScreen
from t2e_tui.ui.widgets.lanes import AlignedLanes

pytestmark = pytest.mark.shared


@pytest.fixture
def shared_store(tmp_path, shared_results):
    from store.db import open_db
    from store.importers import import_paths

    gpt41, sft = shared_results
    path = tmp_path / "shared.sqlite"
    db = open_db(path)
    result = import_paths(db, [gpt41, sft])
    db.conn.close()
    assert not result["rejected"], result["rejected"]
    return path, [r["run_id"] for r in result["imported"]]


async def test_task_18_regresses_and_compare_shows_where_runs_part(shared_store):
    path, (gpt41, sft) = shared_store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        runs = app.screen.runs
        assert [r.run_id for r in runs] == [gpt41, sft]
        assert [r.episodes for r in runs] == [40, 40]
        await pilot.press("b", "down", "c", "enter")
        await settle(pilot)
        tasks = app.screen
        assert isinstance(tasks, TasksScreen)
        by_id = {r.task_id: r for r in tasks.all_rows}
        assert len(by_id) == 40
        assert by_id["18"].transition == "regressed"
        changed = sorted((t for t, r in by_id.items()
                          if r.transition not in ("both pass", "both fail")), key=int)
        # the 12 tasks the two files disagree on (SPEC §7.6)
        assert changed == ["18", "27", "33", "36", "55", "62", "64", "71", "79", "86", "101",
                           "111"]
        await pilot.press("2", "g")
        await pilot.pause()
        await pilot.press(*"task 18")
        await palette_shows(pilot, "task 18")
        await pilot.press("enter")  # going to a task opens it
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert screen.a.task_id == "18" and screen.b.task_id == "18"
        assert screen.a.meta["success"] == 1 and screen.b.meta["success"] == 0
        al = screen.alignment
        lanes = screen.query_one(AlignedLanes)
        # the conversations part at step 2 (the agents word their first question differently)
        assert al.rows[lanes.cursor].split and al.rows[lanes.cursor].step("a") == 2
        assert len(al.blocks) == 2
        await pilot.press("n")
        row = al.rows[lanes.cursor]
        # the calls part at the exchange: gpt-4.1 makes it, the SFT model never does
        assert row.status == "only_a" and row.a.name == "exchange_delivered_order_items"
        exchange = next(g for g in al.gold if g.event.name == "exchange_delivered_order_items")
        assert (exchange.found_a, exchange.found_b) == (True, False)
        # the reads before the split were the same calls on both sides
        before = [r for r in al.rows[:lanes.cursor] if r.status != "text"]
        assert [r.a.name for r in before] == ["find_user_id_by_name_zip", "get_user_details",
                                              "get_order_details", "get_order_details"]
        assert all(r.status == "same" for r in before)


def test_cli_twin_prints_the_same_split(shared_store):
    path, (gpt41, sft) = shared_store
    conn = da.open_conn(str(path))
    try:
        buf = io.StringIO()
        al = print_compare(Console(file=buf, width=160), conn, f"{gpt41}:18", f"{sft}:18")
    finally:
        conn.close()
    first = al.rows[al.blocks[0][0]]
    assert first.split and (first.step("a"), first.step("b")) == (2, 2)
    call = al.rows[al.blocks[1][0]]
    assert call.a.name == "exchange_delivered_order_items" and call.b is None
    out = buf.getvalue()
    assert "missing" in out
    # the compare header's words (align_where): the first block's steps on each side
    assert "2 differences; first at A steps 2–5, B steps 2–3 (messages part)" in out


async def test_task_18_walk_at_80x24_takes_six_keys(shared_store):
    """From `t2e open` to why the SFT run fails, at 80x24: b ↓ o (pair), 2 (regressed; task
    18 is the first), Enter (compare), End (last turns). The screen then shows the SFT run's
    last user message (its ###STOP###) and the exchange only gpt-4.1 made."""
    path, (gpt41, sft) = shared_store
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("b", "down", "o")
        await settle(pilot)
        await pilot.press("2", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.a.task_id == "18"
        await pilot.press("end")
        await settle(pilot)
        await wait_for(pilot, lambda: not screen.detail_pending)
        detail = str(screen.query_one("#detail-body").render())
        # A's last user message, and where B ended (its last user message), both whole: the
        # turns before A's extra exchange pair with B's last ones, so A's end has a row alone
        assert "A · step 28 · user" in detail and "No, that’s all. Thanks. ###STOP###" in detail
        assert "B ended at step 22" in detail and "Thank you.###STOP###" in detail
        lanes = screen.query_one(AlignedLanes)
        shown = [line_text(lanes, y) for y in range(lanes.size.height)]
        # the exchange only A made is in view, and the cut last line keeps its ###STOP###
        assert any("◂" in t and "exchange_delivered_order_items" in t for t in shown), shown
        assert shown[-1].rstrip().endswith("###STOP###"), shown[-1]
