"""Streaming steps into the store, with group commit when nothing waits on a model.

`writer.append_step` commits every message on its own. That is what a live view wants when a
model call sits between two messages, but with the scripted agent and user an episode takes a
few milliseconds and a commit per step was the largest single cost of the harness (~0.12 ms of
~0.3 ms per step, bench/engine.py). So in `batch` mode the sink keeps one transaction open and
commits it at least every `max_delay` seconds and always before the episode is finished (and
before anything awaits), so a live view still follows within `max_delay`, and durability is
unchanged: a finished episode is committed by `writer.finish_episode` in its own transaction,
and a crash loses only steps of `running` episodes, which a resume discards anyway.

Both paths write the rows with `writer.insert_step`; only the transaction around it differs.
"""

from __future__ import annotations

import sqlite3
import time

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
