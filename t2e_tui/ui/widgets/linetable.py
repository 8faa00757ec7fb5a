"""A virtualised, keyboard-driven table on the Line API.

DataTable builds per-row structures and gets slow at tens of thousands of rows; this table keeps
rows as plain tuples and renders only the visible lines (`render_line`), caching Strips in an LRU.
Moving the cursor repaints two lines. Cells are plain strings or lists of (text, style-name)
segments; text is never parsed as markup.
"""

from __future__ import annotations

from collections import abc
from dataclasses import dataclass
from typing import Any, Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from ...fitting import cut_apart, end_cut, middle_cut
from ...textsafe import one_line

# Semantic style names used by cells across the app (theme-neutral colours).
STYLES: dict[str, Style] = {
    "": Style(),
    "dim": Style(dim=True),
    "bold": Style(bold=True),
    "pass": Style(color="green"),
    "fail": Style(color="red"),
    "regressed": Style(color="red", bold=True),
    "fixed": Style(color="green", bold=True),
    "warn": Style(color="yellow"),
    "scripted": Style(color="yellow", italic=True),
    "running": Style(color="cyan", italic=True),
    "role": Style(color="cyan", bold=True),
    "name": Style(bold=True),
    "key": Style(dim=True),
    "value": Style(),
    "changed": Style(color="black", bgcolor="yellow", bold=True),
    "error": Style(color="red", bold=True),
    "text": Style(),
    "gold": Style(color="yellow", bold=True),
    "mark": Style(color="red", bold=True),
    "hit": Style(color="black", bgcolor="yellow"),
}

Cell = Any  # str | list[tuple[str, str]]


class LazyRows(abc.Sequence):
    """Rows whose cells are built when a line is drawn: `items[i]` through `cells(item)`.

    Why: a table of 25,000 tasks shows ~45 of them; building every row's cells on each load,
    filter or sort took most of a second. `cells` is expected to cache per item when the
    same rows are drawn again (the screen owns that cache and clears it when cells change)."""

    __slots__ = ("items", "cells")

    def __init__(self, items: Sequence[Any], cells) -> None:
        self.items, self.cells = items, cells

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.cells(item) for item in self.items[index]]
        return self.cells(self.items[index])


@dataclass
class Column:
    label: str
    width: int = 0          # 0 = takes the remaining width (at most one such column)
    justify: str = "left"   # left | right
    fit: int = 0            # > 0: `fit_columns` sizes it to its content, at most this wide
    cut: str = "end"        # end | middle: a too-long plain cell keeps its head and its tail
    #                         | apart: `ID NAME` cells, the id kept whole and the names cut
    #                           apart from each other (fitting.cut_apart: none looks like a
    #                           cut of another, so two runs are told apart by name too)


def cell_width(cell: Cell) -> int:
    """Cells a value takes before cutting (newlines become spaces when drawn)."""
    if isinstance(cell, str) or cell is None:
        return cell_len(cell or "")
    return sum(cell_len(t) for t, _ in cell)


def cell_segments(cell: Cell, width: int, justify: str = "left") -> list[Segment]:
    """A cell as Segments exactly `width` cells wide (cut with …, padded)."""
    if isinstance(cell, str) or cell is None:
        parts = [(one_line(cell or "", 10_000), "")]
    else:
        parts = [(one_line(t, 10_000) if "\n" in t else t, s) for t, s in cell]
    out: list[Segment] = []
    used = 0
    for text, style in parts:
        if used >= width:
            break
        room = width - used
        if cell_len(text) > room:  # cells, not characters: a CJK character takes two
            text = end_cut(text, room)
        out.append(Segment(text, STYLES.get(style, Style())))
        used += cell_len(text)
    pad = width - used
    if pad > 0:
        if justify == "right":
            out.insert(0, Segment(" " * pad))
        else:
            out.append(Segment(" " * pad))
    return out


class RowCursorView(ScrollView):
    """What LineTable and AlignedLanes share: a pinned header line over `n_rows` data rows,
    a row cursor and an LRU cache of rendered Strips (`_cache`) that depends on focus."""

    cursor: reactive[int] = reactive(0, always_update=True, repaint=False)

    @property
    def n_rows(self) -> int:
        raise NotImplementedError

    def on_resize(self) -> None:
        self._cache.clear()
        self.virtual_size = Size(self.size.width, self.n_rows + 1)

    def action_cursor(self, delta: int) -> None:
        if self.n_rows:
            self.cursor = max(0, min(self.n_rows - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 2))

    def action_jump(self, where: int) -> None:
        if self.n_rows:
            self.cursor = self.n_rows - 1 if where < 0 else where

    def move_to(self, row: int) -> None:
        """Put the cursor on `row` (clamped) and scroll it into view."""
        if self.n_rows:
            self.cursor = max(0, min(self.n_rows - 1, row))

    def on_click(self, event) -> None:
        """A click puts the cursor on the clicked row; a double click (or a click on the row
        already under the cursor) also selects it, as Enter does. Line 0 is the header."""
        row = self.scroll_offset.y + event.y - 1
        if event.y < 1 or not 0 <= row < self.n_rows:
            return
        again = row == self.cursor
        self.move_to(row)
        self.focus()
        if again or getattr(event, "chain", 1) >= 2:
            self.row_clicked_again(row)

    def row_clicked_again(self, row: int) -> None:
        """What a second click on a row does (LineTable: select it)."""

    def on_focus(self) -> None:
        self._cache.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._cache.clear()
        self.refresh()


