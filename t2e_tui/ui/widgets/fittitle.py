"""Screen titles fitted to the width they are drawn at, by priority (runs, tasks, gate, compare).

A title is a row of parts. When it is too wide, the parts that tell the user least give way
first: a part says how (shorter forms of the same words, down to nothing; then a middle or end
cut to no less than `least` cells) and when (`give`: higher gives way first; 0 never does).
Two names in one `pair` are cut together with `fitting.tell_apart`, so they never end up
looking the same. The end-of-line … is the last resort only. Parts are plain text appended
to a `Text`: names and ids are shown, never read as markup (`run_parts` makes them one line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

from ...fitting import end_cut, middle_cut, tell_apart
from ...textsafe import one_line


@dataclass(frozen=True)
class Part:
    # the longest first; a later form says the same in fewer cells. A `Text` (already safe,
    # with its own styles) is one form, cut at its end
    forms: str | Text | tuple[str, ...]
    style: str = ""
    give: int = 0      # order of giving way: higher first; 0 = shown as it is
    cut: str = ""      # "" never cut | "middle" | "end" (after the shorter forms)
    least: int = 8     # a cut keeps at least this many cells
    pair: int = 0      # > 0: the two parts with this number are cut apart together


def _forms(part: Part) -> tuple:
    return part.forms if isinstance(part.forms, tuple) else (part.forms,)


def _cells(text: str | Text) -> int:
    """Terminal cells, not characters: a CJK character takes two."""
    return text.cell_len if isinstance(text, Text) else cell_len(text)


def fit_parts(parts: Sequence[Part], width: int) -> list[str]:
    """Each part's text once the row fits in `width` cells (or has given all it can)."""
    texts = [_forms(p)[0] for p in parts]
    step = [0] * len(parts)

    def over() -> int:
        return sum(_cells(t) for t in texts) - width

    for level in sorted({p.give for p in parts if p.give}, reverse=True):
        at = [i for i, p in enumerate(parts) if p.give == level]
        # shorter forms first, the parts of one level in step (both labels of a pair at once)
        while over() > 0:
            more = [i for i in at if step[i] + 1 < len(_forms(parts[i]))]
            if not more:
                break
            for i in more:
                step[i] += 1
                texts[i] = _forms(parts[i])[step[i]]
        if over() > 0:
            _cut(parts, texts, [i for i in at if parts[i].cut and texts[i]], width)
        if over() <= 0:
            break
    # a level that gave way more than it had to (labels shortened before the ids went) takes
    # back the longest forms that still fit, its parts in step, the most telling level first;
    # a part cut before a more telling level shortened first gets back the room that freed
    # (whole if it fits), before any less telling part takes it
    for level in sorted({p.give for p in parts if p.give}):
        _uncut(parts, texts, step, level, width)
        at = [i for i, p in enumerate(parts) if p.give == level and step[i]]
        for k in range(max((step[i] for i in at), default=0)):
            back = {i: _forms(parts[i])[min(k, step[i])] for i in at}
            if over() + sum(_cells(t) - _cells(texts[i]) for i, t in back.items()) <= 0:
                for i, t in back.items():
                    texts[i], step[i] = t, min(k, step[i])
                break
    return texts


def _cut(parts: Sequence[Part], texts: list[str], cuts: list[int], width: int) -> None:
    """Cut `cuts` so the row fits: the room left is shared evenly (a short part keeps its
    spare for the others); a pair is cut apart at one width."""
    if not cuts:
        return
    room = width - sum(_cells(t) for i, t in enumerate(texts) if i not in cuts)
    alloc: dict[int, int] = {}
    left = sorted(cuts, key=lambda i: _cells(texts[i]))
    while left:
        share = max(0, room) // len(left)
        i = left[0]
        if _cells(texts[i]) <= share:
            alloc[i] = _cells(texts[i])
        else:
            for j in left:
                alloc[j] = max(parts[j].least, share)
            break
        room -= alloc[i]
        left.pop(0)
    done: set[int] = set()
    for i in cuts:
        if i in done:
            continue
        p = parts[i]
        mate = next((j for j in cuts if j != i and p.pair and parts[j].pair == p.pair), None)
        if mate is not None:
            whole = [k for k in (i, mate) if alloc[k] >= _cells(texts[k])]
            w = max(alloc[i], alloc[mate]) if whole else min(alloc[i], alloc[mate])
            texts[i], texts[mate] = tell_apart(texts[i], texts[mate], w)
            done |= {i, mate}
            continue
        texts[i] = _cut_one(p, texts[i], alloc[i])
        done.add(i)


