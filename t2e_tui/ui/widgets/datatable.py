"""The app's tables: Textual's DataTable with every str shown as typed, and the explorer's
keys (j/k) on the workbench's tables."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.widgets import DataTable

from ..plain import plain


def _shown(value: Any) -> Any:
    # Textual reads a str cell or label as markup, and its first line only: a task id
    # `[link=…]x[/link]` became a link, `t\nnl` showed as `t`. A Text is never parsed.
    return plain(value) if isinstance(value, str) else value


class PlainDataTable(DataTable):
    """A DataTable whose str cells, column labels and row labels are plain text on one line
    (`plain`: controls stripped, newlines as ⏎), never markup. Every table in the app is one
    (a test checks that no screen builds Textual's DataTable itself)."""

    def add_column(self, label: Any, *args: Any, **kwargs: Any) -> Any:
        return super().add_column(_shown(label), *args, **kwargs)

    def add_row(self, *cells: Any, label: Any = None, **kwargs: Any) -> Any:
        return super().add_row(*(_shown(c) for c in cells), label=_shown(label), **kwargs)

    def update_cell(self, row_key: Any, column_key: Any, value: Any, **kwargs: Any) -> None:
        super().update_cell(row_key, column_key, _shown(value), **kwargs)


class KeyedDataTable(PlainDataTable):
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
