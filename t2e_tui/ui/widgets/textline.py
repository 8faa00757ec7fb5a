"""A one-line status widget that repaints without a relayout, fitted to its width.

`Static.update` asks for a layout pass (its size may change); a status line under a 10,000-row
table changes on every filter key, and that layout pass cost more than the table itself.

A line one row high never wraps: a wrapped line showed its first row and lost the rest with
nothing to say so (the failures screen's counts were cut after "no reward: not" at 80
columns). A line is either a row of `fittitle.Part`s, fitted by priority as titles are (what
tells least gives way first: shorter forms, then nothing), or one `Text`, cut at its end with
…; either way `whole` is the unfitted line, and F1 lists the lines drawn `shortened`, whole.
"""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.widget import Widget

from .fittitle import Part, fit_title, whole_text


def watched_part(watched: dict, what: str = "run") -> Part:
    """The warning that leads a status line where traces of tasks of a registered heldout (or
    transfer) set are listed (`what` = "run"), shown (`what` = "task") or found (`what` =
    "hits"): looking at them is a
    view the gate's leakage guard counts (`store.heldout.watched_tasks` says which). It gives
    way to shorter forms only, never to nothing."""
    roles = sorted({s["role"] for s in watched.values()}) or ["heldout"]
    role = "/".join(roles)
    if what == "task":
        forms = (f"⚠ {role} task: this trace counts as a view; a candidate saved after it "
                 "is graded development · ",
                 f"⚠ {role} task: viewing it counts against candidates saved after · ",
                 f"⚠ {role}: view counts · ")
    elif what == "hits":
        forms = (f"⚠ {role} tasks among the hits: these views count; a candidate saved "
                 "after is graded development · ",
                 f"⚠ {role} tasks among the hits: views counted · ",
                 f"⚠ {role}: views counted · ")
    else:
        forms = (f"⚠ {role}: opening a task's trace counts as a view; a candidate saved after "
                 "it is graded development · ",
                 f"⚠ {role}: opened traces count as views · ",
                 f"⚠ {role}: looking counts · ")
    return Part(forms, "bold yellow", give=1)


class TextLine(Widget):
    """Exactly one line of (already safe) rich Text, or of `Part`s fitted to the width."""

    DEFAULT_CSS = "TextLine { height: 1; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = Text()
        self._parts: list[Part] | None = None

    def set(self, text: Text | Sequence[Part]) -> None:
        """Show `text`: a `Text`, or `Part`s that give way by priority (no-op when
        unchanged)."""
        if isinstance(text, Text):
            parts, whole = None, text
        else:
            parts = list(text)
            whole = whole_text(parts)
        if parts == self._parts and whole.plain == self._text.plain \
                and whole.spans == self._text.spans:
            return
        self._text, self._parts = whole, parts
        self.refresh()

    @property
    def text(self) -> Text:
        """The whole line, as set (before fitting)."""
        return self._text

    whole = text

    def drawn_at(self, width: int) -> Text:
        """The line as drawn `width` cells wide."""
        if self._parts is not None:
            return fit_title(self._parts, width)
        if self._text.cell_len <= width:
            return self._text
        out = self._text.copy()
        out.truncate(max(1, width), overflow="ellipsis")
        return out

    @property
    def shortened(self) -> bool:
        """Whether the line as drawn now says less than the whole line."""
        width = self.content_region.width
        return bool(width) and self.drawn_at(width).plain != self._text.plain

    def shortened_lines(self) -> list[str]:
        """[the whole line] when it is drawn shortened now, else [] (F1 lists them)."""
        return [self._text.plain] if self.shortened else []

    def render(self) -> Text:
        return self.drawn_at(self.content_region.width or 10_000)  # not laid out yet: whole
