"""A one-line status widget that repaints without a relayout.

`Static.update` asks for a layout pass (its size may change); a status line under a 10,000-row
table changes on every filter key, and that layout pass cost more than the table itself.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class TextLine(Widget):
    """Exactly one line of (already safe) rich Text."""

    DEFAULT_CSS = "TextLine { height: 1; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = Text()

    def set(self, text: Text) -> None:
        """Show `text` (no-op when unchanged)."""
        if text.plain != self._text.plain or text.spans != self._text.spans:
            self._text = text
            self.refresh()

    @property
    def text(self) -> Text:
        return self._text

    def render(self) -> Text:
        return self._text
