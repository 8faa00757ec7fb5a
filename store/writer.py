"""Writing evidence: runs, tasks, episodes and steps.

Used by the importers (bulk, one transaction per file) and by the rerun engine (streaming: an
episode row is created as `running`, steps are appended as they happen, and `finish_episode`
scores it `done` in one transaction, so a finished episode is durable and a crash leaves only
`running` rows, which `discard_running` removes before a resume).

Every function takes a sqlite3 connection or a sqlite_utils Database. The caller owns
transactions for bulk work (`with transaction(conn): ...`); the streaming helpers are each atomic.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from . import clock, fts_sizes
from .db import now_iso
from .hidden import shown_row

# Message rows (and their inverse) live in messages.py; re-exported here, the write API.
from .messages import HUGE_CHARS, META_KEY, message_from_step, step_row, tool_kind  # noqa: F401
from .messages import encode as _encode
from .variants import base_task_id

ROLES = ("discovery", "development", "heldout", "transfer", "synthetic")


# sqlite3's adapter for None: None, which it binds as NULL, as without an adapter. A builtin
# (an empty dict's get: get(None) is None), not a Python function: sqlite3 calls the adapter
# for every NULL it binds, and a Python function's frame cost ~300 instructions a call (the
# 10 MB OTel file binds ~14,000 NULLs)
_null = {}.get

# sqlite3 binds int, float and str as they are and sends every other value, None among them,
# through its adapter search, which for None fails two attribute lookups (one raising an
# AttributeError it then clears): ~3,300 instructions a None, and an import binds ~6 NULLs a
# message (~0.1 CPU-s for the 200 MB OTel bench file). A registered adapter is one dict
# lookup and a call. sqlite3's adapters are process-wide; nothing else adapts None.
sqlite3.register_adapter(type(None), _null)


def conn_of(db: Any) -> sqlite3.Connection:
    return db.conn if hasattr(db, "conn") else db


@contextmanager
def transaction(db: Any) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (all or nothing)."""
    conn = conn_of(db)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def insert_candidate(db: Any, *, candidate_hash: str, name: str, parent_hash: str | None,
                     hypothesis: str | None, body: str, front_matter: dict, path: str | None,
                     saved_at: str) -> None:
    """Insert one candidate version (the caller holds the transaction). `saved_at` starts the
    drafting window of the version's children, so callers date it no later than the truth."""
    conn_of(db).execute(
        "INSERT INTO candidates (candidate_hash, name, parent_hash, hypothesis, body, "
        "front_matter_json, path, saved_at) VALUES (?,?,?,?,?,?,?,?)",
        (candidate_hash, name, parent_hash, hypothesis, body,
         json.dumps(front_matter, ensure_ascii=False), path, saved_at))


def new_run_id() -> str:
    """Short, unique, typeable: 8 hex chars (collisions are checked by the PK). Four bytes
    from os.urandom, as secrets.token_hex(4) makes them; the secrets module (base64, hmac
    with it) is not imported by every import for this: ~10 M instructions a process."""
    return os.urandom(4).hex()


def dumps(value: Any) -> str | None:
    """JSON text for a *_json column (None stays NULL)."""
    return None if value is None else _encode(value)


def ensure_world(db: Any, world_id: str, *, kind: str, domain: str,
                 detail: dict | None = None) -> None:
    conn_of(db).execute(
        "INSERT OR IGNORE INTO worlds (world_id, kind, domain, detail_json, created_at) "
        "VALUES (?, ?, ?, ?, ?)", (world_id, kind, domain, dumps(detail), now_iso()))


def create_source(db: Any, *, kind: str, path: str | None = None, sha256: str | None = None,
                  size_bytes: int | None = None, fmt: str | None = None) -> int:
    cur = conn_of(db).execute(
        "INSERT INTO sources (kind, path, sha256, size_bytes, format, imported_at) "
        "VALUES (?, ?, ?, ?, ?, ?)", (kind, path, sha256, size_bytes, fmt, now_iso()))
    return int(cur.lastrowid)


