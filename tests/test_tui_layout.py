"""Layout at small and large sizes on the demo store (mini-retail ids such as
"crossorder-01", tasks without NL assertions): columns fit their content, nothing runs off."""

from __future__ import annotations

import json

import pytest
from tui_fixture import line_text, settle, wait_for

from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.tasks import TasksScreen, merge_hints
from t2e_tui.ui.widgets.linetable import Column, LineTable


async def open_demo_tasks(app, pilot, demo):
    await settle(pilot)
    by = {c["name"]: c for c in demo["candidates"]}
    app.open_tasks(demo["runs"]["baseline"], by["cross-order-v1"]["run_id"])
    await settle(pilot)
    assert isinstance(app.screen, TasksScreen)
    return app.screen


async def open_first_fixed_compare(app, pilot, demo):
    """The demo pair's tasks screen, Fixed filter, Enter: the compare screen of the first."""
    screen = await open_demo_tasks(app, pilot, demo)
    screen.action_filter("fixed")
    await pilot.press("enter")
    await settle(pilot)


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
async def test_tasks_screen_shows_whole_task_ids_and_hints_end_in_view(demo, size):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=size) as pilot:
        screen = await open_demo_tasks(app, pilot, demo)
        table = screen.query_one(LineTable)
        assert not table.show_horizontal_scrollbar  # rows are cut, never scrolled sideways
        width = table.scrollable_content_region.width
        assert max(len(r.task_id) for r in screen.shown) > 7  # e.g. "crossorder-01"
        for i, row in enumerate(screen.shown[:table.size.height - 1]):
            text = line_text(table, i + 1)
            assert len(text) == width  # the vertical scrollbar hides nothing
            assert text.split()[0] == row.task_id
            if row.hints:  # a hint both sides share is shown once, whole at 80 columns
                assert merge_hints(row.hints)[0] in text


def test_merge_hints_keeps_sides_and_order():
    assert merge_hints(["C:no confirm", "B:1 tool err", "B:no confirm"]) == [
        "B+C:no confirm", "B:1 tool err"]
    assert merge_hints(["odd hint"]) == ["odd hint"]


async def test_fit_columns_sizes_to_content_capped():
    cols = [Column("task", 7, fit=10), Column("x", 3, fit=5), Column("rest", 0)]
    table = LineTable(cols)
    table.fit_columns([["crossorder-01", "ab", "long"], ["a", [("✓", "pass")] * 2, ""]])
    assert [c.width for c in table.columns] == [10, 2, 0]


# --- compare speed paths (behaviour only; bench/tui.py measures the times) -------------------

async def test_cursor_moves_update_the_detail_pane_once_the_cursor_rests(demo, monkeypatch):
    from t2e_tui.ui.screens.compare import CompareScreen
    from t2e_tui.ui.widgets.detail import StepDetail
    from t2e_tui.ui.widgets.lanes import AlignedLanes

    shown = []
    orig = StepDetail.show
    monkeypatch.setattr(StepDetail, "show",
                        lambda self, row, *a, **k: shown.append(row) or orig(self, row, *a, **k))
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await open_first_fixed_compare(app, pilot, demo)
        cmp = app.screen
        assert isinstance(cmp, CompareScreen)
        lanes = cmp.query_one(AlignedLanes)
        lanes.move_to(0)
        await wait_for(pilot, lambda: not cmp.detail_pending)
        shown.clear()
        for _ in range(3):
            lanes.action_cursor(1)
        await pilot.pause()  # lanes repainted; the detail has not been laid out three times
        assert shown == [] and cmp.detail_pending
        await wait_for(pilot, lambda: not cmp.detail_pending)
        assert len(shown) == 1 and not cmp.detail_pending
        assert shown[0] is cmp.alignment.rows[3]


