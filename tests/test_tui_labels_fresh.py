"""A label made on the compare screen shows on the screens under it as soon as they are back
on top (the failures and tasks screens read the labels once, on mount, and went stale): the
real retail pair, task 18 of the fine-tuned run labelled wrong_claim."""

from __future__ import annotations

import pytest
from tui_fixture import screen_lines, settle, wait_for

from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.compare import CompareScreen
from t2e_tui.ui.screens.failures import FailuresScreen
from t2e_tui.ui.screens.label import LabelScreen
from t2e_tui.ui.screens.tasks import TasksScreen
from t2e_tui.ui.widgets.linetable import LineTable

pytestmark = pytest.mark.shared


async def _cursor_to(pilot, screen, items, pick) -> None:
    table = screen.query_one(LineTable)
    table.move_to(next(i for i, item in enumerate(items) if pick(item)))
    await settle(pilot)


async def _label_on_compare(app, pilot, text: str) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                   and app.screen.alignment is not None)
    compare = app.screen
    await settle(pilot)
    await pilot.press("l")
    await wait_for(pilot, lambda: isinstance(app.screen, LabelScreen))
    await pilot.press(*text, "enter")
    await wait_for(pilot, lambda: app.screen is compare)
    await settle(pilot)
    await pilot.press("escape")
    await wait_for(pilot, lambda: not isinstance(app.screen, CompareScreen))
    await settle(pilot)


def _row(app, first: str) -> str:
    return next(ln for ln in screen_lines(app) if ln.split()[:1] == [first])


async def test_failures_screen_shows_a_label_made_on_the_compare_screen(real_pair):
    store, (base, sft) = real_pair
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_failures(sft, base)
        await wait_for(pilot, lambda: isinstance(app.screen, FailuresScreen)
                       and app.screen.loaded)
        fails = app.screen
        await settle(pilot)
        assert not any("wrong_claim" in ln for ln in screen_lines(app))
        await _cursor_to(pilot, fails, fails._shown, lambda r: r["class"] == "missing_write")
        await pilot.press("enter")
        await wait_for(pilot, lambda: fails.view == "episodes" and fails.episodes_loaded)
        await settle(pilot)
        assert "wrong_claim" not in _row(app, "18")
        await _cursor_to(pilot, fails, fails._shown, lambda e: e.task_id == "18")
        cursor = fails.query_one(LineTable).cursor
        await pilot.press("enter")
        await _label_on_compare(app, pilot, "wrong_claim note")
        assert app.screen is fails
        # the episode list, where the person was, with the cursor on the same row
        assert "wrong_claim" in _row(app, "18"), "\n".join(screen_lines(app))
        assert fails.query_one(LineTable).cursor == cursor
        await pilot.press("1")
        await settle(pilot)
        # the class table, as `t2e failures r-sft --vs r-base` counts it: 0 -> 1, +1
        assert _row(app, "wrong_claim").split()[:4] == ["wrong_claim", "0", "1", "+1"]


async def test_tasks_screen_shows_a_label_made_on_the_compare_screen(real_pair):
    store, (base, sft) = real_pair
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.open_tasks(base, sft)
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen.loaded
                       and app.screen.failure_classes)
        tasks = app.screen
        await settle(pilot)
        assert "missing_write" in _row(app, "18") and "wrong_claim" not in _row(app, "18")
        await _cursor_to(pilot, tasks, tasks.shown, lambda r: r.task_id == "18")
        await pilot.press("enter")
        await _label_on_compare(app, pilot, "wrong_claim note")
        assert app.screen is tasks
        assert "wrong_claim" in _row(app, "18"), "\n".join(screen_lines(app))