class LineTable(RowCursorView, can_focus=True):
    """Rows of cells with a cursor; Enter selects. Handles 100k rows without slowing keys."""

    HELP_NAME = "list"  # how help and the palette name it

    # overflow-x hidden: rows are cut to the view, never scrolled sideways (a horizontal
    # scrollbar would cost a line and hide the row's end under the vertical one)
    DEFAULT_CSS = """
    LineTable { height: 1fr; background: $surface; overflow-x: hidden; }
    LineTable:focus { background-tint: $foreground 3%; }
    LineTable > .linetable--header { text-style: bold; background: $panel; }
    LineTable > .linetable--cursor { background: $accent 40%; }
    LineTable:focus > .linetable--cursor { background: $accent 70%; }
    """
    COMPONENT_CLASSES = {"linetable--header", "linetable--cursor"}
    BINDINGS = [
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.pagedown"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.pageup"),
        Binding("home", "jump(0)", "First", show=False, id="table.first"),
        Binding("end", "jump(-1)", "Last", show=False, id="table.last"),
        Binding("enter", "select", "Open", id="table.select"),
    ]

    class Highlighted(Message):
        def __init__(self, table: "LineTable", row: int) -> None:
            super().__init__()
            self.table, self.row = table, row

        @property
        def control(self) -> "LineTable":
            return self.table

    class Selected(Message):
        def __init__(self, table: "LineTable", row: int) -> None:
            super().__init__()
            self.table, self.row = table, row

        @property
        def control(self) -> "LineTable":
            return self.table

    def __init__(self, columns: Sequence[Column], *, name: str | None = None,
                 id: str | None = None, classes: str | None = None,
                 empty: str = "nothing to show") -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self.rows: Sequence[Sequence[Cell]] = []
        self.empty = empty
        self._cache: LRUCache[tuple, Strip] = LRUCache(2048)
        self._generation = 0
        self._apart: dict[tuple, list[str]] = {}  # (column, width, generation) -> cells
        self._bases: dict[bool, tuple[Style, Style, Style]] = {}  # focus -> row/header/cursor

    def notify_style_update(self) -> None:
        # a theme or CSS change: the cached lines and base styles carry the old colours
        self._bases.clear()
        self._cache.clear()
        super().notify_style_update()

    def _base_styles(self) -> tuple[Style, Style, Style]:
        """(row, header, cursor) base styles, worked out once per focus state: Textual's
        `rich_style` walks the CSS of every ancestor, and a full page redraws 45 lines."""
        focus = self.has_focus
        bases = self._bases.get(focus)
        if bases is None:
            base = self.rich_style
            bases = self._bases[focus] = (
                base, base + self.get_component_rich_style("linetable--header"),
                base + self.get_component_rich_style("linetable--cursor"))
        return bases

    # --- data ---------------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[Sequence[Cell]], *, keep_cursor: bool = True) -> None:
        """Replace the rows (a list, or `LazyRows` built as they are drawn); the cursor
        stays on the same index, clamped."""
        self.rows = rows
        self._generation += 1
        self._cache.clear()
        self._set_length(len(rows) + 1)
        cur = self.cursor if keep_cursor else 0
        self.cursor = max(0, min(cur, len(rows) - 1))
        # the new virtual size is applied at the next layout; scroll to the cursor after it
        self.call_after_refresh(self._scroll_cursor_into_view)
        self.refresh()

    def _set_length(self, lines: int) -> None:
        """A new number of lines. Assigning `virtual_size` lays out the whole screen again
        (it is a layout reactive): on a filter key over 10^4 rows that was most of the key's
        time. Only a scrollbar that appears or goes needs a layout; otherwise the scrollbars,
        their thumbs and the scroll offset are updated in place, as Textual itself does for a
        size change without layout (Widget._size_updated)."""
        new = Size(self.size.width, lines)
        if not self.is_mounted or not self.container_size:
            self.virtual_size = new
            return
        before = (self.show_vertical_scrollbar, self.show_horizontal_scrollbar)
        self.set_reactive(Widget.virtual_size, new)
        self._scroll_update(new)
        if (self.show_vertical_scrollbar, self.show_horizontal_scrollbar) != before:
            self.refresh(layout=True)

    def fit_columns(self, rows: list[Sequence[Cell]]) -> None:
        """Size each `fit` column to its longest cell in `rows` (and its label), capped at
        its `fit`; the flexible column gets what is left. Call with every row of the data,
        not only the filtered ones, so widths stay put when a filter changes."""
        self.fit_widths([max((cell_width(r[i]) for r in rows if i < len(r)), default=0)
                         for i in range(len(self.columns))])

    def fit_widths(self, longest: Sequence[int]) -> None:
        """`fit_columns` from the longest cell of each column, known without building every
        row's cells (a lazy table of 10^4 rows measures its data instead)."""
        changed = False
        for col, most in zip(self.columns, longest):
            if not col.fit:
                continue
            width = max(1, min(col.fit, max(cell_len(col.label), most)))
            if width != col.width:
                col.width, changed = width, True
        if changed:
            self._generation += 1
            self._cache.clear()
            self.refresh()

    @property
    def line_width(self) -> int:
        """Width rows are drawn at: the view minus the vertical scrollbar, so the last
        column ends (with its …) where the eye can see it."""
        return self.scrollable_content_region.width

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    # --- cursor -------------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        self._scroll_cursor_into_view()
        if self.rows:
            self.post_message(self.Highlighted(self, new))

    def _scroll_cursor_into_view(self) -> None:
        # data row i sits on content line i + 1 (line 0 is the pinned header)
        top = self.scroll_offset.y
        height = max(1, self.size.height - 1)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def action_select(self) -> None:
        if self.rows:
            self.post_message(self.Selected(self, self.cursor))

    def row_clicked_again(self, row: int) -> None:
        self.action_select()

    # --- rendering ----------------------------------------------------------------------------

    def _widths(self, width: int) -> list[int]:
        fixed = sum(c.width + 1 for c in self.columns if c.width)
        flex = [c for c in self.columns if not c.width]
        rest = max(4, width - fixed - (len(flex) - 1 if flex else 0))
        return [c.width if c.width else rest for c in self.columns]

    def _cut_apart(self, column: int, width: int) -> list[str]:
        """Every row's cell of an `apart` column at `width`, cut together (once per data)."""
        key = (column, width, self._generation)
        got = self._apart.get(key)
        if got is None:
            cells = [one_line(r[column] if column < len(r) else "", 10_000) for r in self.rows]
            ids, names = zip(*(c.partition(" ")[::2] for c in cells)) if cells else ((), ())
            room = max(1, width - max((cell_len(i) + 1 for i in ids), default=0))
            got = [f"{i} {n}" if n else i for i, n in zip(ids, cut_apart(list(names), room))]
            self._apart = {key: got}
        return got

    def render_line(self, y: int) -> Strip:
        width = self.line_width
        if y == 0:
            return self._line(-1, width)
        index = self.scroll_offset.y + y - 1
        if index >= len(self.rows):
            if not self.rows and y == 1:
                return Strip([Segment(self.empty[:width].ljust(width), Style(dim=True))])
            return Strip.blank(width, self.rich_style)
        return self._line(index, width)

    def _line(self, index: int, width: int) -> Strip:
        is_cursor = index == self.cursor and index >= 0
        key = (index, is_cursor, width, self._generation, self.has_focus)
        strip = self._cache.get(key)
        if strip is not None:
            return strip
        widths = self._widths(width)
        segs: list[Segment] = []
        if index < 0:
            cells: Sequence[Cell] = [c.label for c in self.columns]
        else:
            cells = self.rows[index]
        for i, (col, w) in enumerate(zip(self.columns, widths)):
            if i:
                segs.append(Segment(" "))
            cell = cells[i] if i < len(cells) else ""
            if col.cut == "middle" and isinstance(cell, str) and cell_len(cell) > w:
                cell = middle_cut(one_line(cell, 10_000), w)
            elif col.cut == "apart" and index >= 0 and isinstance(cell, str):
                cell = self._cut_apart(i, w)[index]
            segs.extend(cell_segments(cell, w, col.justify))
        row, header, cursor = self._base_styles()
        base = header if index < 0 else cursor if is_cursor else row
        strip = Strip([Segment(s.text, base + s.style if s.style else base) for s in segs])
        if strip.cell_length != width:  # narrow views, wide characters
            strip = strip.crop_extend(0, width, base)
        self._cache[key] = strip
        return strip
