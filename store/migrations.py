"""Numbered schema migrations for the evidence store.

The schema is the contract between the layers (see DEVELOPERS.md, "The store schema").
Names are chosen so that `datasette store.sqlite` is readable without our code.
Migrations are append-only: never edit one that has shipped; add the next number, then run
`python -m store.squash` (a new file gets the squashed end state: store/squash.py).
"""

from __future__ import annotations

import sqlite3

from .migrations_heldout_content import HELDOUT_CONTENT_SQL, HELDOUT_CONTENT_VERSION
from .migrations_heldout_test import HELDOUT_TEST_SQL, HELDOUT_TEST_VERSION
from .migrations_ledger import LEDGER_SQL
from .migrations_order import ORDER_SQL, ORDER_VERSION, key_stored_variants
from .migrations_reward_from import REWARD_FROM_SQL, REWARD_FROM_VERSION
from .migrations_search import (
    FTS_SIZES_SQL,
    FTS_SIZES_VERSION,
    SHOWN_SQL,
    SHOWN_VERSION,
    _index_shown_text,
)
from .schema_initial import INITIAL_SCHEMA

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "initial schema",
        INITIAL_SCHEMA,
    ),
    (
        2,
        "sources keep their import warnings",
        r"""
-- The warnings of the import that created the source (JSON list of strings), so a re-import
-- of the same content (a no-op, "duplicate": true) can report them again. NULL: imported
-- before this migration (warnings unknown).
ALTER TABLE sources ADD COLUMN warnings_json TEXT;
""",
    ),
    (
        3,
        "evidence role history",
        r"""
-- When the run's current role was set: its created_at for a role given at creation, later
-- when `t2e runs role` (or any UPDATE of runs.role) changed it. NULL: the run predates this
-- migration, so whether its role was changed after creation is unknown. The gate reads it:
-- a role raised to heldout after the fact must not make clean heldout evidence.
ALTER TABLE runs ADD COLUMN role_set_at TEXT;

-- Every change of a run's evidence role, oldest first (the role at creation is the first
-- change's old_role, else the current role). Kept by the triggers below, so no write path
-- can change a role without leaving a row here.
CREATE TABLE run_role_changes (
    change_id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    old_role TEXT NOT NULL,
    new_role TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE INDEX idx_role_changes_run ON run_role_changes(run_id, change_id);

-- Times as store.now_iso() writes them (microseconds, +00:00) so they sort with the others.
CREATE TRIGGER runs_role_set_at_insert AFTER INSERT ON runs
WHEN new.role_set_at IS NULL
BEGIN
    UPDATE runs SET role_set_at = new.created_at WHERE run_id = new.run_id;
END;

CREATE TRIGGER runs_role_change AFTER UPDATE OF role ON runs
WHEN old.role IS NOT new.role
BEGIN
    INSERT INTO run_role_changes (run_id, old_role, new_role, changed_at)
    VALUES (new.run_id, old.role, new.role,
            strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now'));
    UPDATE runs SET role_set_at = strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now')
    WHERE run_id = new.run_id;
END;
""",
    ),
    (
        4,
        "failure analysis: classifier cache, label notes, regression set items",
        r"""
-- The failure classifier's result per episode and classifier version (a new version
-- re-classifies; old rows stay until `t2e failures --prune`). result_json is the
-- t2e_tui.analysis Analysis document (classes with steps and why, flags, first divergence).
CREATE TABLE failure_analyses (
    episode_id INTEGER NOT NULL REFERENCES episodes(episode_id) ON DELETE CASCADE,
    classifier_version TEXT NOT NULL,
    run_id TEXT NOT NULL,
    top_class TEXT,                 -- the first agent class (or 'unclassified' / 'infrastructure')
    first_step INTEGER,             -- first divergence step
    result_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (episode_id, classifier_version)
);
CREATE INDEX idx_failure_analyses_run ON failure_analyses(run_id, classifier_version);

-- One row per (episode, class) for counting and filtering without parsing JSON.
CREATE TABLE failure_analysis_classes (
    episode_id INTEGER NOT NULL REFERENCES episodes(episode_id) ON DELETE CASCADE,
    classifier_version TEXT NOT NULL,
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,             -- agent | blame | infra
    rank INTEGER NOT NULL,          -- 0 = top class
    PRIMARY KEY (episode_id, classifier_version, name)
);
CREATE INDEX idx_failure_classes_run ON failure_analysis_classes(run_id, classifier_version, name);

-- A run whose failed episodes are all classified under a version, with the run's episode
-- count and highest episode id then: while they match, nothing needs classifying (a cheap
-- check on a 100k-episode store; a resumed run changes them and is classified again).
CREATE TABLE failure_analysis_runs (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    classifier_version TEXT NOT NULL,
    n_episodes INTEGER NOT NULL,
    max_episode_id INTEGER,
    n_failed INTEGER,               -- failed episodes classified (infrastructure excluded)
    PRIMARY KEY (run_id, classifier_version)
);

-- A human label's note (labels of kind failure_class / failure_class_reject; target_kind
-- episode with target_id '<episode_id>' or step with '<episode_id>:<idx>').
ALTER TABLE labels ADD COLUMN note TEXT;

-- Regression set items: the outcome expected (pass), the episode the item came from, a note.
ALTER TABLE regression_set_items ADD COLUMN expected TEXT NOT NULL DEFAULT 'pass';
ALTER TABLE regression_set_items ADD COLUMN origin_episode INTEGER;
ALTER TABLE regression_set_items ADD COLUMN note TEXT;
ALTER TABLE regression_sets ADD COLUMN author TEXT;
""",
    ),
    (
        5,
        "evolve loops: one row per loop, one per recorded step (resumable)",
        r"""
-- `t2e evolve`: a loop is a sequence of runs and candidate versions already in the store;
-- these rows say which belong to which step, so a loop resumes after Ctrl-C or kill -9.
CREATE TABLE evolve_loops (
    loop_id TEXT PRIMARY KEY,
    config_json TEXT NOT NULL,      -- the EvolveConfig the loop was started with
    status TEXT NOT NULL,           -- running | promoted | finished | budget | stopped
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE evolve_events (
    loop_id TEXT NOT NULL REFERENCES evolve_loops(loop_id) ON DELETE CASCADE,
    iteration INTEGER NOT NULL,
    kind TEXT NOT NULL,             -- e.g. run:discovery, proposals, freeze, gate, refused
    data_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (loop_id, iteration, kind)
);
""",
    ),
    (
        6,
        "pair-debugging: forks index, live sessions",
        r"""
-- Pair-debugging (#14): a fork is an episode whose first forked_at_step messages are copied
-- from episode forked_from_episode (columns from migration 1), the rest simulated again with
-- the world restored at that step. Its run's manifest has kind 'fork'. The compare screen
-- and the journal list an episode's forks through this index.
CREATE INDEX idx_episodes_forked_from ON episodes(forked_from_episode)
    WHERE forked_from_episode IS NOT NULL;

-- Live app sessions, for follow mode (`t2e open --follow NAME`): a leader writes what it
-- shows; followers poll it. No server: the SQLite file is the channel. A session whose
-- heartbeat is older than a few seconds is dead (kill -9 leaves its row; it expires).
CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,             -- user@host:pid unless given
    pid INTEGER,
    host TEXT,
    started_at TEXT NOT NULL,
    heartbeat_at REAL NOT NULL,     -- unix time of the last sign of life
    seq INTEGER NOT NULL DEFAULT 0, -- bumped on every change of state
    state_json TEXT                 -- {screen, baseline, candidate, episode_a, episode_b, step, task}
);
""",
    ),
    (
        7,
        "pre-registered heldout sets; gate verdicts carry their grade",
        r"""
-- A heldout (or transfer) set: a named, frozen task list registered before the candidates it
-- judges. `world_key` is world.domains.world_key(domain) (one id per domain's tasks whatever
-- alias a run was stored under). `sha256` hashes world_key + the sorted task ids; the triggers
-- below refuse any change to the list, so a set can be judged by the time it was registered.
CREATE TABLE heldout_sets (
    set_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    world_key TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'heldout' CHECK (role IN ('heldout', 'transfer')),
    spec TEXT NOT NULL,             -- what was given: a split name or the ids as typed
    task_ids_json TEXT NOT NULL,    -- JSON list, sorted (numeric ids as numbers)
    sha256 TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    author TEXT
);
CREATE TRIGGER heldout_sets_frozen BEFORE UPDATE ON heldout_sets
BEGIN
    SELECT RAISE(ABORT, 'heldout sets are frozen: register a new set instead');
END;
CREATE TRIGGER heldout_sets_kept BEFORE DELETE ON heldout_sets
BEGIN
    SELECT RAISE(ABORT, 'heldout sets are never deleted: the scoreboard cites them');
END;

-- gate_decisions gains 'supported' (the checks and the test pass, on evidence that is not
-- clean heldout: development, intersected, synthetic or tainted), the registered set a row was
-- judged on, and a fingerprint (runs + tasks + policy + gate code + outcome) that makes gating
-- the same thing twice return the same row. SQLite cannot alter a CHECK, so the table is
-- rebuilt; human_decisions (which references it) is set aside meanwhile and put back with the
-- same ids, so no foreign key is ever left dangling.
CREATE TEMP TABLE human_decisions_keep AS SELECT * FROM human_decisions;
DELETE FROM human_decisions;
CREATE TABLE gate_decisions_v4 (
    row_id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    baseline_run_id TEXT NOT NULL,
    candidate_run_id TEXT NOT NULL,
    baseline_name TEXT,
    candidate_name TEXT,
    candidate_hash TEXT,
    parent_hash TEXT,
    world_id TEXT,
    tasks_json TEXT NOT NULL,
    intersected INTEGER NOT NULL DEFAULT 0,
    evidence_role TEXT NOT NULL,
    leaked_tasks_json TEXT,
    decision TEXT NOT NULL
        CHECK (decision IN ('promote', 'supported', 'discard', 'inconclusive')),
    reasons_json TEXT,
    checks_json TEXT,
    stats_json TEXT,
    metrics_json TEXT,
    policy_json TEXT,
    source_hashes_json TEXT,
    manifests_json TEXT,
    cites_deleted_run INTEGER NOT NULL DEFAULT 0,
    heldout_set TEXT,               -- name of the registered set judged (NULL: none)
    fingerprint TEXT                -- sha256 of what the verdict depends on (idempotent rows)
);
INSERT INTO gate_decisions_v4 (row_id, created_at, baseline_run_id, candidate_run_id,
    baseline_name, candidate_name, candidate_hash, parent_hash, world_id, tasks_json,
    intersected, evidence_role, leaked_tasks_json, decision, reasons_json, checks_json,
    stats_json, metrics_json, policy_json, source_hashes_json, manifests_json, cites_deleted_run)
SELECT row_id, created_at, baseline_run_id, candidate_run_id, baseline_name, candidate_name,
    candidate_hash, parent_hash, world_id, tasks_json, intersected, evidence_role,
    leaked_tasks_json, decision, reasons_json, checks_json, stats_json, metrics_json,
    policy_json, source_hashes_json, manifests_json, cites_deleted_run FROM gate_decisions;
DROP TABLE gate_decisions;
ALTER TABLE gate_decisions_v4 RENAME TO gate_decisions;
INSERT INTO human_decisions SELECT * FROM human_decisions_keep;
DROP TABLE human_decisions_keep;
CREATE INDEX idx_gate_fingerprint ON gate_decisions(fingerprint);
CREATE INDEX idx_gate_heldout_set ON gate_decisions(heldout_set);
""",
    ),
    (
        8,
        "recorded step latencies indexed (the gate's mean step latency)",
        r"""
-- The gate's mean step latency (t2e_tui/gate/metrics.py) reads every step of a run; with 29
-- steps per episode that was 0.23 s per 50,000-episode run, reading whole step rows. This
-- covering index holds only the steps that carry a latency (engine runs, traces that record
-- one): a run without any is answered from an empty range, one with them without the rows.
-- `idx` keeps each episode's steps in order, so the sum adds them as before.
CREATE INDEX idx_steps_latency ON steps(episode_id, idx, latency_ms)
    WHERE latency_ms IS NOT NULL;
""",
    ),
    (
        FTS_SIZES_VERSION,
        "a copy of the FTS size records for ranked search",
        FTS_SIZES_SQL,
    ),
    (
        SHOWN_VERSION,
        "search finds what is shown: the index reads escape-free text",
        SHOWN_SQL,
    ),
    (
        11,
        "which agent ran which tasks, kept when a run is removed",
        LEDGER_SQL,
    ),
    (
        HELDOUT_TEST_VERSION,
        "a heldout set fixes the gate's statistical test",
        HELDOUT_TEST_SQL,
    ),
    (
        HELDOUT_CONTENT_VERSION,
        "registered sets record their tasks' content",
        HELDOUT_CONTENT_SQL,
    ),
    (
        ORDER_VERSION,
        "a store clock that never goes backwards; synthetic variants count as their base",
        ORDER_SQL,
    ),
    (
        REWARD_FROM_VERSION,
        "a gate row records the outcome attribute its rewards were mapped from",
        REWARD_FROM_SQL,
    ),
]


# Python that a migration runs after its SQL, in the same transaction (migrations_search.py)
AFTER_SQL = {SHOWN_VERSION: _index_shown_text, ORDER_VERSION: key_stored_variants}


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return row[0] or 0


def migrate(conn: sqlite3.Connection, *, squashed: bool = True) -> int:
    """Apply every pending migration, each in its own transaction. Returns the new version.
    A new (empty) file gets the squashed schema instead (`squashed`; store/squash.py): the
    end state of the migrations it stands for, in one transaction; the later ones follow."""
    from datetime import datetime, timezone

    version = current_version(conn)
    if squashed and version == 0:
        from .squash import apply

        version = apply(conn)
    for number, description, sql in MIGRATIONS:
        if number <= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # re-check under the write lock: another process may have migrated meanwhile
            if current_version(conn) >= number:
                conn.execute("ROLLBACK")
                continue
            for statement in _split(sql):
                conn.execute(statement)
            if number in AFTER_SQL:
                AFTER_SQL[number](conn)
            conn.execute(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                (number, description, datetime.now(timezone.utc).isoformat()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version = number
    return version


def _split(sql: str) -> list[str]:
    """Split a migration script into statements (sqlite3.complete_statement aware)."""
    statements, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements
