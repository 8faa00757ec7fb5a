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
import secrets
import sqlite3
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from .db import now_iso

HUGE_CHARS = 1_000_000  # a field above this is stored whole and flagged for the UI to truncate

# Keys of a tau2 message that have columns of their own; everything else goes to extra_json.
_MESSAGE_KEYS = {"role", "content", "tool_calls", "id", "error", "requestor", "timestamp",
                 "cost", "usage", "turn_idx"}
_SIM_KEYS = {"id", "task_id", "trial", "seed", "timestamp", "start_time", "end_time", "duration",
             "termination_reason", "agent_cost", "user_cost", "reward_info", "messages"}

ROLES = ("discovery", "development", "heldout", "transfer", "synthetic")


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


def new_run_id() -> str:
    """Short, unique, typeable: 8 hex chars (collisions are checked by the PK)."""
    return secrets.token_hex(4)


_TOOL_KINDS: dict[str, str] | None = None


def tool_kind(name: str) -> str:
    """read | write | generic | unknown, from the world's tool table."""
    global _TOOL_KINDS
    if _TOOL_KINDS is None:
        try:
            from world.tools import TOOL_KINDS
        except ImportError:  # world not built yet
            return "unknown"
        _TOOL_KINDS = TOOL_KINDS
    return _TOOL_KINDS.get(name, "unknown")


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
                 dumps(manifest), dumps(info), now_iso()))
            return rid
        except sqlite3.IntegrityError:
            if run_id:
                raise
    raise RuntimeError("could not allocate a run id")


def set_run_status(db: Any, run_id: str, status: str) -> None:
    finished = now_iso() if status == "complete" else None
    conn_of(db).execute("UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?",
                        (status, finished, run_id))


def put_tasks(db: Any, run_id: str, tasks: Iterable[dict]) -> int:
    """Store task definitions (tau2 Task dicts) as the run grades them. Extra keys of ours:
    a task dict may carry `t2e: {split, failure_class}`."""
    rows = []
    for ord_, task in enumerate(tasks):
        meta = task.get("t2e") or {}
        rows.append((run_id, str(task.get("id")), meta.get("split"), meta.get("failure_class"),
                     ord_, json.dumps(task, ensure_ascii=False)))
    conn_of(db).executemany(
        "INSERT OR REPLACE INTO tasks (run_id, task_id, split, failure_class, ord, task_json) "
        "VALUES (?,?,?,?,?,?)", rows)
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


# The keys a tau2 message of each role normally carries (pydantic dump). Only deviations from
# these are recorded per step, so the common case costs nothing and export stays lossless.
_DEFAULT_KEYS = {
    "assistant": ("role", "content", "tool_calls", "turn_idx", "timestamp", "cost", "usage"),
    "user": ("role", "content", "tool_calls", "turn_idx", "timestamp", "cost", "usage"),
    "tool": ("role", "content", "id", "requestor", "error", "turn_idx", "timestamp"),
}
_OTHER_DEFAULT = ("role", "content", "turn_idx")
META_KEY = "_t2e"  # inside steps.extra_json: {"keys": [...], "raw": {key: value}} when needed


def _raw_needed(key: str, value: Any, role: str, idx: int) -> bool:
    """True when the column for `key` cannot give back `value` exactly (then it is kept raw)."""
    if value is None:
        return False
    if key in ("role", "content", "requestor", "timestamp"):
        return type(value) is not str
    if key == "tool_calls":
        return not (type(value) is list and value)
    if key == "id":
        return role != "tool" or type(value) is not str
    if key == "error":
        return type(value) is not bool
    if key == "cost":
        return type(value) is not float and type(value) is not int
    if key == "turn_idx":
        return type(value) is not int or value != idx
    return False


# One encoder for every row: json.dumps builds a new one per call, which shows at 10^6 rows.
# Input comes from JSON (or the engine's plain dicts), so there are no cycles to check.
_ENC = json.JSONEncoder(ensure_ascii=False, check_circular=False)
_encode = _ENC.encode
_DEFAULT_SETS = {role: frozenset(k for k in keys if k != "usage")
                 for role, keys in _DEFAULT_KEYS.items()}
_OTHER_SET = frozenset(k for k in _OTHER_DEFAULT if k != "usage")
_STR_KEYS = frozenset(("role", "content", "requestor", "timestamp"))
_COLUMN_KEYS = frozenset(_MESSAGE_KEYS - {"usage"})  # usage also rides in extra_json


