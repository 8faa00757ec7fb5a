"""The read API of the store: runs (`list_runs`, `get_run`) and episodes (`episode_index`,
`load_episode`).

Used by the CLI, the gate and the TUI. Every function takes a sqlite3 connection or a
sqlite_utils Database. Figures exclude `infrastructure_error` episodes and unfinished ones.
What was here too is importable from here still: references a user types back (runs,
episodes) and the check on names in `refs.py`, evidence views in `evidence_views.py`, the run
edits (rename, role, delete) in `run_edits.py`.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .db import INFRA, StoreError
from .evidence_views import VIEWED_FROM, record_view, record_views  # noqa: F401 (re-exported)
from .hidden import HIDDEN_CHARS, typeable_name  # noqa: F401 (re-exported)
from .refs import (  # noqa: F401 (re-exported)
    UNSHOWN,
    episode_ref,
    episode_ref_or_id,
    episode_refs,
    name_problem,
    resolve_episode,
    resolve_run,
    run_name_problem,
    typeable,
)
from .run_edits import (  # noqa: F401 (re-exported)
    CLEAN_ROLES,
    delete_run,
    rename_run,
    role_history,
    set_role,
)
from .search import SNIPPET_CLOSE, SNIPPET_OPEN, fts_query, search  # noqa: F401
from .termination import termination_text
from .writer import conn_of, message_from_step


def _rows(cur: sqlite3.Cursor) -> list[dict]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def list_runs(db: Any) -> list[dict]:
    """Every run, oldest first: the one query behind `t2e runs` and the app's runs screen.

    `episodes` counts every stored episode; `scored` the finished, non-infrastructure ones
    with a reward, which are what `reward` (mean) and `pass_rate` are computed over;
    `running` and `infrastructure_errors` are counted apart; `termination` counts episodes
    by termination reason, in `termination.termination_text`'s words (a finished episode
    without one is "not recorded"). `source` is the imported file's path, or 'rerun'."""
    conn = conn_of(db)
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples whatever the caller's row factory
    runs = _rows(cur.execute(
        "SELECT r.run_id, r.name, r.role, r.world_id, r.domain, r.status, r.agent_model, "
        "r.user_model, r.candidate_hash, r.created_at, s.kind AS source_kind, s.path AS "
        "source_path, s.format AS source_format, s.sha256 AS source_sha256 FROM runs r "
        "LEFT JOIN sources s ON s.source_id = r.source_id ORDER BY r.created_at, r.rowid"))
    scored = (f"status = 'done' AND coalesce(termination_reason, '') != '{INFRA}' "
              "AND reward IS NOT NULL")
    stats = {r[0]: tuple(r[1:]) for r in cur.execute(
        "SELECT run_id, count(*), "
        f" sum(CASE WHEN {scored} THEN 1 ELSE 0 END), "
        f" avg(CASE WHEN {scored} THEN reward END), "
        f" avg(CASE WHEN {scored} THEN success END), "
        f" sum(CASE WHEN termination_reason = '{INFRA}' THEN 1 ELSE 0 END), "
        " sum(CASE WHEN status = 'running' THEN 1 ELSE 0 END), "
        " count(DISTINCT task_id) "
        "FROM episodes GROUP BY run_id").fetchall()}
    terms: dict[str, dict[str, int]] = {}
    for run_id, reason, running, n in cur.execute(
            "SELECT run_id, termination_reason, status = 'running', count(*) FROM episodes "
            "GROUP BY 1, 2, 3").fetchall():
        words = termination_text(reason, "running" if running else "done")
        counts = terms.setdefault(run_id, {})
        counts[words] = counts.get(words, 0) + n
    for run_id, counts in terms.items():  # most episodes first, then by name
        terms[run_id] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    out = []
    for r in runs:
        n, n_scored, reward, pass_rate, infra, running, tasks = stats.get(
            r["run_id"], (0, 0, None, None, 0, 0, 0))
        source = "rerun" if r["source_kind"] != "file" else (r["source_path"] or "file")
        out.append({
            "run_id": r["run_id"], "name": r["name"], "role": r["role"], "source": source,
            "world_id": r["world_id"], "episodes": n, "scored": n_scored or 0,
            "reward": reward, "pass_rate": pass_rate,
            "termination": terms.get(r["run_id"], {}),
            "domain": r["domain"], "status": r["status"], "agent_model": r["agent_model"],
            "user_model": r["user_model"], "candidate_hash": r["candidate_hash"],
            "infrastructure_errors": infra or 0, "running": running or 0, "tasks": tasks or 0,
            "created_at": r["created_at"],
            "source_format": r["source_format"], "source_sha256": r["source_sha256"],
        })
    return out



def get_run(db: Any, run_id: str) -> dict:
    """The runs row (with source path/sha/format) as a dict (forks read their parent's)."""
    rows = _rows(conn_of(db).execute(
        "SELECT r.*, s.kind AS source_kind, s.path AS source_path, s.sha256 AS source_sha256, "
        "s.format AS source_format FROM runs r LEFT JOIN sources s ON s.source_id = r.source_id "
        "WHERE r.run_id = ?", (run_id,)))
    if not rows:
        raise StoreError(f"no run {run_id!r}")
    return rows[0]


_INDEX_COLS = ("episode_id, run_id, episode_key, ord, task_id, likely_task_id, trial, seed, "
               "status, termination_reason, reward, success, db_match, db_reward, "
               "communicate_reward, nl_reward, action_reward, judge_dependent, n_steps, "
               "n_tool_calls, n_tool_errors, has_huge, duration, agent_cost, user_cost")


def episode_index(db: Any, run_id: str) -> list[dict]:
    """Summary columns of a run's episodes, in run order (no message bodies)."""
    return _rows(conn_of(db).execute(
        f"SELECT {_INDEX_COLS} FROM episodes WHERE run_id = ? ORDER BY ord, episode_id",
        (run_id,)))


def load_episode(db: Any, episode_id: int) -> dict:
    """One episode: its row, its run, steps (rows), tool calls, checks and the tau2 messages."""
    conn = conn_of(db)
    try:
        eid = int(episode_id)
    except (TypeError, ValueError):
        raise StoreError(f"episode id should be a number, got {episode_id!r}") from None
    eps = _rows(conn.execute("SELECT * FROM episodes WHERE episode_id = ?", (eid,)))
    if not eps:
        raise StoreError(f"no episode {eid} in this store")
    ep = eps[0]
    run = _rows(conn.execute("SELECT run_id, name, role, domain, world_id, agent_model FROM runs "
                             "WHERE run_id = ?", (ep["run_id"],)))
    ep["run"] = run[0] if run else None
    ep["steps"] = _rows(conn.execute("SELECT * FROM steps WHERE episode_id = ? ORDER BY idx",
                                     (eid,)))
    ep["tool_calls"] = _rows(conn.execute(
        "SELECT * FROM tool_calls WHERE episode_id = ? ORDER BY step_id, pos", (eid,)))
    ep["checks"] = _rows(conn.execute(
        "SELECT * FROM checks WHERE episode_id = ? ORDER BY kind, pos", (eid,)))
    ep["messages"] = [message_from_step(s) for s in ep["steps"]]
    return ep



def loads(text: str | None) -> Any:
    """json.loads that passes None through (for *_json columns)."""
    return None if text is None else json.loads(text)
