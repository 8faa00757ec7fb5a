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

from ...align import ARGS, ERROR, ONLY_A, ONLY_B, SAME, TEXT, Alignment, end_matters
from ...align_print import event_segments
from .linetable import STYLES, RowCursorView, cell_segments

MARKS = {SAME: "=", ARGS: "≠", ERROR: "!", ONLY_A: "◂", ONLY_B: "▸", TEXT: " "}
SPLIT_MARK = "~"  # text rows where the conversations part (align.mark_split)
GUTTER = 6  # "1234 " + gold star
NEXT_VIEW = {"a": "B", "b": "gold"}  # what t shows next in one-lane mode (then back to A)


def row_mark(row) -> str:
    return SPLIT_MARK if row.split else MARKS[row.status]


def keep_end(segs: list[tuple[str, str]], width: int,
             tail: int | None = None) -> list[tuple[str, str]]:
    """Cut a too-long line in the middle, not at the end: `head … tail`, so a user's
    ###STOP###, a transfer or an error result stays in view. The tail gets `tail` cells
    (default: half)."""
    total = sum(len(t) for t, _ in segs)
    if total <= width or width < 12:
        return segs
    tail_n = min(tail or width // 2, total, width - 2)
    head_n = width - tail_n - 1
    head: list[tuple[str, str]] = []
    used = 0
    for text, style in segs:
        if used >= head_n:
            break
        head.append((text[: head_n - used], style))
        used += len(head[-1][0])
    tail: list[tuple[str, str]] = []
    need = tail_n
    for text, style in reversed(segs):
        if need <= 0:
            break
        piece = text[-need:]
        tail.insert(0, (piece, style))
        need -= len(piece)
    return head + [("…", "dim")] + tail


def drop_same_args(segs: list[tuple[str, str]], width: int) -> list[tuple[str, str]]:
    """A call whose result matters (an error, a transfer) and that does not fit: leave out
    the arguments that are the same on both sides (after the changed ones, which come
    first), so the name, what differs and the result all stay in view."""
    if sum(len(t) for t, _ in segs) <= width:
        return segs
    try:
        close = max(i for i, (t, st) in enumerate(segs) if t == ")" and st == "dim")
    except ValueError:
        return segs
    last_changed = max((i for i, (_, st) in enumerate(segs[:close]) if st == "changed"),
                       default=None)
    opening = next((i for i, (t, _) in enumerate(segs) if t == "("), None)
    keep_to = last_changed if last_changed is not None else opening
    if keep_to is None or keep_to + 1 >= close:
        return segs
    return segs[:keep_to + 1] + [(", …" if last_changed is not None else "…", "dim")] + \
        segs[close:]


class AlignedLanes(RowCursorView, can_focus=True):
    """The aligned trajectories. Posts `RowChanged` when the cursor moves."""

    HELP_NAME = "lanes"  # how help and the palette name it

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
        Binding("end", "jump(-1)", "Last turns", show=False,
                id="lanes.last"),
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
        self.noted: set[tuple[str, int]] = set()  # ("a"|"b", step idx) with a note (#14)

    def set_noted(self, noted: set[tuple[str, int]]) -> None:
        """Mark these steps as noted (a ✎ before the event)."""
        self.noted = noted
        self._gen += 1
        self._cache.clear()
        self.refresh()

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

    def on_resize(self) -> None:
        super().on_resize()
        # a smaller view (160x48 → 80x24) must still show the cursor row; the new size is
        # applied at the next layout, so scroll after it
        self.call_after_refresh(self._ensure_visible)

    def cursor_steps(self) -> tuple[int | None, int | None]:
        """(A step, B step) at the cursor row (None for a side with nothing there)."""
        if not self.n_rows:
            return None, None
        row = self.alignment.rows[self.cursor]
        return row.step("a"), row.step("b")

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_line(0)  # the header names the steps at the cursor
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
        key = (index, is_cursor, width, self.mode, self._gen, self.has_focus,
               self.cursor if index < 0 else None)
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
            segs.append(Segment("step    "))
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
            mine, other = (row.b, row.a) if self.mode == "b" else (row.a, row.b)
            shown = mine if mine is not None else other
            step = "" if shown is None or shown.step_idx < 0 else str(shown.step_idx)
            if step and mine is None:  # the other side's step: say whose it is
                step = ("A" if self.mode == "b" else "B") + step
            segs.append(Segment(f"{step:>4} ", Style(dim=True)))
            segs.append(Segment("★" if gold else " ", STYLES["gold"]))
            segs.append(Segment(row_mark(row) + " ",
                                STYLES["mark"] if row.divergent else Style(dim=True)))
            if self.mode == "split":
                for i, ev in enumerate((row.a, row.b)):
                    if i:
                        segs.append(sep)
                    cell = self._cell(ev, row, lane_w, self._note_mark("ab"[i], ev))
                    segs += cell_segments(cell, lane_w)
            else:
                if mine is None and other is not None:
                    where = "B" if self.mode == "a" else "A"
                    cell = [(f"(only in {where}) ", "dim")] + [
                        (t, "dim") for t, _ in self._cell(other, row, lane_w - 12)]
                else:
                    cell = self._cell(mine, row, lane_w, self._note_mark(self.mode, mine))
                segs += cell_segments(cell, lane_w)
        strip = Strip([Segment(s.text, base + s.style if s.style else base) for s in segs])
        strip = strip.crop_extend(0, width, base)
        self._cache[key] = strip
        return strip

    def _cell(self, ev, row, width: int, mark: list | None = None) -> list[tuple[str, str]]:
        """One lane's cell: the event's summary (after a note mark, #14) fitted to `width`,
        keeping its end in view where the end matters (see align.end_matters)."""
        segs = (mark or []) + event_segments(ev, row.diffs, changed_first=True)
        if end_matters(ev) and ev is not None and ev.kind == "call":
            # name, what differs, then the result (an error, a transfer) in view
            segs = self._fit(drop_same_args(segs, width), width)
            result = len(segs[-1][0]) if segs and segs[-1][0].startswith(" → ") else 0
            segs = keep_end(segs, width, tail=min(result, width // 2) or None)
        elif end_matters(ev):
            segs = keep_end(segs, width)
        else:
            segs = self._fit(segs, width)
        return segs

    def _note_mark(self, side: str, ev) -> list[tuple[str, str]]:
        if ev is None or not self.noted:
            return []
        hit = (side, ev.step_idx) in self.noted or (side, ev.result_idx) in self.noted
        return [("✎ ", "warn")] if hit else []

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
        """`A step 20 · B –  t→B  A: label`: the steps at the cursor first (they must never
        be cut), then what t shows next, then the label."""
        label = self.label_a if side == "a" else self.label_b
        sa, sb = self.cursor_steps()

        def fmt(v):
            return "–" if v is None else str(v)
        b_at = f"B step {fmt(sb)}"
        if self.alignment is not None and self.alignment.single and self.n_rows:
            gold = self.alignment.rows[self.cursor].b  # B is the gold actions: no steps
            b_at = "gold –" if gold is None else f"gold #{gold.gold_index}"
        if self.mode != "split":
            return (f"A step {fmt(sa)} · {b_at}   t→{NEXT_VIEW[side]}   "
                    f"{side.upper()}: {label}")
        return (f"A step {fmt(sa)}" if side == "a" else b_at) + f"  {label}"