def create_run(db: Any, *, name: str, role: str = "discovery", source_id: int | None = None,
               world_id: str | None = None, domain: str | None = None,
               status: str = "complete", agent_model: str | None = None,
               user_model: str | None = None, candidate_hash: str | None = None,
               grading: str | None = None, num_trials: int | None = None,
               max_steps: int | None = None, max_errors: int | None = None,
               seed: int | None = None, manifest: dict | None = None,
               info: dict | None = None, run_id: str | None = None) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown evidence role {role!r} (expected one of {', '.join(ROLES)})")
    conn = conn_of(db)
    for _ in range(10):
        rid = run_id or new_run_id()
        try:
            conn.execute(
                "INSERT INTO runs (run_id, name, role, source_id, world_id, domain, status, "
                "agent_model, user_model, candidate_hash, grading, num_trials, max_steps, "
                "max_errors, seed, manifest_json, info_json, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (rid, name, role, source_id, world_id, domain, status, agent_model, user_model,
                 candidate_hash, grading, num_trials, max_steps, max_errors, seed,
                 dumps(manifest), dumps(info), clock.stamp(conn)))
            return rid
        except sqlite3.IntegrityError:
            if run_id:
                raise
    raise RuntimeError("could not allocate a run id")


def set_run_status(db: Any, run_id: str, status: str) -> None:
    """The run's status; a run that stops running leaves a fresh copy of the FTS size records
    (store/fts_sizes.py) when the connection is outside a transaction."""
    finished = now_iso() if status == "complete" else None
    conn_of(db).execute("UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?",
                        (status, finished, run_id))
    if status != "running":
        fts_sizes.refresh(conn_of(db))


def put_tasks(db: Any, run_id: str, tasks: Iterable[dict]) -> int:
    """Store task definitions (tau2 Task dicts) as the run grades them. Extra keys of ours:
    a task dict may carry `t2e: {split, failure_class}`; a synthetic variant's base task
    (`store/variants.py`) is kept in `base_task_id` (the ledger and views count it)."""
    rows = []
    for ord_, task in enumerate(tasks):
        meta = task.get("t2e") or {}
        rows.append((run_id, str(task.get("id")), meta.get("split"), meta.get("failure_class"),
                     ord_, json.dumps(task, ensure_ascii=False), base_task_id(task)))
    conn_of(db).executemany(
        "INSERT OR REPLACE INTO tasks (run_id, task_id, split, failure_class, ord, task_json, "
        "base_task_id) VALUES (?,?,?,?,?,?,?)", rows)
    return len(rows)


def begin_episode(db: Any, run_id: str, *, episode_key: str, task_id: str | None,
                  trial: int | None, seed: int | None = None, ord: int = 0,
                  sim_id: str | None = None, start_time: str | None = None,
                  status: str = "running") -> int:
    cur = conn_of(db).execute(
        "INSERT INTO episodes (run_id, episode_key, sim_id, ord, task_id, trial, seed, status, "
        "start_time) VALUES (?,?,?,?,?,?,?,?,?)",
        (run_id, episode_key, sim_id, ord, task_id, trial, seed, status, start_time or now_iso()))
    return int(cur.lastrowid)


