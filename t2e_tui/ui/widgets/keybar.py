"""A one-line key bar: the shown bindings of the current screen as one Text.

Textual's Footer recomposes one widget per key every time the bindings change (each screen
push, each focus move); that restyling dominated the compare screen's first paint. This bar
re-renders a single line instead. Keys come from `active_bindings`, so keymap overrides show.

When the bar does not fit (80 columns), it turns compact rather than cutting the last keys off:
tighter spacing, then the screen's short labels, and the keys the screen ranks least important left
out first; if that is not enough, keys give way from the right, never the help key (F1 lists
them all). A screen tunes this with three optional class attributes, all keyed by binding id:

- `KEYBAR_EXTRA`: hidden (show=False) bindings to show anyway, e.g. the app's workbench keys
  on the runs screen, which would otherwise only be found through F1;
- `KEYBAR_SHORT`: id → a shorter label for the compact form;
- `KEYBAR_DROP`: ids left out of the compact form, least important first, until it fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.widget import Widget

TAIL = " ^p palette · f1 help"
TAIL_COMPACT = " f1 help"


@dataclass(frozen=True)
class KeyItem:
    ident: str
    key: str
    label: str
    short: str
    enabled: bool
    action: str = field(default="", compare=False)
    node: Any = field(default=None, compare=False)


class KeyBar(Widget):
    """Bottom line: `key description` for every binding with show=True (and the screen's
    KEYBAR_EXTRA ids), compacted to the width when needed."""

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._items: tuple[KeyItem, ...] = ()
        self._cache: tuple[tuple, Text, list] | None = None
        self._spans: list[tuple[int, int, KeyItem | None]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        extra = set(getattr(screen, "KEYBAR_EXTRA", ()))
        short = getattr(screen, "KEYBAR_SHORT", {})
        items: list[KeyItem] = []
        seen: set[str] = set()
        for node, binding, enabled, _tip in screen.active_bindings.values():
            if not (binding.show or binding.id in extra) or binding.action in seen:
                continue
            seen.add(binding.action)
            ident = binding.id or binding.action
            items.append(KeyItem(ident, self.app.get_key_display(binding),
                                 binding.description, short.get(ident, binding.description),
                                 enabled, binding.action, node))
        if tuple(items) != self._items:
            self._items = tuple(items)
            self.refresh()

    def bar_text(self, width: int) -> Text:
        """The bar for `width` cells: full labels when they fit, else the compact form."""
        key = (self._items, width)
        if self._cache is not None and self._cache[0] == key:
            self._spans = self._cache[2]
            return self._cache[1]
        text = self._full()
        if text.cell_len > width:  # tighter spacing, then the short labels, then fewer keys
            drop = list(getattr(self.screen, "KEYBAR_DROP", ()))
            items = list(self._items)
            text = self._compact(items, short=False)
            if text.cell_len > width:
                text = self._compact(items)
            while text.cell_len > width and drop:
                gone = drop.pop(0)
                items = [i for i in items if i.ident != gone]
                text = self._compact(items)
            # still too wide: keys give way from the right (each is still listed by F1),
            # never the help key, rather than the bar being cut in the middle of one
            while text.cell_len > width:
                right = [k for k, i in enumerate(items) if i.ident != "help"]
                if not right:
                    break
                del items[right[-1]]
                text = self._compact(items)
        text.no_wrap, text.overflow = True, "ellipsis"
        self._cache = (key, text, self._spans)
        return text

    def _full(self) -> Text:
        text = Text()
        self._spans = []
        for it in self._items:
            start = text.cell_len
            text.append(f" {it.key} ", style="bold reverse" if it.enabled else "dim reverse")
            text.append(f" {it.label}  ", style="" if it.enabled else "dim")
            self._spans.append((start, text.cell_len, it))
        start = text.cell_len
        text.append(TAIL, style="dim")
        self._spans.append((start, text.cell_len, None))
        return text

    def _compact(self, items: list[KeyItem], short: bool = True) -> Text:
        text = Text()
        self._spans = []
        for it in items:
            start = text.cell_len
            text.append(f" {it.key} ", style="bold reverse" if it.enabled else "dim reverse")
            text.append(f"{it.short if short else it.label} ", style="" if it.enabled else "dim")
            self._spans.append((start, text.cell_len, it))
        if not any(it.ident == "help" for it in items):  # the f1 key is already in the bar
            start = text.cell_len
            text.append(TAIL_COMPACT, style="dim")
            self._spans.append((start, text.cell_len, None))
        return text

    def item_at(self, x: int) -> KeyItem | None | bool:
        """The key drawn at column `x`: a KeyItem, None for the help tail, False for none."""
        self.bar_text(self.size.width)
        for start, end, it in getattr(self, "_spans", []):
            if start <= x < end:
                return it
        return False

    async def on_click(self, event) -> None:
        """A click on a key runs it, as pressing it would (the keyboard stays complete)."""
        it = self.item_at(event.x)
        if it is False:
            return
        if it is None:
            await self.app.run_action("help")
        elif it.enabled:
            await self.app.run_action(it.action, it.node)

    def render(self) -> Text:
        return self.bar_text(self.size.width)
