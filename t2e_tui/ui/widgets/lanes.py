"""Baseline and candidate lanes, aligned row by row (Line API, LRU-cached Strips).

One aligned row is one line, so a 500-step trajectory is 500 cheap lines and only the visible
ones are rendered. Wide terminals show both lanes side by side; narrow ones show one lane at a
time (`mode` "a" or "b") with the other side's status in the mark column, never two slivers.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip

from ...align import ARGS, ERROR, ONLY_A, ONLY_B, SAME, TEXT, Alignment
from ...align_print import event_segments
from .linetable import STYLES, RowCursorView, cell_segments

MARKS = {SAME: "=", ARGS: "≠", ERROR: "!", ONLY_A: "◂", ONLY_B: "▸", TEXT: " "}
GUTTER = 6  # "1234 " + gold star


class AlignedLanes(RowCursorView, can_focus=True):
    """The aligned trajectories. Posts `RowChanged` when the cursor moves."""

    # overflow-x hidden: a line is cut to the view (the detail pane shows it whole); a
    # horizontal scrollbar would cost a line and the vertical one would hide the line's end
    DEFAULT_CSS = """
    AlignedLanes { height: 1fr; background: $surface; overflow-x: hidden; }
    AlignedLanes > .lanes--header { text-style: bold; background: $panel; }
    AlignedLanes > .lanes--cursor { background: $accent 40%; }
    AlignedLanes:focus > .lanes--cursor { background: $accent 70%; }
    AlignedLanes > .lanes--divergent { background: $error 15%; }
    """
    COMPONENT_CLASSES = {"lanes--header", "lanes--cursor", "lanes--divergent"}
    BINDINGS = [
        Binding("down,j", "cursor(1)", "Down", show=False, id="lanes.down"),
        Binding("up,k", "cursor(-1)", "Up", show=False, id="lanes.up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="lanes.pagedown"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="lanes.pageup"),
        Binding("home", "jump(0)", "First", show=False, id="lanes.first"),
        Binding("end", "jump(-1)", "Last", show=False, id="lanes.last"),
    ]

    mode: reactive[str] = reactive("split")  # split | a | b

    class RowChanged(Message):
        def __init__(self, row: int) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.alignment: Alignment | None = None
        self.label_a = "A"
        self.label_b = "B"
        self._cache: LRUCache[tuple, Strip] = LRUCache(1024)
        self._gen = 0

    def show(self, alignment: Alignment, label_a: str, label_b: str, row: int = 0) -> None:
        """Display an alignment with the cursor on `row`."""
        self.alignment, self.label_a, self.label_b = alignment, label_a, label_b
        self._gen += 1
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(alignment.rows) + 1)
        self.cursor = max(0, min(row, len(alignment.rows) - 1))
        # the new virtual size is applied at the next layout; scroll to the cursor after it
        self.call_after_refresh(self._ensure_visible)
        self.refresh()

    @property
    def n_rows(self) -> int:
        return len(self.alignment.rows) if self.alignment else 0

    def watch_mode(self) -> None:
        self._cache.clear()
        self.refresh()

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        self._ensure_visible()
        if self.alignment:
            self.post_message(self.RowChanged(new))

    def _ensure_visible(self) -> None:
        new = self.cursor
        top, height = self.scroll_offset.y, max(1, self.size.height - 1)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True, force=True)
        elif new >= top + height:
            # keep some context below a jump target: place it a third down the view
            self.scroll_to(y=max(0, new - height // 3), animate=False, immediate=True,
                           force=True)

    # --- rendering ----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width  # left of the vertical scrollbar
        if y == 0:
            return self._render(-1, width)
        index = self.scroll_offset.y + y - 1
        if index >= self.n_rows:
            return Strip.blank(width, self.rich_style)
        return self._render(index, width)

    def _render(self, index: int, width: int) -> Strip:
        is_cursor = index == self.cursor and index >= 0
        key = (index, is_cursor, width, self.mode, self._gen, self.has_focus)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        base = self.rich_style
        sep = Segment(" │ ", Style(dim=True))
        if self.mode == "split":
            lane_w = max(8, (width - GUTTER - 2 - 3) // 2)
        else:
            lane_w = max(8, width - GUTTER - 2)
        segs: list[Segment] = []
        if index < 0:
            base = base + self.get_component_rich_style("lanes--header")
            segs.append(Segment("   # " + " " + "  "))
            if self.mode in ("split", "a"):
                segs += cell_segments(self._title("a"), lane_w)
            if self.mode == "split":
                segs.append(sep)
            if self.mode in ("split", "b"):
                segs += cell_segments(self._title("b"), lane_w)
        else:
            row = self.alignment.rows[index]
            if is_cursor:
                base = base + self.get_component_rich_style("lanes--cursor")
            elif row.divergent:
                base = base + self.get_component_rich_style("lanes--divergent")
            gold = row.gold_a is not None or row.gold_b is not None
            segs.append(Segment(f"{index:>4} ", Style(dim=True)))
            segs.append(Segment("★" if gold else " ", STYLES["gold"]))
            mark = MARKS[row.status]
            segs.append(Segment(mark + " ", STYLES["mark"] if row.divergent else Style(dim=True)))
            if self.mode == "split":
                for i, ev in enumerate((row.a, row.b)):
                    if i:
                        segs.append(sep)
                    cell = self._fit(event_segments(ev, row.diffs, changed_first=True), lane_w)
                    segs += cell_segments(cell, lane_w)
            else:
                mine, other = (row.a, row.b) if self.mode == "a" else (row.b, row.a)
                if mine is None and other is not None:
                    where = "B" if self.mode == "a" else "A"
                    cell = [(f"(only in {where}) ", "dim")] + [
                        (t, "dim") for t, _ in event_segments(other)]
                else:
                    cell = self._fit(event_segments(mine, row.diffs, changed_first=True),
                                     lane_w)
                segs += cell_segments(cell, lane_w)
        strip = Strip([Segment(s.text, base + s.style if s.style else base) for s in segs])
        strip = strip.crop_extend(0, width, base)
        self._cache[key] = strip
        return strip

    @staticmethod
    def _fit(segs: list[tuple[str, str]], width: int) -> list[tuple[str, str]]:
        """Shorten a long tool name so the first differing argument stays visible."""
        total = sum(len(t) for t, _ in segs)
        first_changed = next((i for i, (_, st) in enumerate(segs) if st == "changed"), None)
        if total <= width or first_changed is None:
            return segs
        needed = sum(len(t) for t, _ in segs[:first_changed + 1])
        name_i = next((i for i, (_, st) in enumerate(segs) if st == "name"), None)
        if name_i is None or needed <= width:
            return segs
        name = segs[name_i][0]
        keep = max(8, len(name) - (needed - width))
        if keep >= len(name):
            return segs
        out = list(segs)
        out[name_i] = (name[: keep - 1] + "…", "name")
        return out

    def _title(self, side: str) -> str:
        label = self.label_a if side == "a" else self.label_b
        if self.mode != "split":
            other = "B" if side == "a" else "A"
            return f"{side.upper()}: {label}   (t: show {other})"
        return f"{side.upper()}: {label}"
