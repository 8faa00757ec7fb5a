"""Streaming steps into the store, with group commit when nothing waits on a model.

`writer.append_step` commits every message on its own. That is what a live view wants when a
model call sits between two messages, but with the scripted agent and user an episode takes a
few milliseconds and a commit per step was the largest single cost of the harness (~0.12 ms of
~0.3 ms per step, bench/engine.py). So in `batch` mode the sink keeps one transaction open and
commits it at least every `max_delay` seconds and always when the episode is finished (and
before anything awaits), so a live view still follows within `max_delay`. The engine opens it
before the episode's row and closes the episode in it (`begin`, `finish`): an episode shorter
than `max_delay` is one transaction, row, steps and close (it was three commits, each writing
the pages it touched and an FTS5 segment). Durability is unchanged: a finished episode is
committed when `finish` returns, and a crash loses only `running` episodes (or, now, ones not
yet begun on disk), which a resume discards or plays anyway.

Both paths write the rows with `writer.insert_step`; only the transaction around it differs.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Callable

from store import writer


class StepSink:
    """Appends steps for one run's connection (one event-loop thread)."""

    def __init__(self, conn: sqlite3.Connection, *, batch: bool, max_delay: float = 0.05):
        self.conn = conn
        self.batch = batch
        self.max_delay = max_delay
        self._opened: float | None = None

    def append(self, episode_id: int, idx: int, message: dict, latency_ms: float | None,
               tool_names: dict[str, str]) -> None:
        if not self.batch:
            writer.append_step(self.conn, episode_id, idx, message, latency_ms=latency_ms,
                               tool_names=tool_names)
            return
        if self._opened is None:
            self.conn.execute("BEGIN IMMEDIATE")
            self._opened = time.perf_counter()
        writer.insert_step(self.conn, episode_id, idx, message, latency_ms=latency_ms,
                           tool_names=tool_names)
        if time.perf_counter() - self._opened >= self.max_delay:
            self.flush()

    def begin(self) -> None:
        """Batch mode: open the transaction now, so the episode's row joins its steps."""
        if self.batch and self._opened is None:
            self.conn.execute("BEGIN IMMEDIATE")
            self._opened = time.perf_counter()

    def finish(self, close: Callable[[sqlite3.Connection], None]) -> None:
        """Close an episode: batch mode, `close(conn)` (writer.close_episode's rows) in the
        open transaction, then commit; else pending steps first, `close` in its own."""
        if not self.batch:
            self.flush()
            with writer.transaction(self.conn) as conn:
                close(conn)
            return
        self.begin()
        try:
            close(self.conn)
        except BaseException:
            self.abandon()
            raise
        self.flush()

    def flush(self) -> None:
        """Commit what is pending (call before finishing an episode and before awaiting)."""
        if self._opened is not None:
            self._opened = None
            self.conn.execute("COMMIT")

    def abandon(self) -> None:
        """Roll back pending steps (their episodes are `running` and get discarded)."""
        if self._opened is not None:
            self._opened = None
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
