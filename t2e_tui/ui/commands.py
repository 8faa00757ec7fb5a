"""Command palette (ctrl+p): the app's actions first (open, search, edit, rerun, gate, lineage,
theme, help), in user words, then the keys of the current screen and its widgets.

One provider yields both, in that order: the palette lists discovery hits in the order they
arrive, and hits from separate providers would interleave."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .screens.help import EVERYWHERE, place_name


def app_actions(app) -> list[tuple[str, object, str]]:
    """(title, callback, help) for the app's own actions."""
    def open_pair() -> None:
        if app.baseline_run:
            app.open_tasks(app.baseline_run, app.candidate_run)
        else:
            app.notify("mark a baseline first (b on the runs screen)", severity="warning")

    def theme(name: str) -> None:
        app.theme = name

    wb = app.action_workbench
    out = [
        ("Open the marked pair's tasks", open_pair, "the runs marked b (and c)"),
        ("Search every trace", app.action_search, "key /"),
        ("Edit the candidate", partial(wb, "edit"), "key e"),
        ("Rerun the candidate (gated)", partial(wb, "rerun"), "key R"),
        ("Gate verdict", partial(wb, "gate"), "key G"),
        ("Lineage of candidates", partial(wb, "lineage"), "key L"),
        ("Theme: pick one…", app.search_themes, "remembered for the next session"),
        ("Theme: ansi-dark (the terminal's own colours)", partial(theme, "ansi-dark"),
         "for terminals with few colours"),
        ("Theme: ansi-light (the terminal's own colours)", partial(theme, "ansi-light"),
         "for terminals with few colours"),
        ("Help: the keys of this screen", app.action_help, "key ? or f1"),
        ("Back to the runs", app.open_runs, "key f2"),
        ("Quit", app.exit, "key q"),
    ]
    return out


class AppActions(Provider):
    """The app's actions, then every described binding of the current screen (not the app's
    own, listed above already), named by where it works."""

    def _commands(self):
        app, screen = self.app, self.screen
        yield from app_actions(app)
        seen = set()
        for key, active in screen.active_bindings.items():
            b = active.binding
            where = place_name(active.node, screen)
            if where == EVERYWHERE or not b.description or (b.action, id(active.node)) in seen:
                continue
            seen.add((b.action, id(active.node)))
            help_text = f"key {app.get_key_display(b)}" + (f" · id {b.id}" if b.id else "")
            yield (f"{where}: {b.description}", partial(app.run_action, b.action, active.node),
                   help_text)

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)


ScreenActions = AppActions  # the old name, for callers that import it
