"""Command palette providers: the actions of the current screen, and jumps to runs."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class ScreenActions(Provider):
    """Every binding with a description on the current screen, runnable by name."""

    def _commands(self):
        screen = self.screen
        seen = set()
        for key, active in screen.active_bindings.items():
            b = active.binding
            if not b.description or (b.action, id(active.node)) in seen:
                continue
            seen.add((b.action, id(active.node)))
            where = type(active.node).__name__.replace("Screen", "").replace("T2EApp", "app")
            title = f"{where}: {b.description}"
            help_text = f"key {self.app.get_key_display(b)}" + (f" · id {b.id}" if b.id else "")
            yield title, partial(self.app.run_action, b.action, active.node), help_text

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
