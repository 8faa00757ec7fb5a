"""`t2e open`: the Textual app on the store. textual is imported only when the command runs,
so the rest of the CLI stays fast and the core stays free of it."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import T2EError


def register(cli: click.Group) -> None:
    @cli.command("open")
    @click.option("--tasks", "tasks", nargs=2, default=None, metavar="BASELINE CANDIDATE",
                  help="Start on the tasks screen of this run pair.")
    @click.option("--compare", "compare", default=None, metavar="EPISODE[,EPISODE]",
                  help="Start on the compare screen (episode ids).")
    def open_cmd(tasks: tuple[str, str] | None, compare: str | None) -> None:
        """Open the explorer: runs, tasks, aligned trajectories (F1 lists the keys)."""
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
            raise T2EError(f"{path}: is a directory, not a store file")
        # Refuse a file that is not a store (or can't be migrated) with one line and exit 2,
        # before the app starts and turns the same error into a stream of notices.
        from store import connect

        connect(path).close()
        from ..ui.app import make_app  # lazy: textual loads only for the app

        make_app(path, start=start).run()
