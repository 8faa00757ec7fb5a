"""The workbench's tables: Textual's DataTable with the explorer's keys, so j/k move the cursor
everywhere (and a [keymap] entry for `table.down` / `table.up` rebinds both kinds of table)."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable


class KeyedDataTable(DataTable):
    """A DataTable that also moves with j/k, under the explorer table's binding ids."""

    BINDINGS = [
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
    ]

    def action_cursor(self, delta: int) -> None:
        """One row down (delta > 0) or up, as the explorer's LineTable does."""
        if delta > 0:
            self.action_cursor_down()
        else:
            self.action_cursor_up()
