"""Pair-debugging evidence in the store: forks (episodes continued from a recorded prefix) and
task reruns launched from the compare screen. Both are development evidence only; the gate asks
`development_only(conn, run_id)` why a run can't be anything else."""

from __future__ import annotations

import json
from typing import Any

from .writer import conn_of

# manifest["kind"] of the runs the pair-debugging loop creates
FORK_KIND = "fork"
TASK_RERUN_KIND = "task-rerun"


def development_only(db: Any, run_id: str) -> str | None:
    """Why `run_id` can only be development evidence (a sentence), or None."""
    conn = conn_of(db)
    n = conn.execute("SELECT count(*) FROM episodes WHERE run_id = ? AND forked_from_episode "
                     "IS NOT NULL", (run_id,)).fetchone()[0]
    if n:
        return (f"run {run_id} holds {n} fork(s): episodes continued from a recorded prefix "
                "are development evidence only")
    row = conn.execute("SELECT manifest_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    try:
        manifest = json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        manifest = {}
    kind = manifest.get("kind") if isinstance(manifest, dict) else None
    sel = manifest.get("task_selection") if isinstance(manifest, dict) else None
    if kind in (FORK_KIND, TASK_RERUN_KIND) or (isinstance(sel, dict)
                                                and sel.get("by") == TASK_RERUN_KIND):
        return (f"run {run_id} is a {'fork' if kind == FORK_KIND else 'task rerun'} made while "
                "debugging: development evidence only")
    return None
