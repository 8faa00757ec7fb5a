"""Enter on a failed episode of the failures screen opens the compare screen at the step the
list shows (where the failing run went wrong), and the header says that step first, at 80
columns too: the first A/B difference (often wording at step 2) is one `n` away."""

from __future__ import annotations

import pytest
from tui_fixture import screen_lines, settle, wait_for

from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.compare import CompareScreen
from t2e_tui.ui.screens.failures import FailuresScreen
from t2e_tui.ui.widgets.lanes import AlignedLanes
from t2e_tui.ui.widgets.linetable import LineTable

pytestmark = pytest.mark.shared


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
async def test_the_header_says_the_step_enter_opened_at(real_pair, size):
    store, (base, sft) = real_pair
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        app.open_failures(sft, base)
        await wait_for(pilot, lambda: isinstance(app.screen, FailuresScreen)
                       and app.screen.loaded)
        fails = app.screen
        await settle(pilot)
        table = fails.query_one(LineTable)
        table.move_to(next(i for i, r in enumerate(fails._shown)
                           if r["class"] == "missing_write"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: fails.view == "episodes" and fails.episodes_loaded)
        await settle(pilot)
        ep = next(e for e in fails._shown if e.task_id == "18")
        assert ep.first_step == 21
        table.move_to(fails._shown.index(ep))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                       and app.screen.alignment is not None)
        compare = app.screen
        await settle(pilot)
        row = compare.alignment.rows[compare.query_one(AlignedLanes).cursor]
        assert row.b is not None and 21 in (row.b.step_idx, row.b.result_idx)
        # the header's third line starts with the step the cursor is on, and why
        third = screen_lines(app)[2].strip()
        assert third.startswith("B fails at step 21"), "\n".join(screen_lines(app)[:4])
        assert "missing_w" in third   # the class, cut at 80 columns
        assert "2 differences" in third   # and the differences, n/p away
