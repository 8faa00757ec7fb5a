"""Helpers shared by the cli_*.py command modules: the store handle, JSON and human output.

No import of t2e_tui.cli here: cli.py imports every cli_* module while it loads."""

from __future__ import annotations

import json
from typing import Any

import click


def open_store():
    """The store named by `--store` / T2E_STORE, opened (migrated)."""
    import store

    return store.open_db(click.get_current_context().obj.store)


def emit(data: Any, as_json: bool, human: str | None = None) -> None:
    """Print `data` as JSON, or the human text."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    elif human is not None:
        click.echo(human)


def echo_json(data: Any) -> None:
    """Print `data` as indented JSON, non-ASCII text kept as is."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def console():
    """A rich console for plain output: no highlighting, lines never soft-wrapped."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def fmt(v: Any, digits: int = 3) -> str:
    """A cell: None as '-', floats to `digits` places."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)

