"""DiffView: a virtualised diff of two texts, side by side or unified (Line API).

The alignment comes from `t2e_tui.difftext` (stdlib difflib). The widget turns its rows into
soft-wrapped display lines once per (mode, width) and paints only the visible ones through
`render_line`, with an LRU cache of Strips, so a long instruction costs what the screen shows.
Text is built from Segments with styles, never parsed as markup: a candidate that contains
`[bold]` shows it as typed.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ... import difftext
from ...textsafe import strip_controls

Spans = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _Cell:
    """One side of one display line: a slice of a source line."""

    kind: str            # equal | add | remove | empty | hunk | info
    no: int | None       # line number on the first display line of a wrapped row only
    text: str
    spans: Spans          # changed character spans, relative to `text`
    marker: str = " "


def wrap_offsets(text: str, width: int) -> list[tuple[int, int]]:
    """Break points for soft-wrapping at spaces (hard break inside over-long words)."""
    if width <= 0:
        return [(0, len(text))]
    if len(text) <= width:
        return [(0, len(text))]
    out = []
    start = 0
    n = len(text)
    while start < n:
        end = min(n, start + width)
        if end < n:
            cut = text.rfind(" ", start + 1, end)
            if cut > start:
                end = cut + 1  # keep the space on the upper line: offsets stay contiguous
        out.append((start, end))
        start = end
    return out


def _slice_spans(spans: Spans, lo: int, hi: int) -> Spans:
    return tuple((max(s, lo) - lo, min(e, hi) - lo) for s, e in spans if s < hi and e > lo)


def _wrapped(kind: str, no: int | None, text: str, spans: Spans, width: int,
             marker: str) -> list[_Cell]:
    text = strip_controls(text)
    cells = []
    for i, (lo, hi) in enumerate(wrap_offsets(text, width)):
        cells.append(_Cell(kind, no if i == 0 else None, text[lo:hi],
                           _slice_spans(spans, lo, hi), marker if i == 0 else " "))
    return cells or [_Cell(kind, no, "", (), marker)]


class DiffView(ScrollView, can_focus=True):
    """Shows `compare(old, new)`; `m` toggles side by side / unified, `n`/`p` jump to changes."""

    COMPONENT_CLASSES = {
        "diffview--gutter",
        "diffview--added",
        "diffview--removed",
        "diffview--added-word",
        "diffview--removed-word",
        "diffview--empty",
        "diffview--hunk",
        "diffview--info",
        "diffview--divider",
    }

    DEFAULT_CSS = """
    DiffView { background: $surface; overflow-x: hidden; }
    DiffView > .diffview--gutter { color: $text-muted; }
    DiffView > .diffview--added { background: $success 20%; }
    DiffView > .diffview--removed { background: $error 20%; }
    DiffView > .diffview--added-word { background: $success 55%; text-style: bold; }
    DiffView > .diffview--removed-word { background: $error 55%; text-style: bold; }
    DiffView > .diffview--empty { background: $panel; }
    DiffView > .diffview--hunk { color: $accent; text-style: bold; }
    DiffView > .diffview--info { color: $text-muted; text-style: italic; }
    DiffView > .diffview--divider { color: $panel-lighten-2; }
    """

    BINDINGS = [
        Binding("m", "toggle_mode", "Side/unified", id="diff.mode"),
        Binding("n", "next_change", "Next change", id="diff.next"),
        Binding("p", "prev_change", "Prev change", id="diff.prev"),
        Binding("j,down", "scroll_down", "Down", show=False, id="diff.down"),
        Binding("k,up", "scroll_up", "Up", show=False, id="diff.up"),
        Binding("pagedown,space", "page_down", "Page down", show=False, id="diff.pagedown"),
        Binding("pageup", "page_up", "Page up", show=False, id="diff.pageup"),
        Binding("home,g", "scroll_home", "Top", show=False, id="diff.top"),
        Binding("end,G", "scroll_end", "Bottom", show=False, id="diff.bottom"),
    ]

    mode: reactive[str] = reactive("side")
    """`side` (two columns) or `unified`."""

    class ModeChanged(Message):
        def __init__(self, view: "DiffView", mode: str) -> None:
            super().__init__()
            self.view = view
            self.mode = mode

    def __init__(self, old: str = "", new: str = "", *, mode: str = "side",
                 context: int | None = None, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._old = old
        self._new = new
        self._diff = difftext.compare(old, new)
        self._hunk_context = context
        self._lines: list[tuple[_Cell, ...]] = []
        self._change_starts: list[int] = []
        self._layout_key: tuple | None = None
        self._cache: LRUCache[tuple, Strip] = LRUCache(1024)
        self.set_reactive(DiffView.mode, mode)

    # -- data -----------------------------------------------------------------------------

    @property
    def diff(self) -> difftext.Diff:
        return self._diff

    def set_texts(self, old: str, new: str) -> None:
        """Replace both texts (keeps the mode; scrolls to the first change)."""
        self._old, self._new = old, new
        self._diff = difftext.compare(old, new)
        self._invalidate()
        self.call_after_refresh(self.action_next_change, True)

    def _invalidate(self) -> None:
        self._layout_key = None
        self._cache.clear()
        self._relayout()
        self.refresh()

    def watch_mode(self, mode: str) -> None:
        self._invalidate()
        self.post_message(self.ModeChanged(self, mode))

    def on_resize(self) -> None:
        self._relayout()

    # -- layout: rows -> display lines ------------------------------------------------------

    def _column_width(self) -> int:
        w = max(20, self.scrollable_content_region.width or self.size.width or 80)
        if self.mode == "side":
            return max(4, (w - 1) // 2 - 7)
        return max(4, w - 12)

    def _relayout(self) -> None:
        width = max(20, self.scrollable_content_region.width or self.size.width or 80)
        key = (self.mode, width, id(self._diff))
        if key == self._layout_key:
            return
        self._layout_key = key
        self._cache.clear()
        col = self._column_width()
        lines: list[tuple[_Cell, ...]] = []
        starts: list[int] = []
        if self._diff.stats.identical:
            lines.append((_Cell("info", None, "no differences: the two instructions are "
                                 "identical", ()),))
        elif self.mode == "side":
            prev = "equal"
            for r in self._diff.rows:
                if r.kind != "equal" and prev == "equal":
                    starts.append(len(lines))
                prev = r.kind
                lk = {"equal": "equal", "replace": "remove", "delete": "remove",
                      "insert": "empty"}[r.kind]
                rk = {"equal": "equal", "replace": "add", "delete": "empty",
                      "insert": "add"}[r.kind]
                lm = "-" if lk == "remove" else " "
                rm = "+" if rk == "add" else " "
                left = _wrapped(lk, r.left_no, r.left or "", r.left_spans, col, lm) \
                    if r.left is not None else []
                right = _wrapped(rk, r.right_no, r.right or "", r.right_spans, col, rm) \
                    if r.right is not None else []
                for i in range(max(len(left), len(right), 1)):
                    lc = left[i] if i < len(left) else _Cell("empty", None, "", ())
                    rc = right[i] if i < len(right) else _Cell("empty", None, "", ())
                    lines.append((lc, rc))
        else:
            ctx = 3 if self._hunk_context is None else self._hunk_context
            for u in self._diff.unified(ctx):
                if u.tag == "@":
                    starts.append(len(lines))
                    lines.append((_Cell("hunk", None, u.text, ()),))
                    continue
                kind = {"-": "remove", "+": "add", " ": "equal"}[u.tag]
                no = u.old_no if u.tag == "-" else u.new_no
                for c in _wrapped(kind, no, u.text, u.spans, col, u.tag):
                    # unified shows both numbers on context lines
                    lines.append((c, _Cell("gutter", u.old_no if (u.tag == " " and c.no)
                                           else None, "", ())))
        self._lines = lines
        self._change_starts = starts
        # width 0: lines are soft-wrapped, so there is never anything to scroll sideways
        # (a virtual width equal to the region would flip the scrollbars on and off)
        self.virtual_size = Size(0, len(lines))

    # -- painting ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        self._relayout()
        scroll_y = self.scroll_offset.y
        idx = scroll_y + y
        width = self.scrollable_content_region.width or self.size.width
        key = (idx, width, self.mode, id(self._diff))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        base = self.rich_style
        if idx >= len(self._lines):
            strip = Strip.blank(width, base)
        else:
            strip = self._paint(self._lines[idx], width, base)
        self._cache[key] = strip
        return strip

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"diffview--{name}", partial=True)

    def _paint(self, cells: tuple[_Cell, ...], width: int, base: Style) -> Strip:
        gutter = base + self._style("gutter")
        segs: list[Segment] = []
        if len(cells) == 1 or cells[0].kind in ("hunk", "info"):
            c = cells[0]
            segs.append(Segment(c.text, base + self._style("hunk" if c.kind == "hunk"
                                                               else "info")))
        elif self.mode == "side":
            col = self._column_width()
            segs += self._side(cells[0], col, base, gutter)
            segs.append(Segment("│", base + self._style("divider")))
            segs += self._side(cells[1], col, base, gutter)
        else:
            c, other = cells
            col = self._column_width()
            old_no = c.no if c.kind == "remove" else other.no
            new_no = c.no if c.kind in ("add", "equal") else None
            segs.append(Segment(f"{old_no:>4} " if old_no else "     ", gutter))
            segs.append(Segment(f"{new_no:>4} " if new_no else "     ", gutter))
            segs += self._text(c, col + 2, base)
        return Strip(segs).adjust_cell_length(width, base)

    def _side(self, c: _Cell, col: int, base: Style, gutter: Style) -> list[Segment]:
        num = f"{c.no:>4} " if c.no else "     "
        if c.kind == "empty":
            fill = base + self._style("empty")
            return [Segment(num, gutter), Segment(" " * (col + 2), fill)]
        return [Segment(num, gutter), *self._text(c, col + 2, base)]

    def _text(self, c: _Cell, width: int, base: Style) -> list[Segment]:
        """Marker + text, padded to `width` cells, with changed spans emphasised."""
        line_style = base
        word_style = base
        if c.kind == "add":
            line_style = base + self._style("added")
            word_style = base + self._style("added-word")
        elif c.kind == "remove":
            line_style = base + self._style("removed")
            word_style = base + self._style("removed-word")
        segs = [Segment(f"{c.marker} ", line_style)]
        pos = 0
        for s, e in c.spans:
            if s > pos:
                segs.append(Segment(c.text[pos:s], line_style))
            segs.append(Segment(c.text[s:e], word_style))
            pos = e
        if pos < len(c.text):
            segs.append(Segment(c.text[pos:], line_style))
        return list(Strip(segs).adjust_cell_length(width, line_style))

    # -- actions ----------------------------------------------------------------------------

    def action_toggle_mode(self) -> None:
        self.mode = "unified" if self.mode == "side" else "side"

    def action_next_change(self, from_top: bool = False) -> None:
        self._relayout()
        y = -1 if from_top else self.scroll_offset.y
        for s in self._change_starts:
            if s > y:
                self.scroll_to(y=max(0, s - 1 if from_top else s), animate=False)
                return

    def action_prev_change(self) -> None:
        self._relayout()
        y = self.scroll_offset.y
        for s in reversed(self._change_starts):
            if s < y:
                self.scroll_to(y=s, animate=False)
                return

    @property
    def change_starts(self) -> list[int]:
        """Display-line indices where each change block (or hunk) begins."""
        self._relayout()
        return list(self._change_starts)

    @property
    def line_count(self) -> int:
        self._relayout()
        return len(self._lines)
