"""Helpers shared by the cli_*.py command modules: the store handle, JSON and human output,
and the one-line table fitting of `t2e runs` and `t2e scoreboard`.

No import of t2e_tui.cli here: cli.py imports every cli_* module while it loads."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from world.errors import shown_path

from ..textsafe import SafeTextStream, strip_ansi, strip_controls, visible_escapes


def store_path(create: bool = False) -> str:
    """The store path named by `--store` / T2E_STORE. Only commands that write pass
    `create=True`; every other command refuses a path with no store, so a mistyped path or a
    command run in the wrong folder never leaves a new empty store behind. A store to be made
    goes through the output files' one check (store/atomic.prepare): a folder the user named
    must exist (as for -o and --report); only t2e's own folder, the default store's, is made."""
    obj = click.get_current_context().find_root().obj
    path = obj.store
    if not create and not os.path.exists(path):
        from ..errors import T2EError
        from ..paths import demo_store

        demo = demo_store()
        shown = shown_path(path)
        use_demo = (f"the demo's store is {demo}: pass --store {demo} (or `export "
                    f"T2E_STORE={demo}`) to use it"
                    if demo.exists() and str(demo) != str(path) else "")
        folder = os.path.dirname(os.path.abspath(path))
        if getattr(obj, "named", True) and not os.path.isdir(folder):
            # `t2e import` makes no folder the user named (store/atomic.prepare): suggesting
            # it here sent the user to a second refusal
            what = "is not a folder" if os.path.exists(folder) else "does not exist"
            raise T2EError(f"no store at {shown}: its folder {shown_path(folder)} {what}, "
                           "and t2e makes a store only in an existing folder (name a path "
                           "in one, or create the folder first)"
                           + (f"; {use_demo}" if use_demo else ""))
        if use_demo:
            # the README's first command is `t2e demo`, whose store is not the default one:
            # the next command a newcomer types lands here, so say where the demo's store is
            raise T2EError(f"no store at {shown}; {use_demo}, or make this one with "
                           "`t2e import FILE` or `t2e run`")
        raise T2EError(f"no store at {shown} (`t2e import FILE` or `t2e run` make one, `t2e "
                       f"demo` makes its own at {demo}; or pass --store PATH / set T2E_STORE)")
    if create and not os.path.exists(path):  # (False for a name too long: prepare says so)
        from store.atomic import prepare

        if not getattr(obj, "named", True):  # t2e's own folder (the user data dir)
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        prepare(path, f"--store {shown_path(path)}", streams=False)
    return path


def store_named() -> tuple[str, str] | None:
    """The store path the user named and where ("--store" or "$T2E_STORE"), the one rule
    every command reads its store by (the root's --store option, env T2E_STORE); None when
    neither names one and the command runs on its default (`t2e demo`: its own store)."""
    root = click.get_current_context().find_root()
    source = root.get_parameter_source("store")
    named = root.params.get("store")
    if not named:
        return None
    if source == click.core.ParameterSource.COMMANDLINE:
        return named, "--store"
    if source == click.core.ParameterSource.ENVIRONMENT:
        return named, "$T2E_STORE"
    return None


def open_store(create: bool = False):
    """The store named by `--store` / T2E_STORE, opened (migrated); see `store_path`."""
    import store

    return store.open_db(store_path(create))


# the files SQLite and t2e keep beside a store
STORE_COMPANIONS = ("", "-wal", "-shm", "-journal", ".lock")


def output_path(path: str, option: str) -> str:
    """`path` as an output file of `option` (-o, --report...), refused when it is the store
    this command reads or one of the files beside it (the output would replace the store:
    `gate --report markdown STORE` did), whatever the spelling (a relative path, a symbolic
    link) or the name (a hard link: the same file, st_dev and st_ino, under another name)."""
    if path == "-":
        return path
    store = os.path.realpath(click.get_current_context().find_root().obj.store)
    target = os.path.realpath(path)
    companions = [store + suffix for suffix in STORE_COMPANIONS]
    if target in companions or any(_same_file(path, c) for c in companions):
        from ..errors import T2EError

        raise T2EError(f"{option} {shown_path(path)}: that is the store this command reads "
                       "(or a file SQLite keeps beside it); write the output elsewhere")
    return path


def output_file(path: str, option: str):
    """The output file `path` of `option` checked before any work, as a
    `store.atomic.Output` (None for `-`, stdout): not the store (`output_path`), and
    writable (store/atomic.prepare: a directory, a missing folder, a name too long are
    errors naming `option` and the path). Write it with `.write_text` / `.write_bytes` /
    `.write`: a regular file is replaced whole, a link written through, a FIFO or a device
    written to."""
    if output_path(path, option) == "-":
        return None
    from store.atomic import prepare

    return prepare(path, f"{option} {shown_path(path)}")


def _same_file(a: str, b: str) -> bool:
    """Whether two existing paths are one file (a missing one is no file)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def connect_store(create: bool = False):
    """A sqlite3 connection to the store (migrated); see `store_path`. Callers close it."""
    import store

    return store.connect(store_path(create))


def emit(data: Any, as_json: bool, human: str | None = None) -> None:
    """Print `data` as JSON, or the human text (control characters stripped)."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    elif human is not None:
        click.echo(strip_controls(human))


def echo_json(data: Any) -> None:
    """Print `data` as indented JSON, non-ASCII text kept as is (C1 controls, bidi overrides and
    lone surrogates as \\u escapes: still the same JSON, never acted on by a terminal)."""
    click.echo(visible_escapes(json.dumps(data, indent=2, ensure_ascii=False, default=str)))


def console():
    """A rich console for plain output: no highlighting, lines never soft-wrapped, and no markup:
    a plain string anywhere (a table's title, a column header, a cell) is shown as written, so
    a name or id from a trace file can never restyle or link the output, whatever the call
    site passed. Every piece of text it draws is cleaned (see `_safe_console_class`); only
    rich's own styling reaches the terminal."""
    import sys

    file = sys.stdout.raw if isinstance(sys.stdout, SafeTextStream) else None
    return _safe_console_class()(highlight=False, soft_wrap=False, markup=False, file=file)


_SAFE_CONSOLE = None


def _safe_console_class():
    """A rich Console whose every text segment is cleaned right before rich adds its own
    escape codes: trace text in a Text, a table cell or a markup string can never carry an
    escape sequence, whatever the call site did. It writes under the CLI's SafeTextStream
    (which would turn rich's colours into visible escapes)."""
    global _SAFE_CONSOLE
    if _SAFE_CONSOLE is None:
        from rich.console import Console
        from rich.segment import Segment

        class SafeConsole(Console):
            def on_broken_pipe(self) -> None:
                # rich exits 1 on a closed pipe, which reads as "discard": exit 141 instead
                from .main import _closed_pipe

                _closed_pipe()

            def _render_buffer(self, buffer):
                return super()._render_buffer(
                    seg if seg.control else Segment(_segment_text(seg.text), seg.style, None)
                    for seg in buffer)

        _SAFE_CONSOLE = SafeConsole
    return _SAFE_CONSOLE


def _segment_text(text: str) -> str:
    """One segment's text without escape sequences; other controls shown as \\u escapes
    (newlines are segments of their own and pass)."""
    return visible_escapes(strip_ansi(text)) if text else text


def fmt(v: Any, digits: int = 3) -> str:
    """A cell: None as '-', floats to `digits` places."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def one_line_table(columns: tuple, cells: list[dict], width: int, *,
                   drop_order: tuple[str, ...], flex: str, flex_min: int,
                   whole_if_fits: bool = False, wrap: str | None = None,
                   apart: bool = False):
    """A rich table of `cells` (key → text) that keeps every row on one line of a terminal
    `width` columns wide. `columns` are (key, header, width cap, justify). Cells never wrap
    (they end in …); the columns in `drop_order` go first when space is short, and the
    `flex` column (at least `flex_min` wide while dropping) takes the room left. With
    `whole_if_fits`, columns are not capped when everything fits whole.

    The `wrap` column is the exception: its cells are tuples of parts (a run's termination
    reasons with their counts) that break onto further lines of the row between two parts,
    never inside one, so none is cut away. It needs only its widest part (at most its cap)
    and takes what room the `flex` column leaves, up to its parts on one line. With `apart`,
    the `flex` column's cells (names) are cut apart from each other (`fitting.cut_apart`), as
    the app's runs screen cuts them."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from ..fitting import cut_apart, end_cut

    def parts_of(cell) -> list[str]:  # "a 1," "b 2": each part but the last with its comma
        return [p + ("," if i < len(cell) - 1 else "") for i, p in enumerate(cell)]

    def text_len(key: str, cell) -> int:
        return len(" ".join(parts_of(cell))) if key == wrap else len(cell)

    full = {key: max([len(head)] + [text_len(key, c[key]) for c in cells])
            for key, head, _cap, _ in columns}
    keep = list(columns)
    if whole_if_fits and sum(full.values()) + len(keep) - 1 <= width:
        natural = full
    else:
        natural = {key: min(cap, full[key]) for key, _h, cap, _ in columns}
    least = dict(natural)
    if wrap is not None and natural is not full:
        # the columns that give way before the wrap column go while its parts would not fit
        # on one line; then it needs only its widest part (at most its cap): the rest goes
        # on the row's next lines
        cap = next(c for k, _h, c, _ in columns if k == wrap)
        least[wrap] = min(cap, max([len(h) for k, h, *_ in columns if k == wrap]
                                   + [len(p) for c in cells for p in parts_of(c[wrap])]))
        natural[wrap] = full[wrap]

    def needed(cols) -> int:  # one space between columns, the flex column at least flex_min
        return sum(min(natural[k], flex_min) if k == flex else natural[k]
                   for k, *_ in cols) + len(cols) - 1

    for drop in drop_order:
        if drop == wrap:
            natural[wrap] = least[wrap]
        if needed(keep) <= width:
            break
        keep = [c for c in keep if c[0] != drop]
    if wrap is not None:
        natural[wrap] = min(natural[wrap], least[wrap]) if natural is not full else natural[wrap]
    # exact widths: rich's own collapsing would squeeze the short columns to one letter
    others = sum(natural[k] for k, *_ in keep if k != flex) + len(keep) - 1
    natural[flex] = max(6, min(natural[flex], width - others))
    if wrap is not None and any(k == wrap for k, *_ in keep):
        spare = width - others - natural[flex]
        natural[wrap] = max(natural[wrap], min(full[wrap], natural[wrap] + spare))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=0,
                  header_style="bold")
    for key, head, _cap, justify in keep:
        table.add_column(head, justify=justify, no_wrap=True, overflow="ellipsis",
                         width=natural[key])

    def packed(cell, w: int) -> str:
        lines: list[str] = []
        for part in parts_of(cell):
            part = end_cut(strip_controls(part), w)
            if lines and len(lines[-1]) + 1 + len(part) <= w:
                lines[-1] += " " + part
            else:
                lines.append(part)
        return "\n".join(lines)

    if apart:
        shown = cut_apart([strip_controls(c[flex]) for c in cells], natural[flex])
        cells = [{**c, flex: s} for c, s in zip(cells, shown)]
    for c in cells:
        # Text() keeps names literal: no Rich markup is interpreted; cells are cleaned here so
        # no caller can put raw trace text in a table
        table.add_row(*(Text(packed(c[k], natural[k]) if k == wrap else strip_controls(c[k]),
                             no_wrap=True, overflow="ellipsis")
                        for k, *_ in keep))
    return table
