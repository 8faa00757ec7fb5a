"""Run edits: rename, evidence role (and how a run came to have its role, for the gate),
delete.

Split from queries.py, which re-exports every name here.
"""

from __future__ import annotations

from typing import Any

from . import fts_sizes
from .db import StoreError
from .refs import resolve_run, run_name_problem
from .writer import ROLES, conn_of, transaction


def rename_run(db: Any, ref: str, name: str) -> str:
    """Rename a run; returns its id."""
    problem = run_name_problem(name)
    if problem:
        raise StoreError(problem)
    run_id = resolve_run(db, ref)
    conn_of(db).execute("UPDATE runs SET name = ? WHERE run_id = ?", (name.strip(), run_id))
    return run_id


def set_role(db: Any, ref: str, role: str) -> str:
    """Change a run's evidence role; returns its id. The change is recorded (time, old and
    new role) in run_role_changes by a trigger; see `role_history`."""
    if role not in ROLES:
        raise StoreError(f"unknown evidence role {role!r} (expected one of {', '.join(ROLES)})")
    run_id = resolve_run(db, ref)
    conn_of(db).execute("UPDATE runs SET role = ? WHERE run_id = ?", (role, run_id))
    return run_id


CLEAN_ROLES = ("heldout", "transfer")


def role_history(db: Any, run_id: str) -> dict:
    """How a run came to have its evidence role, for the gate.

    Returns {"run_id", "role" (current), "created_at", "created_role" (the role it was
    created with), "role_set_at" (when the current role was set; None = unknown, the run
    predates role history), "set_at_creation" (True: the current role is the one it was
    created with and never changed; False: changed after creation; None: unknown),
    "raised_to_clean_at" (when the run was last moved INTO heldout/transfer after creation,
    else None), "changes": [{"from", "to", "at"}] oldest first}."""
    conn = conn_of(db)
    row = conn.execute("SELECT role, created_at, role_set_at FROM runs WHERE run_id = ?",
                       (run_id,)).fetchone()
    if row is None:
        raise StoreError(f"no run {run_id!r}")
    role, created_at, role_set_at = row
    changes = [{"from": a, "to": b, "at": t} for a, b, t in conn.execute(
        "SELECT old_role, new_role, changed_at FROM run_role_changes WHERE run_id = ? "
        "ORDER BY change_id", (run_id,))]
    created_role = changes[0]["from"] if changes else role
    if changes:
        set_at_creation: bool | None = False
    else:
        set_at_creation = None if role_set_at is None else True
    raised = [c["at"] for c in changes if c["to"] in CLEAN_ROLES and c["from"] != c["to"]]
    return {"run_id": run_id, "role": role, "created_at": created_at,
            "created_role": created_role, "role_set_at": role_set_at,
            "set_at_creation": set_at_creation,
            "raised_to_clean_at": raised[-1] if raised and role in CLEAN_ROLES else None,
            "changes": changes}


def delete_run(db: Any, ref: str) -> dict:
    """Delete a run with its episodes, steps (and FTS rows), tasks and, when no other run uses
    it, its source row (so the file can be imported again). Gate decisions citing the run are
    kept and marked `cites_deleted_run = 1`."""
    run_id = resolve_run(db, ref)
    with transaction(db) as conn:
        n_eps, n_steps = conn.execute(
            "SELECT count(*), coalesce(sum(n_steps), 0) FROM episodes WHERE run_id = ?",
            (run_id,)).fetchone()
        conn.execute(
            "INSERT INTO steps_fts (steps_fts, rowid, content, tool_calls) "
            "SELECT 'delete', s.step_id, s.content, s.tool_calls FROM steps_search s "
            "JOIN episodes e ON e.episode_id = s.episode_id WHERE e.run_id = ?", (run_id,))
        source_id = conn.execute("SELECT source_id FROM runs WHERE run_id = ?",
                                 (run_id,)).fetchone()[0]
        conn.execute("DELETE FROM episodes WHERE run_id = ?", (run_id,))
        conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        if source_id is not None and not conn.execute(
                "SELECT 1 FROM runs WHERE source_id = ?", (source_id,)).fetchone():
            conn.execute("DELETE FROM sources WHERE source_id = ?", (source_id,))
        marked = conn.execute(
            "UPDATE gate_decisions SET cites_deleted_run = 1 "
            "WHERE baseline_run_id = ? OR candidate_run_id = ?", (run_id, run_id)).rowcount
    fts_sizes.refresh(conn_of(db))
    return {"run_id": run_id, "episodes": n_eps, "messages": n_steps,
            "gate_decisions_marked": marked}
