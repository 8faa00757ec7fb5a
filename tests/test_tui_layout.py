"""Layout at small and large sizes on the demo store (mini-retail ids such as
"crossorder-01", tasks without NL assertions): columns fit their content, nothing runs off."""

from __future__ import annotations

import pytest

from t2e_tui.app import make_app
from t2e_tui.demo import build_demo
from t2e_tui.screens.tasks import TasksScreen, merge_hints
from t2e_tui.widgets.linetable import Column, LineTable


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo") / "demo.sqlite")


async def settle(app, pilot):
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause()


def line_text(widget, y: int) -> str:
    return "".join(seg.text for seg in widget.render_line(y))


async def open_demo_tasks(app, pilot, demo):
    await settle(app, pilot)
    by = {c["name"]: c for c in demo["candidates"]}
    app.open_tasks(demo["runs"]["baseline"], by["cross-order-v1"]["run_id"])
    await settle(app, pilot)
    assert isinstance(app.screen, TasksScreen)
    return app.screen


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
