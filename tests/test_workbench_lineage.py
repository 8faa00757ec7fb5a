"""The lineage screen keeps the user's place: after d (diff) and Escape the cursor is on the
version it was on, so the next a ablates the version the user picked."""

from __future__ import annotations

from textual.widgets import DataTable
from tui_fixture import wait_for

from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.workbench_editor import DiffScreen
from t2e_tui.ui.screens.workbench_lineage import LineageScreen


async def test_cursor_stays_after_diff_and_escape(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, LineageScreen)
                       and len(getattr(app.screen, "rows", [])) >= 3
                       and app.screen.query_one(DataTable).row_count >= 3)
        lineage = app.screen
        table = lineage.query_one(DataTable)
        await pilot.press("down", "down")
        await pilot.pause()
        picked = lineage.rows[table.cursor_row]["hash"]
        assert table.cursor_row == 2
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is lineage)
        await pilot.pause()
        await pilot.pause()
        assert lineage.rows[table.cursor_row]["hash"] == picked
        assert table.cursor_row == 2


async def test_workbench_tables_move_with_j_and_k_like_the_explorer(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, LineageScreen)
                       and app.screen.query_one(DataTable).row_count >= 3)
        table = app.screen.query_one(DataTable)
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
