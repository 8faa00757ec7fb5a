"""F1 help: every binding active on the screen below (keymap overrides applied), with ids."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def binding_rows(screen) -> list[tuple[str, str, str, str]]:
    """(keys, description, binding id, where) for every active binding of `screen`."""
    grouped: dict[tuple[str, str], dict] = {}
    for key, active in screen.active_bindings.items():
        b = active.binding
        where = type(active.node).__name__
        ident = (b.action, where)
        entry = grouped.setdefault(ident, {"keys": [], "desc": b.description or b.action,
                                           "id": b.id or "", "where": where})
        entry["id"] = entry["id"] or b.id or ""
        display = screen.app.get_key_display(b) if hasattr(screen.app, "get_key_display") \
            else key
        if display not in entry["keys"]:
            entry["keys"].append(display if display else key)
    rows = [(", ".join(e["keys"]), e["desc"], e["id"], e["where"]) for e in grouped.values()]
    return sorted(rows, key=lambda r: (r[3] != "T2EApp", r[3], r[1]))


class HelpScreen(ModalScreen):
    """Lists every binding; Escape, q or F1 closes."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close", id="help.close")]

    def __init__(self, rows: list[tuple[str, str, str, str]], title: str) -> None:
        super().__init__()  # no fixed id: the same screen type may be stacked twice
        self.rows, self.title_text = rows, title

    def compose(self) -> ComposeResult:
        table = Table(title=Text(f"Keys — {self.title_text}"), expand=True,
                      show_lines=False, box=box.SIMPLE_HEAD)
        table.add_column("keys", style="bold", no_wrap=True)
        table.add_column("does")
        table.add_column(Text("binding id (for [keymap])"), style="dim")
        table.add_column("where", style="dim")
        for keys, desc, ident, where in self.rows:
            table.add_row(Text(keys), Text(desc), Text(ident), Text(where))
        note = Text("\nOverride keys in the [keymap] table of the config file "
                    "(t2e locate config), e.g.  compare.next = \"n,right\"\n"
                    "ctrl+p opens the command palette. Escape goes back. No mouse needed.",
                    style="dim")
        with VerticalScroll(id="help-body"):
            yield Static(table)
            yield Static(note)

    def action_dismiss(self) -> None:
        self.dismiss()
