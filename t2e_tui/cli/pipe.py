"""Output for a pipe: when stdout is not a terminal, `t2e runs`, `episodes`, `search` and
`scoreboard` print tab-separated records, one per line, never wrapped or cut (a table sized
for a terminal would be cut to 80 columns by rich, or wrapped by the next program); a report
of lines (`t2e failures`) writes each line whole.

`--table` keeps the terminal table anyway (and COLUMNS sets its width); `--tsv` asks for the
records on a terminal too; `--json` is unchanged. Cells are made safe like every other output
(controls stripped) and hold no tab or newline, so `cut -f` and `awk -F'\\t'` split them."""

from __future__ import annotations

import sys
from typing import Any, Iterable

import click

from ..textsafe import strip_controls

TABLE_HELP = "Print the terminal table even into a pipe (stdout not a terminal gives TSV)."


def table_option(f):
    return click.option("--table", "force_table", is_flag=True, help=TABLE_HELP)(f)


def piped(force_table: bool = False) -> bool:
    """True when records should go out as TSV: stdout is not a terminal and no --table."""
    if force_table:
        return False
    stream = sys.stdout
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream: no terminal
        return True


def cell(value: Any) -> str:
    """One TSV field: None empty, floats short, controls stripped, no tab or line break."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = strip_controls(str(value))
    return " ".join(text.replace("\t", " ").split())


def echo_tsv(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    """Write a header line and one line per row, tab-separated, whole."""
    write_lines(["\t".join(header)] + ["\t".join(cell(v) for v in row) for row in rows])


def write_lines(lines: Iterable[str]) -> None:
    """Write lines to stdout; a reader that went away ends the command with exit 141."""
    out = sys.stdout
    try:
        for line in lines:
            out.write(line + "\n")
        out.flush()
    except BrokenPipeError:
        # the reader (`| head`) went away; click would swallow this as exit 1
        from .main import _closed_pipe

        _closed_pipe()
