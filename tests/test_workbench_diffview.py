"""DiffView: virtualised lines, mode toggle, change jumps, text shown as typed."""

from __future__ import annotations

from textual.app import App, ComposeResult

from t2e_tui.ui.widgets.diffview import DiffView, wrap_offsets

OLD = "\n".join(f"line {i}" for i in range(1, 401))
NEW = OLD.replace("line 100\n", "line one hundred [bold]x[/bold]\n").replace(
    "line 300\n", "")


class One(App):
    def __init__(self, old=OLD, new=NEW, mode="side"):
        super().__init__()
        self.args = (old, new, mode)

    def compose(self) -> ComposeResult:
        old, new, mode = self.args
        yield DiffView(old, new, mode=mode)


def test_wrap_offsets_are_contiguous_and_bounded():
    text = "alpha beta gamma delta " * 10 + "x" * 50
    parts = wrap_offsets(text, 17)
    assert parts[0][0] == 0 and parts[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
    assert all(0 < e - s <= 17 for s, e in parts)


async def test_side_by_side_lines_jumps_and_toggle():
    app = One()
    async with app.run_test(size=(100, 20)) as pilot:
        view = app.query_one(DiffView)
        view.focus()
        await pilot.pause()
        assert view.line_count == 400  # one display line per row: nothing wraps at 100
        starts = view.change_starts
        assert starts == [99, 299]
        await pilot.press("n")
        await pilot.pause()
        assert view.scroll_offset.y == 99
        await pilot.press("n")
        await pilot.pause()
        assert view.scroll_offset.y == min(299, view.max_scroll_y)
        await pilot.press("p")
        await pilot.pause()
        assert view.scroll_offset.y == 99
        await pilot.press("m")
        await pilot.pause()
        assert view.mode == "unified"
        # two hunks: header + 3 context + change + 3 context each (replace = 2 lines)
        assert view.line_count == (1 + 3 + 2 + 3) + (1 + 3 + 1 + 3)


async def test_markup_and_controls_are_shown_not_interpreted():
    app = One("a\n", "a\n[bold]b[/bold] \x1b[31mred\n", mode="unified")
    async with app.run_test(size=(60, 8)) as pilot:
        await pilot.pause()
        view = app.query_one(DiffView)
        text = "".join(view.render_line(y).text for y in range(view.line_count))
        assert "[bold]b[/bold]" in text and "\x1b" not in text and "red" in text


async def test_identical_texts_say_so():
    app = One("same\n", "same")
    async with app.run_test(size=(60, 6)) as pilot:
        await pilot.pause()
        view = app.query_one(DiffView)
        assert "identical" in view.render_line(0).text