STEP_INSERT = ("INSERT INTO steps (episode_id, idx, role, content, tool_calls, tool_call_id, "
               "tool_name, error, requestor, timestamp, latency_ms, tokens_in, tokens_out, cost, "
               "huge, extra_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
TOOL_CALL_INSERT = ("INSERT INTO tool_calls (step_id, episode_id, pos, call_id, name, arguments, "
                    "kind) VALUES (?,?,?,?,?,?,?)")
FTS_INSERT = "INSERT INTO steps_fts (rowid, content, tool_calls) VALUES (?, ?, ?)"
SHOWN_INSERT = "INSERT INTO steps_shown (step_id, content, tool_calls) VALUES (?, ?, ?)"


def insert_step(conn: sqlite3.Connection, episode_id: int, idx: int, message: dict, *,
                latency_ms: float | None = None,
                tool_names: dict[str, str] | None = None) -> int:
    """Insert one message's rows (step, its tool calls, its FTS entry) inside the caller's
    transaction: `append_step` wraps it in its own, the engine's batching sink in a shared one."""
    row, call_rows, huge = step_row(episode_id, idx, message, latency_ms=latency_ms,
                                    tool_names=tool_names)
    step_id = int(conn.execute(STEP_INSERT, row).lastrowid)
    if call_rows:
        conn.executemany(TOOL_CALL_INSERT, [(step_id, episode_id, *c) for c in call_rows])
    # the index reads what is shown (steps_search): a message with hidden characters is
    # indexed by its shown text, kept in steps_shown (migration 10)
    got = shown_row(row[3], row[4])
    if got is not None:
        conn.execute(SHOWN_INSERT, (step_id, *got))
        conn.execute(FTS_INSERT, (step_id, got[0] if got[0] is not None else row[3],
                                  got[1] if got[1] is not None else row[4]))
    else:
        conn.execute(FTS_INSERT, (step_id, row[3], row[4]))
    if huge:
        conn.execute("UPDATE episodes SET has_huge = 1 WHERE episode_id = ?", (episode_id,))
    return step_id


def append_step(db: Any, episode_id: int, idx: int, message: dict, *,
                latency_ms: float | None = None,
                tool_names: dict[str, str] | None = None) -> int:
    """Append one message to an episode (atomic: step, its tool calls and its FTS entry)."""
    with transaction(db) as conn:
        return insert_step(conn, episode_id, idx, message, latency_ms=latency_ms,
                           tool_names=tool_names)


def reward_columns(reward_info: dict | None) -> dict[str, Any]:
    """Flatten a tau2 reward_info into the episode's reward columns."""
    ri = reward_info or {}
    reward = ri.get("reward")
    breakdown = ri.get("reward_breakdown") or {}
    db_check = ri.get("db_check") or {}
    def comp(key: str):
        v = breakdown.get(key)
        return float(v) if isinstance(v, (int, float)) else None
    return {
        "reward": reward,
        "success": None if reward is None else int(abs(float(reward) - 1.0) <= 1e-6),
        "db_match": None if db_check.get("db_match") is None else int(bool(db_check["db_match"])),
        "db_reward": db_check.get("db_reward"),
        "communicate_reward": comp("COMMUNICATE"),
        "nl_reward": comp("NL_ASSERTION"),
        "action_reward": comp("ACTION"),
        "reward_basis_json": dumps(ri.get("reward_basis")),
        "reward_breakdown_json": dumps(ri.get("reward_breakdown")),
        "judge_dependent": int(bool(ri.get("judge_dependent"))
                               or "NL_ASSERTION" in (ri.get("reward_basis") or [])),
        "reward_info_json": dumps(reward_info),
    }


def check_rows(episode_id: int, reward_info: dict | None) -> list[tuple]:
    """checks rows from a tau2 reward_info (action, communicate, NL and env assertion checks)."""
    ri = reward_info or {}
    rows: list[tuple] = []
    for pos, ac in enumerate(ri.get("action_checks") or []):
        action = ac.get("action") or {}
        name = action.get("name")
        rows.append((episode_id, "action", pos, action.get("action_id"), name,
                     dumps(action.get("arguments")), ac.get("tool_type") or tool_kind(name or ""),
                     None, _b(ac.get("action_match")), ac.get("action_reward"), None, 0))
    for pos, cc in enumerate(ri.get("communicate_checks") or []):
        rows.append((episode_id, "communicate", pos, None, None, None, None, cc.get("info"),
                     _b(cc.get("met")), None, cc.get("justification"), 0))
    for pos, nl in enumerate(ri.get("nl_assertions") or []):
        rows.append((episode_id, "nl_assertion", pos, None, None, None, None,
                     nl.get("nl_assertion"), _b(nl.get("met")), None, nl.get("justification"), 1))
    for pos, ea in enumerate(ri.get("env_assertions") or []):
        rows.append((episode_id, "env_assertion", pos, None, None, None, None,
                     dumps(ea.get("env_assertion")), _b(ea.get("met")), ea.get("reward"), None, 0))
    return rows


CHECK_INSERT = ("INSERT INTO checks (episode_id, kind, pos, action_id, name, arguments, "
                "tool_kind, text, met, reward, justification, judge_dependent) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)")


def _b(v: Any) -> int | None:
    return None if v is None else int(bool(v))


def finish_episode(db: Any, episode_id: int, *, termination_reason: str,
                   reward_info: dict | None, end_time: str | None = None,
                   duration: float | None = None, agent_cost: float | None = None,
                   user_cost: float | None = None, extra: dict | None = None) -> None:
    """Score and close an episode in one transaction: after this it is durable and `done`."""
    with transaction(db) as conn:
        close_episode(conn, episode_id, termination_reason=termination_reason,
                      reward_info=reward_info, end_time=end_time, duration=duration,
                      agent_cost=agent_cost, user_cost=user_cost, extra=extra)


def close_episode(conn: sqlite3.Connection, episode_id: int, *, termination_reason: str,
                  reward_info: dict | None, end_time: str | None = None,
                  duration: float | None = None, agent_cost: float | None = None,
                  user_cost: float | None = None, extra: dict | None = None) -> None:
    """`finish_episode`'s rows inside the caller's transaction (bulk writers: one transaction
    for a whole run, as `insert_step` is to `append_step`)."""
    cols = reward_columns(reward_info)
    stats = conn.execute(
        "SELECT count(*), coalesce(sum(error), 0), sum(tokens_in), sum(tokens_out) "
        "FROM steps WHERE episode_id = ?", (episode_id,)).fetchone()
    n_calls = conn.execute("SELECT count(*) FROM tool_calls WHERE episode_id = ?",
                           (episode_id,)).fetchone()[0]
    conn.execute("DELETE FROM checks WHERE episode_id = ?", (episode_id,))
    conn.executemany(CHECK_INSERT, check_rows(episode_id, reward_info))
    sets = ", ".join(f"{k} = ?" for k in cols)
    conn.execute(
        f"UPDATE episodes SET status = 'done', termination_reason = ?, end_time = ?, "
        f"duration = ?, agent_cost = ?, user_cost = ?, extra_json = ?, n_steps = ?, "
        f"n_tool_errors = ?, tokens_in = ?, tokens_out = ?, n_tool_calls = ?, {sets} "
        f"WHERE episode_id = ?",
        (termination_reason, end_time or now_iso(), duration, agent_cost, user_cost,
         dumps(extra), stats[0], stats[1], stats[2], stats[3], n_calls,
         *cols.values(), episode_id))


def discard_running(db: Any, run_id: str) -> int:
    """Delete unfinished episodes of a run (their steps cascade; FTS rows are removed too)."""
    with transaction(db) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT episode_id FROM episodes WHERE run_id = ? AND status = 'running'", (run_id,))]
        for eid in ids:
            delete_fts_for_episode(conn, eid)
        conn.executemany("DELETE FROM episodes WHERE episode_id = ?", [(i,) for i in ids])
    return len(ids)


def delete_fts_for_episode(conn: sqlite3.Connection, episode_id: int) -> None:
    """External-content FTS needs explicit deletes with the old values."""
    conn.execute(
        "INSERT INTO steps_fts (steps_fts, rowid, content, tool_calls) "
        "SELECT 'delete', step_id, content, tool_calls FROM steps_search WHERE episode_id = ?",
        (episode_id,))