def _cut_one(part: Part, text: str | Text, w: int) -> str | Text:
    """`text` cut to `w` cells the way `part` is cut (a `Text` at its end)."""
    if isinstance(text, Text):
        if text.cell_len > w:
            text = text.copy()
            text.truncate(max(1, w), overflow="ellipsis")
        return text
    if cell_len(text) > w:
        return middle_cut(text, w) if part.cut == "middle" else end_cut(text, w)
    return text


def _uncut(parts: Sequence[Part], texts: list, step: list[int], level: int,
           width: int) -> None:
    """The cut parts of `level` (not pairs: those are cut apart together) take back what
    room the row has now: their form whole when it fits, else cut to the room."""
    for i, p in enumerate(parts):
        if p.give != level or not p.cut or p.pair:
            continue
        form = _forms(p)[step[i]]
        now = _cells(texts[i])
        if _cells(form) == now:
            continue
        room = width - sum(_cells(t) for j, t in enumerate(texts) if j != i)
        if room > now:
            texts[i] = _cut_one(p, form, room)


def fit_title(parts: Sequence[Part], width: int) -> Text:
    """One fitted line as a `Text` (cut at `width` with … if it still does not fit)."""
    out = Text(no_wrap=True, overflow="ellipsis", end="")
    for part, text in zip(parts, fit_parts(parts, width)):
        if isinstance(text, Text):
            out.append_text(text)
        elif text:
            out.append(text, style=part.style)
    out.truncate(max(1, width), overflow="ellipsis")
    return out


def whole_text(parts: Sequence[Part]) -> Text:
    """The row with every part in its longest form, unfitted (what F1 shows whole)."""
    out = Text(end="")
    for part in parts:
        text = _forms(part)[0]
        if isinstance(text, Text):
            out.append_text(text)
        elif text:
            out.append(text, style=part.style)
    return out


class FitTitle(Static):
    """A title of one or more lines of `Part`s, fitted again whenever its width changes.
    (A Static, so `query_one(..., Static)` and `render()` work as for the titles before.)"""

    DEFAULT_CSS = "FitTitle { height: auto; }"

    def __init__(self, *lines: Sequence[Part], id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: list[list[Part]] = [list(line) for line in lines]

    def set_lines(self, *lines: Sequence[Part]) -> None:
        """Show these lines (a different number of lines lays the screen out again)."""
        new = [list(line) for line in lines]
        if new == self._lines:
            return
        relayout = len(new) != len(self._lines)
        self._lines = new
        self.refresh(layout=relayout)

    def lines_at(self, width: int) -> list[str]:
        """The plain lines as drawn `width` cells wide (for tests and the palette)."""
        return [fit_title(line, width).plain for line in self._lines]

    def shortened_lines(self) -> list[str]:
        """The whole text of each line drawn shortened at the width it has now (F1 lists
        them)."""
        width = self.content_region.width
        if not width:
            return []
        return [w for w, d in ((whole_text(line).plain, fit_title(line, width).plain)
                               for line in self._lines) if w != d]

    @property
    def text(self) -> Text:
        """What is drawn now."""
        return self.render()

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(1, len(self._lines))

    def render(self) -> Text:
        width = self.content_region.width or 10_000  # not laid out yet: whole
        return Text("\n", end="").join(fit_title(line, width) for line in self._lines)


def run_parts(labels: str | tuple[str, ...], name: str | None, run_id: str | None, *,
              keep_id: bool = False, scripted: bool = False) -> list[Part]:
    """A run in a title: its label (shortened first: `baseline ` → `base ` → nothing), its
    name (cut last, apart from the other run's: pair 1), then its id, which goes before the
    name is cut unless `keep_id` (two runs of one name: the id is what tells them apart)."""
    parts = [Part(labels, "dim", give=4)]
    if name is None and run_id is None:
        return parts + [Part("–")]
    if name is not None:
        parts.append(Part(one_line(name, 200), "bold", give=1, cut="middle", pair=1))
    if run_id is not None:
        rid = one_line(run_id, 40)
        if name is None or keep_id:
            parts.append(Part(f" ({rid})" if name is not None else rid, "dim"))
        else:
            parts.append(Part((f" ({rid})", ""), "dim", give=3))
    if scripted:
        parts.append(Part((" [scripted stand-in]", " [stand-in]"), "yellow italic", give=5))
    return parts
