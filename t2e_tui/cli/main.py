"""The `t2e` command line: a thin click layer over the core. Each area registers its commands
from its own module in this package (t2e_tui/cli/) so the areas stay apart.

Exit codes: 0 ok; 1 gate discard / world changed; 2 bad input or usage; 3 gate inconclusive;
70 internal error (one line; T2E_DEBUG=1 shows the traceback); 130 interrupted (Ctrl-C); 141
the output pipe closed early; 143 terminated (SIGTERM: ended as Ctrl-C ends it, cleanup run).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import threading
import traceback

import click

from .. import __version__
from ..errors import EXIT_BAD_INPUT, EXIT_INTERNAL, T2EError
from ..paths import default_store
from ..textsafe import SafeTextStream, strip_ansi


class Ctx:
    """Shared CLI state: the store path, whether the user named it (`--store`, T2E_STORE: its
    folder must exist; the default store's is t2e's own, made when needed) and whether the
    current command wants JSON."""

    def __init__(self, store: str, named: bool = True):
        self.store = store
        self.named = named
        self.json = False


def _wants_json(argv: list[str]) -> bool:
    return "--json" in argv


def _is_closed_pipe(exc: BaseException) -> bool:
    return isinstance(exc, BrokenPipeError) or (
        isinstance(exc, OSError) and exc.errno == errno.EPIPE)


class T2EGroup(click.Group):
    """Turns every error into one line (JSON when --json) and a meaningful exit code."""

    # click's own main swallows EPIPE and exits 1, which reads as "discard" here: a closed
    # pipe is caught first, in parsing (--help) and in running any command.
    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except OSError as exc:
            if _is_closed_pipe(exc):
                _closed_pipe()
            raise

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if _is_closed_pipe(exc):
                _closed_pipe()
            raise

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        # One output path: for the whole command stdout and stderr are streams that turn any
        # escape byte into visible text, whoever writes (click.echo, print, rich, tracebacks).
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = SafeTextStream(out), SafeTextStream(err)
        term = _on_sigterm()
        try:
            self._main(args, prog_name, complete_var, **extra)
        finally:
            if term is not None:
                signal.signal(signal.SIGTERM, term)
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            sys.stdout, sys.stderr = out, err

    def _main(self, args, prog_name, complete_var, **extra):
        argv = list(sys.argv[1:] if args is None else args)
        as_json = _wants_json(argv)
        try:
            rv = super().main(args=argv, prog_name=prog_name or "t2e", complete_var=complete_var,
                              standalone_mode=False, **extra)
            sys.stdout.flush()  # surface a closed pipe here, not at interpreter exit
        except BrokenPipeError:
            _closed_pipe()
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort as exc:  # (click's word for a KeyboardInterrupt: Terminated too)
            if isinstance(exc.__cause__, Terminated):
                click.echo("terminated", err=True)
                sys.exit(EXIT_TERM)
            click.echo("aborted", err=True)
            sys.exit(130)
        except click.UsageError as exc:
            message = exc.format_message()
            if isinstance(exc, click.NoSuchOption) and exc.option_name == "--store":
                # the root's option, typed after the command: say where it goes
                message += " (--store goes before the command: t2e --store PATH COMMAND ...)"
            _fail(message, EXIT_BAD_INPUT, as_json, usage=exc)
        except click.ClickException as exc:
            _fail(exc.format_message(), EXIT_BAD_INPUT, as_json)
        except T2EError as exc:
            _fail(str(exc), exc.exit_code, as_json)
        except Terminated:
            click.echo("terminated", err=True)
            sys.exit(EXIT_TERM)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the one place internal errors are caught
            if isinstance(exc, BrokenPipeError) or isinstance(exc.__context__, BrokenPipeError):
                _closed_pipe()
            if _is_lock_timeout(exc):
                _fail("the store is busy: another process held its write lock for over "
                      f"{_busy_seconds()} s (a large import?); nothing was half-written: try "
                      "again (an interrupted run continues with `t2e run --resume RUN`)",
                      EXIT_BUSY, as_json)
            mapped = _map_core_error(exc)
            if mapped is not None:
                if isinstance(exc, OverflowError):
                    _fail("a number given is too large (the store holds 64-bit integers)",
                          mapped, as_json)
                _fail(str(exc), mapped, as_json)
            if os.environ.get("T2E_DEBUG"):
                traceback.print_exc()
            _fail(f"internal error: {type(exc).__name__}: {exc}", EXIT_INTERNAL, as_json)
        if isinstance(rv, int):
            sys.exit(rv)
        sys.exit(0)


EXIT_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a reader that stopped early
EXIT_TERM = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, as Ctrl-C raises KeyboardInterrupt: every
    command's cleanup for an interrupt (its temporary files, worker processes, the open
    transaction's rollback) runs for it too. CI cancels a job with SIGTERM; its default
    action ended the process on the spot, leaving an OTel import's spill folder behind."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def _on_sigterm():
    """Make SIGTERM raise Terminated for this command; returns the handler to restore, or
    None where nothing was changed (not the main thread, or SIGTERM ignored or handled by
    whoever started us)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


