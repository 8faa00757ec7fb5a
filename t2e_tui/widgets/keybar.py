"""A one-line key bar: the shown bindings of the current screen as one Text.

Textual's Footer recomposes one widget per key every time the bindings change (each screen
push, each focus move); that restyling dominated the compare screen's first paint. This bar
re-renders a single line instead. Keys come from `active_bindings`, so keymap overrides show.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class KeyBar(Widget):
    """Bottom line: `key description` for every binding with show=True."""

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._text = Text()

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        for _node, binding, enabled, _tip in screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            text.append(f" {self.app.get_key_display(binding)} ", style="bold reverse"
                        if enabled else "dim reverse")
            text.append(f" {binding.description}  ", style="" if enabled else "dim")
        text.append(" ^p palette · f1 help", style="dim")
        if text.plain != self._text.plain:
            self._text = text
            self.refresh()

    def render(self) -> Text:
        return self._text
