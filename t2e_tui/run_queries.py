"""What the workbench screens ask about runs: their SQL lives here, not in the screens (the
explorer's queries are in data_access.py). No textual import. Every function takes a sqlite3
connection the caller owns."""

from __future__ import annotations

import json
import sqlite3

DEFAULT_STEPS = 20  # expected steps per episode when no baseline run says better


def expected_steps(conn: sqlite3.Connection, baseline_run: str | None) -> float:
    """Mean steps per episode of the baseline run (the best guess for the candidate)."""
    if baseline_run:
        r = conn.execute("SELECT avg(n_steps) FROM episodes WHERE run_id = ? AND status = 'done'",
                         (baseline_run,)).fetchone()
        if r and r[0]:
            return float(r[0])
    return float(DEFAULT_STEPS)


def baseline_tasks(conn: sqlite3.Connection, baseline_run: str | None) -> str | None:
    """The baseline run's task set, as a spec the engine accepts (the gate needs equal sets)."""
    if not baseline_run:
        return None
    r = conn.execute("SELECT manifest_json FROM runs WHERE run_id = ?", (baseline_run,)).fetchone()
    if r and r[0]:
        try:
            spec = json.loads(r[0]).get("tasks_spec")
            if spec:
                return spec
        except ValueError:
            pass
    ids = [x[0] for x in conn.execute("SELECT task_id FROM tasks WHERE run_id = ? ORDER BY ord",
                                      (baseline_run,))]
    return ",".join(ids) if ids else None


def run_label_row(conn: sqlite3.Connection,
                  run_id: str) -> tuple[str, str | None, str | None] | None:
    """(name, agent_model, grading) of a run, or None when there is no such run."""
    row = conn.execute("SELECT name, agent_model, grading FROM runs WHERE run_id = ?",
                       (run_id,)).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def run_exists(conn: sqlite3.Connection, run_id: str) -> bool:
    """True when the store holds this run."""
    return conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is not None


def run_task_ids(conn: sqlite3.Connection, run_id: str) -> set[str]:
    """The task ids a run has episodes of."""
    return {str(r[0]) for r in conn.execute(
        "SELECT DISTINCT task_id FROM episodes WHERE run_id = ?", (run_id,))}


def run_candidate_hash(conn: sqlite3.Connection, run_id: str) -> str | None:
    """The candidate (instruction body hash) a run ran, if recorded."""
    r = conn.execute("SELECT candidate_hash FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return r[0] if r else None


def heldout_set_names(conn: sqlite3.Connection) -> list[tuple]:
    """Names of the registered heldout/transfer sets (the launcher picks a free one)."""
    return conn.execute("SELECT name FROM heldout_sets").fetchall()