def step_row(episode_id: int, idx: int, message: dict, *, latency_ms: float | None = None,
             tool_names: dict[str, str] | None = None) -> tuple[tuple, list[tuple], bool]:
    """Turn one tau2 message dict into a steps row plus tool_calls rows.

    `tool_names` maps call id -> tool name seen so far in the episode (to label tool results).
    Returns (step_values, tool_call_values_without_step_id, huge). Unknown keys go to
    extra_json; so does a small `_t2e` note when the message deviates from the usual tau2 key
    set or a value does not fit its column, so `message_from_step` gives the message back.
    """
    role = message.get("role") or "unknown"
    content = message.get("content")
    if content is not None and type(content) is not str:
        content = _encode(content)
    calls = message.get("tool_calls") or None
    calls_text = _encode(calls) if calls else None
    usage = message.get("usage")
    if type(usage) is dict:
        tokens_in = usage.get("prompt_tokens")
        tokens_out = usage.get("completion_tokens")
    else:
        tokens_in = tokens_out = None
    extra = {k: v for k, v in message.items() if k not in _COLUMN_KEYS}
    if type(role) is not str:
        role = "unknown"
    meta: dict[str, Any] = {}
    present_set = message.keys() & _COLUMN_KEYS
    present = None
    if present_set != _DEFAULT_SETS.get(role, _OTHER_SET):
        present = [k for k in message if k in _COLUMN_KEYS]
        meta["keys"] = present
    raw = None
    for k in present or present_set:
        v = message[k]
        # inline fast path for the common, column-exact values; _raw_needed decides the rest
        if v is None or (type(v) is str and k in _STR_KEYS):
            continue
        if _raw_needed(k, v, role, idx):
            if raw is None:
                raw = {}
            raw[k] = v
    if raw:
        meta["raw"] = raw
    if meta:
        extra[META_KEY] = meta
    raw_id = message.get("id")
    call_id = raw_id if role == "tool" and type(raw_id) is str else None
    tool_name = None
    if call_id is not None and tool_names is not None:
        tool_name = tool_names.get(call_id)
    call_rows = []
    if calls and type(calls) is list:
        for pos, call in enumerate(calls):
            if type(call) is not dict:
                continue
            name = str(call.get("name") or "")
            args = call.get("arguments")
            args_text = args if type(args) is str else _encode(args)
            cid = call.get("id")
            if type(cid) is not str:
                cid = None
            elif tool_names is not None:
                tool_names[cid] = name
            call_rows.append((pos, cid, name, args_text, tool_kind(name)))
    extra_text = _encode(extra) if extra else None
    huge = ((content is not None and len(content) > HUGE_CHARS)
            or (calls_text is not None and len(calls_text) > HUGE_CHARS)
            or (extra_text is not None and len(extra_text) > HUGE_CHARS))
    requestor = message.get("requestor")
    timestamp = message.get("timestamp")
    cost = message.get("cost")
    row = (episode_id, idx, role, content, calls_text, call_id, tool_name,
           1 if message.get("error") else 0,
           requestor if type(requestor) is str else None,
           timestamp if type(timestamp) is str else None,
           latency_ms, tokens_in, tokens_out,
           cost if type(cost) is float or type(cost) is int else None,
           1 if huge else 0, extra_text)
    return row, call_rows, huge


def message_from_step(step: dict) -> dict:
    """The tau2 message dict a steps row was made from (inverse of `step_row`)."""
    role = step.get("role")
    extra = json.loads(step["extra_json"]) if step.get("extra_json") else {}
    meta = extra.pop(META_KEY, None) or {}
    # older rows (before the meta note) flagged a missing turn_idx this way
    no_turn = extra.pop("_no_turn_idx", False)
    keys = meta.get("keys")
    if keys is None:
        keys = [k for k in _DEFAULT_KEYS.get(role, _OTHER_DEFAULT) if k != "usage"]
        if no_turn:
            keys = [k for k in keys if k != "turn_idx"]
    raw = meta.get("raw") or {}
    msg: dict[str, Any] = {}
    for k in keys:
        if k in raw:
            msg[k] = raw[k]
        elif k == "role":
            msg[k] = role
        elif k == "content":
            msg[k] = step.get("content")
        elif k == "tool_calls":
            tc = step.get("tool_calls")
            msg[k] = json.loads(tc) if tc else None
        elif k == "id":
            msg[k] = step.get("tool_call_id")
        elif k == "error":
            msg[k] = bool(step.get("error"))
        elif k == "turn_idx":
            msg[k] = step.get("idx")
        else:  # requestor, timestamp, cost
            msg[k] = step.get(k)
    msg.update(extra)
    return msg


STEP_INSERT = ("INSERT INTO steps (episode_id, idx, role, content, tool_calls, tool_call_id, "
               "tool_name, error, requestor, timestamp, latency_ms, tokens_in, tokens_out, cost, "
               "huge, extra_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
TOOL_CALL_INSERT = ("INSERT INTO tool_calls (step_id, episode_id, pos, call_id, name, arguments, "
                    "kind) VALUES (?,?,?,?,?,?,?)")
FTS_INSERT = "INSERT INTO steps_fts (rowid, content, tool_calls) VALUES (?, ?, ?)"


def append_step(db: Any, episode_id: int, idx: int, message: dict, *,
                latency_ms: float | None = None,
                tool_names: dict[str, str] | None = None) -> int:
    """Append one message to an episode (atomic: step, its tool calls and its FTS entry)."""
    row, call_rows, huge = step_row(episode_id, idx, message, latency_ms=latency_ms,
                                    tool_names=tool_names)
    with transaction(db) as conn:
        step_id = int(conn.execute(STEP_INSERT, row).lastrowid)
        conn.executemany(TOOL_CALL_INSERT, [(step_id, episode_id, *c) for c in call_rows])
        conn.execute(FTS_INSERT, (step_id, row[3], row[4]))
        if huge:
            conn.execute("UPDATE episodes SET has_huge = 1 WHERE episode_id = ?", (episode_id,))
    return step_id


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
    cols = reward_columns(reward_info)
    with transaction(db) as conn:
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
        "SELECT 'delete', step_id, content, tool_calls FROM steps WHERE episode_id = ?",
        (episode_id,))
