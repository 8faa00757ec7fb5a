"""Help (F1 or ?): the keys of the screen below first, then the keys that work everywhere, in
user words (never widget class names), with the binding id for the [keymap] config table."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

EVERYWHERE = "everywhere"


def place_name(node, screen) -> str:
    """Where a binding lives, as a user would say it: `this screen`, `everywhere`, or the
    widget's HELP_NAME (`lanes`, `table`, `detail pane`); never a class name."""
    if node is screen:
        return "this screen"
    if node is screen.app:
        return EVERYWHERE
    return getattr(node, "HELP_NAME", None) or "this screen"


def _chain(screen):
    """(node, [(key, binding)]) from the focused widget up to the app, hidden ones too (x is
    hidden from the key bar while nothing is cut, but help still names it)."""
    chain = getattr(screen, "_modal_binding_chain", None)
    if chain is not None:
        return [(node, list(bindings)) for node, bindings in chain]
    grouped: dict[int, tuple] = {}
    for key, active in screen.active_bindings.items():
        grouped.setdefault(id(active.node), (active.node, []))[1].append((key, active.binding))
    return list(grouped.values())


def binding_rows(screen) -> list[tuple[str, str, str, str]]:
    """(keys, description, binding id, where) for every binding of `screen`: the screen's
    and its widgets' first, then those that work everywhere."""
    grouped: dict[tuple[str, str], dict] = {}
    for node, bindings in _chain(screen):
        where = place_name(node, screen)
        for key, b in bindings:
            ident = (b.action, where)
            entry = grouped.setdefault(ident, {"keys": [], "desc": b.description or
                                               b.action.replace("_", " "),
                                               "id": b.id or "", "where": where})
            entry["id"] = entry["id"] or b.id or ""
            display = screen.app.get_key_display(b) if hasattr(screen.app, "get_key_display") \
                else key
            if display and display not in entry["keys"]:
                entry["keys"].append(display)
    rows = [(", ".join(e["keys"]), e["desc"], e["id"], e["where"]) for e in grouped.values()]

    def rank(r) -> int:
        # the screen's own keys (they have ids) first, then its widgets', then Textual's
        # generic ones (tab, scrolling: no id), the app's last; stable within each group
        if r[3] == EVERYWHERE:
            return 3
        if not r[2]:
            return 2
        return 0 if r[3] == "this screen" else 1
    return sorted(rows, key=rank)


def shortened_lines(screen) -> list[str]:
    """What the screen's one-line titles and status lines say whole, for each line drawn
    shortened at its width now (a narrow terminal): F1 is where they are read in full."""
    out: list[str] = []
    for widget in screen.query("*"):
        lines = getattr(widget, "shortened_lines", None)
        if callable(lines) and widget.display:
            out += [line for line in lines() if line not in out]
    return out


class HelpScreen(ModalScreen):
    """Lists every binding, after the screen's lines that were drawn shortened, whole
    (`said`); Escape, q, ? or F1 closes."""

    BINDINGS = [Binding("escape,f1,q,question_mark", "dismiss", "Close", id="help.close")]
    HELP_TITLE = "Help"

    def __init__(self, rows: list[tuple[str, str, str, str]], title: str,
                 said: list[str] | None = None) -> None:
        super().__init__()  # no fixed id: the same screen type may be stacked twice
        self.rows, self.title_text = rows, title
        self.said = list(said or ())

    def compose(self) -> ComposeResult:
        table = Table(title=Text(f"Keys — {self.title_text} first, then everywhere"),
                      expand=True, show_lines=False, box=box.SIMPLE_HEAD)
        table.add_column("keys", style="bold", no_wrap=True)
        table.add_column("does", ratio=1)
        table.add_column("where", style="dim", no_wrap=True)
        # ids are what [keymap] needs: whole (runs.candidate), never cut
        table.add_column(Text("[keymap] id"), style="dim", no_wrap=True,
                         min_width=max((len(r[2]) for r in self.rows), default=4))
        for keys, desc, ident, where in self.rows:
            table.add_row(Text(keys), Text(desc), Text(where), Text(ident))
        note = Text("\nOverride keys in the [keymap] table of the config file "
                    "(t2e locate config), e.g.  compare.next = \"n,right\"\n"
                    "ctrl+p opens the command palette. Escape goes back. The mouse works too "
                    "(click a row, click a key in the bottom bar) but is never needed.",
                    style="dim")
        with VerticalScroll(id="help-body"):
            if self.said:
                # plain Text: these lines hold run names and task ids (never markup)
                said = Text()
                said.append(f"{self.title_text}: lines shortened to fit this width, in "
                            "full\n", style="bold")
                for line in self.said:
                    said.append(f"- {line}\n")
                yield Static(said, id="help-said")
            yield Static(table)
            yield Static(note)

    def action_dismiss(self) -> None:
        self.dismiss()
