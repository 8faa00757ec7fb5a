"""Migration 11 of the evidence store (store/migrations.py runs it): the agent ledger.

Which agent ran which tasks, kept when a run is removed: the memory of the heldout rules
(t2e_tui/gate/heldout.py). Shipped migrations are append-only: never edit this SQL; add the
next number.
"""

from __future__ import annotations

LEDGER_SQL = r"""
-- The heldout rules' memory (t2e_tui/gate/heldout.py): an agent that ran any task of a
-- registered set has seen outcomes on it, whatever the run's role or task list, and a run
-- removed by `t2e runs rm` was still made. One row per run, written by a trigger when the run
-- is created and kept up to date while it exists; `removed_at` is set when it is deleted
-- (no foreign key: the row outlives the run). The agent is candidate_hash + agent_model +
-- user_model; a NULL candidate_hash (an imported run) is an agent nobody can identify.
CREATE TABLE agent_runs (
    run_id TEXT PRIMARY KEY,
    domain TEXT,                    -- as the run said it (world.domains.world_key: its world)
    candidate_hash TEXT,
    agent_model TEXT,
    user_model TEXT,
    created_at TEXT NOT NULL,       -- the run's created_at: runs are ordered by it
    removed_at TEXT                 -- when the run was deleted (NULL: it is still stored)
);
-- One row per (task, run): written by a trigger when the run's first episode of the task is
-- stored (the engine, every importer, forks), never deleted.
CREATE TABLE agent_run_tasks (
    task_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (task_id, run_id)
) WITHOUT ROWID;

CREATE TRIGGER agent_runs_insert AFTER INSERT ON runs
BEGIN
    INSERT INTO agent_runs (run_id, domain, candidate_hash, agent_model, user_model, created_at)
    VALUES (new.run_id, new.domain, new.candidate_hash, new.agent_model, new.user_model,
            new.created_at);
END;
CREATE TRIGGER agent_runs_update AFTER UPDATE OF domain, candidate_hash, agent_model,
    user_model ON runs
BEGIN
    UPDATE agent_runs SET domain = new.domain, candidate_hash = new.candidate_hash,
        agent_model = new.agent_model, user_model = new.user_model
    WHERE run_id = new.run_id;
END;
CREATE TRIGGER agent_runs_removed AFTER DELETE ON runs
BEGIN
    UPDATE agent_runs SET removed_at = strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now')
    WHERE run_id = old.run_id;
END;
CREATE TRIGGER agent_run_tasks_insert AFTER INSERT ON episodes
WHEN new.task_id IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO agent_run_tasks (task_id, run_id) VALUES (new.task_id, new.run_id);
END;

-- What the store already holds: its runs and the tasks their episodes ran ...
INSERT INTO agent_runs (run_id, domain, candidate_hash, agent_model, user_model, created_at)
SELECT run_id, domain, candidate_hash, agent_model, user_model, created_at FROM runs;
INSERT OR IGNORE INTO agent_run_tasks (task_id, run_id)
SELECT DISTINCT task_id, run_id FROM episodes WHERE task_id IS NOT NULL;
-- ... and the runs removed before this migration that a gate row still cites, with what the
-- row knows: the gated candidate's hash (its models unknown), the tasks compared, dated by
-- the row (a baseline's agent is unknown).
INSERT OR IGNORE INTO agent_runs (run_id, candidate_hash, created_at, removed_at)
SELECT candidate_run_id, candidate_hash, min(created_at), min(created_at) FROM gate_decisions
WHERE candidate_run_id NOT IN (SELECT run_id FROM runs) GROUP BY candidate_run_id;
INSERT OR IGNORE INTO agent_runs (run_id, created_at, removed_at)
SELECT baseline_run_id, min(created_at), min(created_at) FROM gate_decisions
WHERE baseline_run_id NOT IN (SELECT run_id FROM runs) GROUP BY baseline_run_id;
INSERT OR IGNORE INTO agent_run_tasks (task_id, run_id)
SELECT DISTINCT j.value, g.candidate_run_id FROM gate_decisions g,
    json_each(CASE WHEN json_valid(g.tasks_json) THEN g.tasks_json ELSE '[]' END) j
WHERE g.candidate_run_id NOT IN (SELECT run_id FROM runs);
INSERT OR IGNORE INTO agent_run_tasks (task_id, run_id)
SELECT DISTINCT j.value, g.baseline_run_id FROM gate_decisions g,
    json_each(CASE WHEN json_valid(g.tasks_json) THEN g.tasks_json ELSE '[]' END) j
WHERE g.baseline_run_id NOT IN (SELECT run_id FROM runs);
"""