def _closed_pipe() -> None:
    """The reader (`| head`) went away: stop quietly with the shell's SIGPIPE code, which
    clashes with none of ours (1 means discard / changed)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    sys.exit(EXIT_PIPE)


EXIT_BUSY = 75  # EX_TEMPFAIL: try again later


def _is_lock_timeout(exc: BaseException) -> bool:
    import sqlite3

    while exc is not None:
        if isinstance(exc, sqlite3.OperationalError) and (
                "locked" in str(exc) or "busy" in str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _busy_seconds() -> int:
    from store.db import BUSY_TIMEOUT_MS

    return BUSY_TIMEOUT_MS // 1000


def _map_core_error(exc: Exception) -> int | None:
    """Core layers raise their own bad-input errors; they mean exit 2. So does an integer
    from the command line too large for the store (sqlite3 raises OverflowError binding it)."""
    from store import StoreError
    from world.errors import WorldError

    if isinstance(exc, (OverflowError, StoreError, WorldError)):
        return EXIT_BAD_INPUT
    return None


def _fail(message: str, code: int, as_json: bool, usage: click.UsageError | None = None) -> None:
    # errors quote user and trace text (run names, task ids): escape sequences go whole here,
    # and anything else unsafe shows as \u escapes on the stream
    message = " ".join(strip_ansi(str(message)).split("\n")).strip()
    try:
        if as_json:
            click.echo(json.dumps({"error": message}))
        else:
            if usage is not None and usage.ctx is not None:
                click.echo(usage.ctx.get_usage(), err=True)
            click.echo(f"t2e: error: {message}", err=True)
        sys.stdout.flush()
    except OSError as exc:  # the reader went away before the error could be said
        if _is_closed_pipe(exc):
            _closed_pipe()
        raise
    sys.exit(code)


class _StoreOption(click.Option):
    """--store, whose help names the default store when help is shown: asking for it at
    import loaded platformdirs in every command, which (given --store) never needs it."""

    def get_help_record(self, ctx: click.Context):
        self.help = f"Evidence store (SQLite). Env T2E_STORE. Default: {default_store()}"
        return super().get_help_record(ctx)


@click.group(cls=T2EGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--store", "store", envvar="T2E_STORE", type=click.Path(dir_okay=False),
              default=None, cls=_StoreOption)
@click.version_option(__version__, prog_name="t2e")
@click.pass_context
def cli(ctx: click.Context, store: str | None) -> None:
    """t2e - the Trace2Evolve workbench.

    Without a command, opens the app on the store (same as `t2e open`).
    """
    ctx.obj = Ctx(store or str(default_store()), named=store is not None)
    if ctx.invoked_subcommand is None:
        opener = cli.get_command(ctx, "open")
        if opener is None:
            click.echo(ctx.get_help())
            return
        ctx.invoke(opener)


def _register_all() -> None:
    """Every module of this package with a `register(cli)` adds its commands: an area's CLI is
    one new file, and no list here has to change (click lists commands by name anyway)."""
    import importlib
    import pkgutil

    package = importlib.import_module(__package__)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name in ("main", "__main__", "common"):
            continue
        register = getattr(importlib.import_module(f".{info.name}", __package__), "register", None)
        if register is not None:
            register(cli)


_register_all()


def main() -> None:
    # Rich exits 1 on a closed pipe; 1 means "discard" here: the CLI's one console class
    # (common.SafeConsole) routes it to our pipe code, so rich is only imported when used.
    cli.main()


if __name__ == "__main__":  # pragma: no cover
    main()
