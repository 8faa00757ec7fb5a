"""Run lookup for the gate: by id, unique id prefix or unique name."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from store import StoreError
from store.queries import resolve_run as store_resolve
from store.writer import conn_of  # noqa: F401  (the gate modules import it from here)

from ..errors import T2EError

RUN_COLUMNS = ("run_id, name, role, source_id, world_id, domain, status, agent_model, "
               "user_model, candidate_hash, grading, num_trials, max_steps, max_errors, seed, "
               "manifest_json, created_at")


@dataclass
class RunInfo:
    """The columns of a run the gate needs."""
    run_id: str
    name: str
    role: str
    source_id: int | None
    world_id: str | None
    domain: str | None
    status: str
    agent_model: str | None
    user_model: str | None
    candidate_hash: str | None
    grading: str | None
    num_trials: int | None
    max_steps: int | None
    max_errors: int | None
    seed: int | None
    manifest_json: str | None
    created_at: str

    def label(self) -> str:
        return f"{self.name} ({self.run_id})" if self.name != self.run_id else self.run_id


def _row(conn: sqlite3.Connection, where: str, args: tuple) -> list[RunInfo]:
    rows = conn.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE {where}", args).fetchall()
    return [RunInfo(*r) for r in rows]


def resolve_run(db: Any, ref: str) -> RunInfo:
    """A run from its id, a unique id prefix or a unique name (the store's lookup, so every
    command resolves runs alike); T2EError (exit 2) otherwise."""
    conn = conn_of(db)
    try:
        run_id = store_resolve(conn, ref)
    except StoreError as exc:
        raise T2EError(str(exc)) from None
    rows = _row(conn, "run_id = ?", (run_id,))
    if not rows:  # deleted between the two reads
        raise T2EError(f"no run {ref!r} in the store (see `t2e runs`)")
    return rows[0]


def refuse_self(baseline: RunInfo, candidate: RunInfo) -> None:
    """T2EError when the two runs are one: gated against itself, a run is evidence of nothing,
    yet would get a scoreboard row. The one check of `gate.gate()` and the transfer rerun
    (asked before it reruns anything)."""
    if baseline.run_id == candidate.run_id:
        raise T2EError(f"{candidate.label()} is both the baseline and the candidate: a run "
                       "cannot be gated against itself")
