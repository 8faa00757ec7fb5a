"""Migration 1: the evidence store's initial schema (runs, episodes, steps, their full-text
index, labels, gates, candidates, views). Kept apart from `migrations.py` (the
migration list and the runner) because it is the one big block of schema text; like every
migration it is append-only: never edit it, add the next migration instead."""

INITIAL_SCHEMA = r"""
CREATE TABLE sources (
    source_id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('file', 'rerun')),
    path TEXT,                      -- file path as given on import (NULL for reruns)
    sha256 TEXT UNIQUE,             -- content hash of the imported file (NULL for reruns)
    size_bytes INTEGER,
    format TEXT,                    -- tau2-v0 | tau2-v1 | tau2-dir | t2e-jsonl | foreign-list | ...
    imported_at TEXT NOT NULL
);

CREATE TABLE worlds (
    world_id TEXT PRIMARY KEY,      -- hash: imported = domain+policy+embedded tasks; rerun = world lock hash
    kind TEXT NOT NULL,             -- 'import' | 'lock'
    domain TEXT NOT NULL,           -- retail | mini-retail | tau2-retail | airline ...
    detail_json TEXT,               -- what went into the hash
    created_at TEXT NOT NULL
);

CREATE TABLE candidates (
    candidate_hash TEXT PRIMARY KEY, -- sha256 of the normalised instruction body
    name TEXT NOT NULL,
    parent_hash TEXT,               -- no FK: a parent may be known only by hash
    hypothesis TEXT,
    body TEXT NOT NULL,
    front_matter_json TEXT,
    path TEXT,                      -- file written under candidates/
    saved_at TEXT NOT NULL          -- when t2e first recorded the text: ends its drafting window
);

CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'discovery'
        CHECK (role IN ('discovery', 'development', 'heldout', 'transfer', 'synthetic')),
    source_id INTEGER REFERENCES sources(source_id),
    world_id TEXT REFERENCES worlds(world_id),
    domain TEXT,
    status TEXT NOT NULL DEFAULT 'complete'
        CHECK (status IN ('running', 'interrupted', 'complete')),
    agent_model TEXT,
    user_model TEXT,
    candidate_hash TEXT,            -- no FK: imported runs have none
    grading TEXT,                   -- recorded | db-communicate | judge
    num_trials INTEGER,
    max_steps INTEGER,
    max_errors INTEGER,
    seed INTEGER,
    manifest_json TEXT,             -- reruns: world hash, candidate hash, models, params, seeds, code version
    info_json TEXT,                 -- imports: tau2 `info` block and top-level extras, for export
    created_at TEXT NOT NULL,
    finished_at TEXT
);

-- Tasks as the run graded them (tau2 files embed their definitions; keep them per run).
CREATE TABLE tasks (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    split TEXT,                     -- train | dev | heldout | test ... when known
    failure_class TEXT,             -- mini-retail scenario class when known
    ord INTEGER NOT NULL,           -- position in the source list (export order)
    task_json TEXT NOT NULL,        -- full tau2 Task object
    PRIMARY KEY (run_id, task_id)
);

CREATE TABLE episodes (
    episode_id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    episode_key TEXT NOT NULL,      -- reruns: '<task_id>:<trial>'; imports: the simulation id
    sim_id TEXT,                    -- tau2 SimulationRun.id
    ord INTEGER NOT NULL,           -- position in the source file / run order
    task_id TEXT,                   -- the label as given
    likely_task_id TEXT,            -- set when the relabel check finds a unique better fit
    trial INTEGER,
    seed INTEGER,
    status TEXT NOT NULL DEFAULT 'done' CHECK (status IN ('running', 'done')),
    termination_reason TEXT,
    start_time TEXT,
    end_time TEXT,
    duration REAL,
    agent_cost REAL,
    user_cost REAL,
    reward REAL,
    success INTEGER,                -- |reward - 1| <= 1e-6
    db_match INTEGER,
    db_reward REAL,
    communicate_reward REAL,
    nl_reward REAL,
    action_reward REAL,
    reward_basis_json TEXT,
    reward_breakdown_json TEXT,
    judge_dependent INTEGER NOT NULL DEFAULT 0,
    reward_info_json TEXT,          -- full tau2 reward_info as recorded/computed
    extra_json TEXT,                -- unknown SimulationRun keys, for lossless export
    n_steps INTEGER NOT NULL DEFAULT 0,
    n_tool_calls INTEGER NOT NULL DEFAULT 0,
    n_tool_errors INTEGER NOT NULL DEFAULT 0,
    tokens_in INTEGER,
    tokens_out INTEGER,
    has_huge INTEGER NOT NULL DEFAULT 0,
    forked_from_episode INTEGER,    -- room for pair-debugging: fork from step t
    forked_at_step INTEGER,
    UNIQUE (run_id, episode_key)
);
CREATE INDEX idx_episodes_run_task ON episodes(run_id, task_id, trial);

-- One row per message of any role, in order.
CREATE TABLE steps (
    step_id INTEGER PRIMARY KEY,
    episode_id INTEGER NOT NULL REFERENCES episodes(episode_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,           -- 0-based position (tau2 turn_idx)
    role TEXT NOT NULL,             -- assistant | user | tool | system
    content TEXT,                   -- message text / tool result, stored whole
    tool_calls TEXT,                -- JSON list of {id, name, arguments, requestor} or NULL
    tool_call_id TEXT,              -- tool messages: id of the call answered
    tool_name TEXT,                 -- tool messages: name of the call answered (resolved)
    error INTEGER NOT NULL DEFAULT 0,
    requestor TEXT,
    timestamp TEXT,
    latency_ms REAL,
    tokens_in INTEGER,
    tokens_out INTEGER,
    cost REAL,
    huge INTEGER NOT NULL DEFAULT 0, -- some field > 1 MB: the UI truncates it
    extra_json TEXT,                -- unknown message keys (raw_data, usage ...), for export
    UNIQUE (episode_id, idx)
);

-- Tool calls, one row each, for alignment and queries (also inside steps.tool_calls).
CREATE TABLE tool_calls (
    step_id INTEGER NOT NULL REFERENCES steps(step_id) ON DELETE CASCADE,
    episode_id INTEGER NOT NULL REFERENCES episodes(episode_id) ON DELETE CASCADE,
    pos INTEGER NOT NULL,           -- order within the message
    call_id TEXT,
    name TEXT NOT NULL,
    arguments TEXT,                 -- JSON object as text (or the raw string if malformed)
    kind TEXT,                      -- read | write | generic | think | unknown
    PRIMARY KEY (step_id, pos)
);
CREATE INDEX idx_tool_calls_episode ON tool_calls(episode_id);

-- Per-episode checks: action checks, communicate checks, NL assertions, env assertions.
CREATE TABLE checks (
    episode_id INTEGER NOT NULL REFERENCES episodes(episode_id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('action', 'communicate', 'nl_assertion', 'env_assertion')),
    pos INTEGER NOT NULL,
    action_id TEXT,                 -- action checks
    name TEXT,                      -- action checks: tool name
    arguments TEXT,                 -- action checks: gold arguments JSON
    tool_kind TEXT,                 -- action checks: read | write | generic
    text TEXT,                      -- communicate info / assertion text
    met INTEGER,                    -- 1/0; NULL when unknown
    reward REAL,
    justification TEXT,
    judge_dependent INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (episode_id, kind, pos)
);

-- Full-text search over message text, tool arguments and tool results.
CREATE VIRTUAL TABLE steps_fts USING fts5(
    content, tool_calls, content='steps', content_rowid='step_id'
);

CREATE TABLE labels (
    label_id INTEGER PRIMARY KEY,
    target_kind TEXT NOT NULL,      -- episode | task | step | run
    target_id TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'tag', -- tag | failure_class
    label TEXT NOT NULL,
    author TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_labels_target ON labels(target_kind, target_id);

CREATE TABLE notes (
    note_id INTEGER PRIMARY KEY,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    text TEXT NOT NULL,
    author TEXT,
    created_at TEXT NOT NULL
);

-- Room for a versioned regression set (later work).
CREATE TABLE regression_sets (
    set_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (name, version)
);
CREATE TABLE regression_set_items (
    set_id INTEGER NOT NULL REFERENCES regression_sets(set_id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    task_id TEXT NOT NULL,
    failure_class TEXT,
    PRIMARY KEY (set_id, domain, task_id)
);

-- The scoreboard: one row per gate call. Runs are cited by id, without FKs, so a
-- row survives the deletion of a run it cites (cites_deleted_run is then set).
CREATE TABLE gate_decisions (
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
    intersected INTEGER NOT NULL DEFAULT 0, -- 1 when --intersect restricted the task set
    evidence_role TEXT NOT NULL,
    leaked_tasks_json TEXT,
    decision TEXT NOT NULL CHECK (decision IN ('promote', 'discard', 'inconclusive')),
    reasons_json TEXT,
    checks_json TEXT,
    stats_json TEXT,
    metrics_json TEXT,              -- reward before/after/delta, pass^k, action-match deltas ...
    policy_json TEXT,
    source_hashes_json TEXT,        -- imported runs: the source files' sha256
    manifests_json TEXT,            -- reruns: the manifests, for reproduction
    cites_deleted_run INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE human_decisions (
    decision_id INTEGER PRIMARY KEY,
    row_id INTEGER NOT NULL REFERENCES gate_decisions(row_id),
    decision TEXT NOT NULL CHECK (decision IN ('promote', 'discard')),
    override INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    author TEXT,
    created_at TEXT NOT NULL
);

-- Evidence views: which episode was opened, when, and while which candidate was drafted.
-- Denormalised (run, domain, task) so the leakage guard still works after a run is deleted.
CREATE TABLE evidence_views (
    view_id INTEGER PRIMARY KEY,
    episode_id INTEGER,
    run_id TEXT,
    domain TEXT,
    task_id TEXT,
    viewed_at TEXT NOT NULL,
    via TEXT NOT NULL,              -- tui | cli
    drafting_candidate TEXT         -- name/hash of the candidate being drafted, if known
);
CREATE INDEX idx_views_task ON evidence_views(domain, task_id, viewed_at);
"""
