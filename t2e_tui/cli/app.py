"""`t2e open`: the Textual app on the store. textual is imported only when the command runs,
so the rest of the CLI stays fast and the core stays free of it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from world.errors import shown_path

from ..errors import T2EError


def not_a_terminal() -> str | None:
    """The stream that is not a terminal ("stdin", "stdout") when the app can't run here,
    or None. Textual's terminal driver needs a terminal on both ends: from a script, cron or
    CI (stdin at end of file, stdout a pipe) its input thread spun at 100% CPU and the app
    never ended, its screen written as escape codes into the output. A driver named in
    TEXTUAL_DRIVER (`t2e serve`'s web driver speaks over pipes) needs none."""
    if os.environ.get("TEXTUAL_DRIVER"):
        return None
    for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout)):
        try:
            tty = stream is not None and stream.isatty()
        except (ValueError, AttributeError, OSError):  # closed or replaced
            tty = False
        if not tty:
            return name
    return None


def _step_of(conn, step: str | None, a: int, b: int | None) -> tuple[int, int] | None:
    """--step as (episode, step): `12` is REF's, else the --vs episode's; `B12` the --vs
    episode's, else REF's (`A12`: REF's first). Where it lands is the compare screen's `:`
    (align_where.step_at, on the same alignment); a step neither has is refused here, with
    the app's words, before the app starts."""
    if step is None:
        return None
    from ..align_where import parse_step

    parsed = parse_step(step)
    if parsed is None:
        raise T2EError(f"--step {step!r}: expected a step number, or B12 for a step of the "
                       "--vs episode")
    side, n = parsed
    if side == "b" and b is None:
        raise T2EError(f"--step {step}: B's step needs --vs")
    from ..align import align
    from ..data_access import load_episode

    ea = load_episode(conn, a)
    eb = load_episode(conn, b) if b is not None else None
    al = align(ea.steps, eb.steps if eb else None, ea.task or (eb.task if eb else None),
               checks_a=ea.checks, checks_b=eb.checks if eb else None)
    from ..align_where import step_at

    found = step_at(al, n, side or "a")
    if isinstance(found, str):
        raise T2EError(f"--step {step}: {found}")
    return (b if found[1] == "b" else a), n


def register(cli: click.Group) -> None:
    @cli.command("open")
    @click.argument("ref", required=False)
    @click.option("--vs", "versus", default=None, metavar="RUN:TASK[:TRIAL]",
                  help="With REF: open the compare screen on REF against this episode.")
    @click.option("--step", default=None, metavar="N|BN",
                  help="With REF: put the cursor on this step of REF (B12: step 12 of the "
                       "--vs episode, as the gutter and `t2e show --vs` number B's rows).")
    @click.option("--follow", "follow", default=None, is_flag=False, flag_value="",
                  metavar="[NAME]", help="Follow another running session on this store "
                  "(read-only; F9 takes over, F10 stops). NAME when several run.")
    @click.option("--name", "session_name", default=None,
                  help="This session's name for followers (default user@host:pid).")
    @click.option("--tasks", "tasks", nargs=2, default=None, metavar="BASELINE CANDIDATE",
                  help="Start on the tasks screen of this run pair (each a run id, id prefix "
                  "or name).")
    @click.option("--compare", "compare", default=None, metavar="EPISODE[,EPISODE]",
                  help="Start on the compare screen (episode ids).")
    def open_cmd(ref: str | None, versus: str | None, step: str | None, follow: str | None,
                 session_name: str | None, tasks: tuple[str, str] | None,
                 compare: str | None) -> None:
        """Open the explorer: runs, tasks, aligned trajectories (F1 lists the keys).

        REF (a deep link, as `y` on the compare screen copies it): RUN:TASK[:TRIAL] or an
        episode id, `--vs` another, `--step N`; RUN is a run id, id prefix or name."""
        store = click.get_current_context().obj.store
        path = Path(store)
        if path.is_dir():
            raise T2EError(f"{shown_path(path)}: is a directory, not a store file")
        if (versus is not None or step is not None) and ref is None:
            raise T2EError("--vs and --step need an episode reference: t2e open RUN:TASK "
                           "--vs RUN:TASK [--step N]")
        if session_name is not None:
            from store.queries import name_problem

            if problem := name_problem(session_name, "a session name"):  # followers type it
                raise T2EError(f"--name: {problem}")
        start = None
        if tasks:
            start = ("tasks", *tasks)
        elif compare:
            parts = [p.strip() for p in compare.split(",")]
            if not all(p.isdigit() for p in parts if p) or len(parts) > 2:
                raise T2EError(f"--compare {compare!r}: expected EPISODE or EPISODE,EPISODE "
                               "(episode ids)")
            start = ("compare", *parts)
        from .common import store_path

        path = Path(store_path())  # open reads: a path with no store is refused, not made
        if path.is_dir():
            raise T2EError(f"{shown_path(path)}: is a directory, not a store file")
        # Refuse a file that is not a store (or can't be migrated) with one line and exit 2,
        # before the app starts and turns the same error into a stream of notices.
        from store import connect

        conn = connect(path)
        try:
            if tasks:  # (an id, id prefix or name, as every command takes: the app wants ids)
                from store.refs import resolve_run

                start = ("tasks", *(resolve_run(conn, t) for t in tasks))
            if ref is not None:
                # an unknown or ambiguous reference is one line here, before the app starts
                from ..links import resolve_link

                a, b = resolve_link(conn, ref, versus)
                at = _step_of(conn, step, a, b)
                start = ("compare", str(a), str(b) if b is not None else "",
                         *((str(at[1]), str(at[0])) if at else ()))
            session: dict = {"name": session_name}
            if follow is not None:
                # no live session to follow (or several) is one line here, before the app
                from store.sessions import find_leader

                leader = find_leader(conn, follow or None)
                session = {"follow": leader["session_id"], "leader_name": leader["name"]}
        finally:
            conn.close()
        why = not_a_terminal()
        if why:
            raise T2EError(f"the app needs a terminal and {why} is not one: open it from a "
                           "terminal, serve it to a browser (`t2e serve`), or use the commands "
                           "(`t2e runs`, `t2e show`, `t2e failures`)")
        from ..ui.app import make_app  # lazy: textual loads only for the app

        app = make_app(path, start=start, session=session)
        try:
            app.run()
        finally:
            if app.session_link is not None:
                app.session_link.close()