async def test_small_pair_is_read_before_the_screen_composes(demo):
    """No worker hop for a small pair: the data is there when the screen mounts, and the
    evidence views are still written (after the first paint)."""
    import sqlite3

    from t2e_tui.ui.screens.compare import CompareScreen

    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        conn = sqlite3.connect(demo["store"])
        a, b = [r[0] for r in conn.execute(
            "SELECT episode_id FROM episodes WHERE run_id = ? ORDER BY episode_id LIMIT 2",
            (demo["runs"]["baseline"],))]
        before = conn.execute("SELECT count(*) FROM evidence_views").fetchone()[0]
        screen = CompareScreen(a, b)
        screen.start_load(app)
        assert screen._pending is not None and screen._pending[2].rows
        app.push_screen(screen)
        await settle(pilot)
        assert app.screen.alignment is screen._pending[2]
        after = conn.execute("SELECT count(*) FROM evidence_views").fetchone()[0]
        conn.close()
        assert after == before + 2


async def test_tasks_rows_are_kept_out_of_full_gc_passes_while_shown(demo):
    import gc

    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        gc.unfreeze()
        await open_demo_tasks(app, pilot, demo)
        assert gc.get_freeze_count() > 0
        app.pop_screen()
        await settle(pilot)
        assert gc.get_freeze_count() == 0


# --- the compare header's reward components ----------------------------------------------------

def _ep(task_nl: list, basis: list, nl_reward=None, checks=()):
    from types import SimpleNamespace

    meta = {"reward": 0.0, "success": 0, "reward_basis_json": json.dumps(basis),
            "db_reward": 1.0, "nl_reward": nl_reward, "action_reward": None}
    task = {"id": "t", "evaluation_criteria": {"nl_assertions": task_nl, "actions": []}}
    return SimpleNamespace(label="run:t", scripted=False, meta=meta, checks=list(checks),
                           task=task)


@pytest.mark.parametrize("task_nl,basis,nl_reward,checks,shown", [
    ([], ["DB", "COMMUNICATE"], None, (), False),           # every mini-retail task
    (["agent apologises"], ["DB"], None, (), True),          # the task has NL assertions
    ([], ["DB", "NL_ASSERTION"], None, (), True),            # NL gates the reward
    ([], ["DB"], 1.0, (), True),                              # the episode was judged
    ([], ["DB"], None, ({"kind": "nl_assertion", "met": 1},), True),
])
def test_compare_header_shows_nl_only_when_the_task_or_episode_has_it(
        task_nl, basis, nl_reward, checks, shown):
    from t2e_tui.ui.screens.compare import reward_line

    text = reward_line("A", _ep(task_nl, basis, nl_reward, checks)).plain
    assert ("NL" in text) is shown
    assert "DB 1" in text and "ACTION" in text  # action match matters even as a diagnostic


async def test_demo_compare_header_has_no_nl(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await open_first_fixed_compare(app, pilot, demo)
        title = str(app.screen.query_one("#cmp-title").render())
        assert "reward" in title and "ACTION" in title and "NL" not in title


async def test_compare_lanes_end_left_of_the_scrollbar_at_80x24(demo):
    from t2e_tui.ui.widgets.lanes import AlignedLanes

    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_first_fixed_compare(app, pilot, demo)
        lanes = app.screen.query_one(AlignedLanes)
        assert lanes.show_vertical_scrollbar and not lanes.show_horizontal_scrollbar
        assert len(line_text(lanes, 1)) == lanes.scrollable_content_region.width


def test_one_run_against_gold_shows_its_hints_without_a_side():
    """On the Tasks screen of one run, `B:1 tool err` read as lane B of the compare screen,
    where that run is lane A: one run needs no side (nor in the go-to list, which shows the
    same hints). A pair keeps them."""
    from t2e_tui.task_rows import _rows
    from t2e_tui.ui.screens.tasks_cells import row_cells

    # (task, episode, trial, status, reward, success, termination, tool errors, ...)
    ep = ("7", 1, 0, "done", 0.0, 0, "max_steps", 1)
    (single,) = _rows({"7": [ep]}, {}, False)
    assert single.hints == ["1 tool err", "max steps"]
    assert [h.strip() for h, _ in row_cells(single, False, False, [])[-1]] == single.hints
    (pair,) = _rows({"7": [ep]}, {"7": [ep]}, True)
    assert [h.strip() for h, _ in row_cells(pair, True, False, [])[-1]] == [
        "B+C:1 tool err", "B+C:max steps"]