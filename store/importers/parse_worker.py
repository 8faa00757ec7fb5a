"""The parent's side of the tau2 parse worker process (the child's side is worker.py).

A plain `python -m store.importers.worker PATH DISPLAY` child talking pickle over its stdout,
rather than multiprocessing: spawn re-imports the caller's __main__ (breaking unguarded scripts)
and fork is unsafe from threaded callers such as the app. `-P`: `-m` would otherwise put the
current directory first on the module path, so a `store/` folder wherever t2e is run from would
be imported as the worker's code.

The worker is started before the file is hashed (`import_path`), and told the run id and the
first free ids on its stdin once the import holds the store's write lock: its interpreter
start-up and imports (~0.1-0.2 s) overlap the hash (~0.2 s for the 300 MB bench file) instead
of following it. A worker that is never told (the file is a duplicate, another process imports
it, the import fails first) is stopped by `close`; one whose stdin closes unanswered exits.
"""

from __future__ import annotations

import os
import pickle
import subprocess
from typing import Iterator

from world.subproc import spawn_module, stop

from .common import ImportFailure

Event = tuple


class ParseWorker:
    """One worker process for one file: `events(run_id, ids)` once, then (always) `close()`."""

    def __init__(self, path: str | os.PathLike, display: str):
        self.proc = spawn_module("store.importers.worker", str(path), display,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)

    def events(self, run_id: str, ids: tuple[int, int]) -> Iterator[Event]:
        """Start the parse with these ids and relay its events. Closing this generator (or an
        error) stops the worker."""
        try:
            try:
                self.proc.stdin.write(f"{run_id} {int(ids[0])} {int(ids[1])}\n".encode())
                self.proc.stdin.close()
            except OSError:  # it died before it was told (killed, out of memory...)
                raise self._gone() from None
            while True:
                try:
                    ev = pickle.load(self.proc.stdout)
                except EOFError:
                    raise self._gone() from None
                if ev[0] == "error":
                    raise ImportFailure(ev[1])
                if ev[0] == "crash":
                    raise RuntimeError(f"the import worker failed: {ev[1]}")
                yield ev
                if ev[0] == "done":
                    return
        finally:
            self.close()

    def _gone(self) -> RuntimeError:
        return RuntimeError("the import worker process ended unexpectedly "
                            f"(exit code {self.proc.poll()})")

    def close(self) -> None:
        """Stop the worker (if it still runs) and release its pipes; safe to call twice."""
        stop(self.proc)
