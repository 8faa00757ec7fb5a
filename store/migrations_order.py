"""Migration 14 of the evidence store (store/migrations.py runs it): the order of evidence.

The gate's rules are "before" tests (a set registered before the candidate was saved, no view
of its tasks before that, the baseline's agent on the set before the candidate's). They read
times the store wrote; this migration makes those times a clock nobody can set back: one row
holding the last stamp issued (`store/clock.py`). And they ask which tasks an agent ran or
someone viewed: a synthetic variant of a task counts as that task (`store/variants.py`).
Shipped migrations are append-only: never edit this SQL once released; add the next number.
"""

from __future__ import annotations

ORDER_VERSION = 14

# microseconds since the epoch of an ISO time as the store writes it; julianday keeps about a
# millisecond, so a margin of one keeps the clock past every stamp already stored
_US = "CAST((julianday({col}) - 2440587.5) * 86400000000 AS INTEGER) + 1000"
_STAMPED = [("runs", "created_at"), ("agent_runs", "created_at"),
            ("agent_runs", "removed_at"), ("candidates", "saved_at"),
            ("heldout_sets", "registered_at"), ("evidence_views", "viewed_at"),
            ("run_role_changes", "changed_at"), ("gate_decisions", "created_at")]
_LATEST = " UNION ALL ".join(f"SELECT max({_US.format(col=c)}) AS us FROM {t}"
                             for t, c in _STAMPED)

ORDER_SQL = rf"""
-- The store clock (store/clock.py): the last time stamp issued, in microseconds since the
-- epoch. Every time the gate compares (heldout_sets.registered_at, candidates.saved_at,
-- evidence_views.viewed_at, runs.created_at and so agent_runs.created_at) is issued by
-- advancing this row to max(wall clock, last + 1 us) in one statement: a clock set back
-- (faketime, a VM's clock) cannot date a row before one the store already holds, and no two
-- stamps are equal. It starts past every stamp the store already holds.
CREATE TABLE store_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    issued_at INTEGER NOT NULL      -- microseconds since the epoch (a clock column: *_at)
);
INSERT INTO store_clock (id, issued_at)
SELECT 1, coalesce(max(us), 0) FROM ({_LATEST});

-- A synthetic variant counts as its base task (store/variants.py): the task it was made from,
-- whose customer and orders it keeps. `tasks.base_task_id` is written by writer.put_tasks from
-- the task's definition; a view of a variant's episode carries the base too
-- (`evidence_views.base_task_id`, queries.record_views), and a run of a variant is in the
-- agent ledger as a run of its base task as well, whichever of its tasks and episodes is
-- stored first (importers store a run's tasks before or after its episodes).
ALTER TABLE tasks ADD COLUMN base_task_id TEXT;
ALTER TABLE evidence_views ADD COLUMN base_task_id TEXT;
CREATE TRIGGER agent_run_tasks_base AFTER INSERT ON episodes
WHEN new.task_id IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO agent_run_tasks (task_id, run_id)
    SELECT base_task_id, new.run_id FROM tasks
    WHERE run_id = new.run_id AND task_id = new.task_id AND base_task_id IS NOT NULL;
END;
CREATE TRIGGER agent_run_tasks_base_late AFTER INSERT ON tasks
WHEN new.base_task_id IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO agent_run_tasks (task_id, run_id)
    SELECT new.base_task_id, new.run_id
    WHERE EXISTS (SELECT 1 FROM episodes WHERE run_id = new.run_id AND task_id = new.task_id);
END;
"""


def key_stored_variants(conn) -> None:
    """Migration 14's Python (after its SQL, same transaction): the variants already stored
    get their base, the ledger their runs of it, and views of them the base."""
    import json

    from .variants import base_task_id

    # only a definition that says "synthetic" can name a base: the rest is not decoded
    found = []
    for run_id, task_id, text in conn.execute(
            "SELECT run_id, task_id, task_json FROM tasks WHERE instr(task_json, 'synthetic')"):
        try:
            base = base_task_id(json.loads(text))
        except ValueError:
            continue
        if base is not None:
            found.append((base, run_id, task_id))
    conn.executemany("UPDATE tasks SET base_task_id = ? WHERE run_id = ? AND task_id = ?", found)
    conn.executemany(
        "INSERT OR IGNORE INTO agent_run_tasks (task_id, run_id) SELECT ?, ? WHERE EXISTS "
        "(SELECT 1 FROM episodes WHERE run_id = ? AND task_id = ?)",
        [(base, run, run, task) for base, run, task in found])
    conn.executemany(
        "UPDATE evidence_views SET base_task_id = ? WHERE run_id = ? AND task_id = ?", found)
