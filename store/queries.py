"""The read API of the store (and the few run edits: rename, role, delete).

Used by the CLI, the gate and the TUI. Every function takes a sqlite3 connection or a
sqlite_utils Database. Figures exclude `infrastructure_error` episodes and unfinished ones.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from . import clock, fts_sizes
from .db import INFRA, StoreError
from .hidden import HIDDEN_CHARS, typeable_name  # noqa: F401 (re-exported)
from .search import SNIPPET_CLOSE, SNIPPET_OPEN, fts_query, search  # noqa: F401
from .termination import termination_text
from .writer import ROLES, conn_of, message_from_step, transaction


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


def resolve_run(db: Any, ref: str) -> str:
    """A run id from an id, a unique id prefix, or a unique name (StoreError otherwise)."""
    conn = conn_of(db)
    ref = str(ref).strip()
    if not ref:
        raise StoreError("empty run reference")
    if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (ref,)).fetchone():
        return ref
    named = conn.execute("SELECT run_id FROM runs WHERE name = ? ORDER BY created_at",
                         (ref,)).fetchall()
    if len(named) == 1:
        return named[0][0]
    if len(named) > 1:
        raise StoreError(f"run name {ref!r} is ambiguous: runs "
                         f"{', '.join(r[0] for r in named)}; use a run id")
    pref = conn.execute("SELECT run_id, name FROM runs WHERE substr(run_id, 1, ?) = ?",
                        (len(ref), ref)).fetchall()
    if len(pref) == 1:
        return pref[0][0]
    if len(pref) > 1:
        raise StoreError(f"run id prefix {ref!r} is ambiguous: "
                         f"{', '.join(f'{a} ({b})' for a, b in pref[:10])}")
    raise StoreError(f"no run matches {ref!r} (by id, id prefix or name); see `t2e runs`")


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


_TRIAL_SLASH = re.compile(r"^(?P<task>.+)/t(?P<trial>\d+)$")
_TRIAL_COLON = re.compile(r"^(?P<task>.+):(?P<trial>\d+)$")


def episode_ref(run_id: str, task_id: Any, trial: Any) -> str:
    """The label the app shows for an episode, `RUN8:TASK/tTRIAL`; `resolve_episode` reads it."""
    ref = f"{str(run_id)[:8]}:{task_id}"
    return ref if trial is None else f"{ref}/t{trial}"


def typeable(task_id: Any) -> bool:
    """Whether a task id can stand in a reference that is read off the screen and typed back
    (`t2e show RUN:TASK`): every display strips hidden characters and puts a newline as ⏎ and
    each run of white space as one space (textsafe.one_line), and resolve_episode strips the
    ends, so an id holding those would not resolve from what was shown (nor paste safely).
    Such an episode is referred to by its id."""
    # isprintable: no control, format (zero-width space, soft hyphen, bidi), separator other
    # than the space, surrogate or unassigned character, each shown unseen or not at all
    return type(task_id) is str and task_id != "" and task_id == " ".join(task_id.split()) \
        and task_id.isprintable()


def episode_ref_or_id(episode_id: int, run_id: str, task_id: Any, trial: Any) -> str:
    """`episode_ref`'s label where the task id is `typeable`, else the episode's id."""
    return episode_ref(run_id, task_id, trial) if typeable(task_id) else str(int(episode_id))


def episode_refs(db: Any, run_id: str) -> dict[int, str]:
    """episode_id -> the reference `t2e show` takes: the `RUN8:TASK/tTRIAL` label, or the
    plain id where the label is not unique (a file can repeat a task and trial) or the task id
    cannot be typed back (`typeable`)."""
    rows = conn_of(db).execute("SELECT episode_id, task_id, trial FROM episodes "
                               "WHERE run_id = ?", (run_id,)).fetchall()
    seen: dict[tuple, int] = {}
    for _eid, task, trial in rows:
        seen[(task, trial)] = seen.get((task, trial), 0) + 1
    refs = {int(eid): episode_ref_or_id(eid, run_id, task, trial) if seen[(task, trial)] == 1
            else str(eid) for eid, task, trial in rows}
    # two episodes may print alike (task 'a/t3' without a trial, task 'a' trial 3): such a
    # label is kept only by the episode it resolves to
    count: dict[str, int] = {}
    for ref in refs.values():
        count[ref] = count.get(ref, 0) + 1
    for eid, ref in refs.items():
        if count[ref] > 1 and not ref.isdigit() and resolve_episode(db, ref) != eid:
            refs[eid] = str(eid)
    return refs


def resolve_episode(db: Any, ref: Any) -> int:
    """An episode id from `123`, `RUN:TASK`, `RUN:TASK:TRIAL` or `RUN:TASK/tTRIAL` (the app's
    label). RUN is a run id, unique id prefix or unique name. Without a trial, the task's
    first trial. StoreError names what did not match."""
    conn = conn_of(db)
    text = str(ref).strip()
    if text.isdigit():
        if conn.execute("SELECT 1 FROM episodes WHERE episode_id = ?", (int(text),)).fetchone():
            return int(text)
        raise StoreError(f"no episode {int(text)} in this store (list a run's episodes with "
                         "`t2e episodes RUN`)")
    if ":" not in text:
        raise StoreError(f"episode {text!r}: expected an episode id or RUN:TASK[:TRIAL] "
                         "(as the app shows it, RUN:TASK/tTRIAL); see `t2e episodes RUN`")
    # a run name may itself contain ':' - try each split, leftmost first
    run_id, rest, last_err = None, "", None
    pos = text.find(":")
    while pos != -1:
        try:
            run_id, rest = resolve_run(db, text[:pos]), text[pos + 1:]
            break
        except StoreError as exc:
            last_err = last_err or exc
        pos = text.find(":", pos + 1)
    if run_id is None:
        raise StoreError(f"episode {text!r}: {last_err}")
    candidates = [(rest, None)]  # a task id may end in ':N' or '/tN' itself: exact id first
    for pat in (_TRIAL_SLASH, _TRIAL_COLON):
        m = pat.match(rest)
        if m:
            candidates.append((m["task"], int(m["trial"])))
    for task_id, trial in candidates:
        rows = conn.execute(
            "SELECT episode_id, trial FROM episodes WHERE run_id = ? AND task_id = ? "
            "ORDER BY trial, ord, episode_id", (run_id, task_id)).fetchall()
        if not rows:
            continue
        if trial is None:
            return int(rows[0][0])
        hits = [int(eid) for eid, t in rows if t == trial]
        if len(hits) == 1:
            return hits[0]
        if hits:  # a file may repeat a (task, trial) pair; only the id tells them apart
            raise StoreError(f"episode {text!r} is ambiguous: episodes "
                             f"{', '.join(map(str, hits))}; use the episode id")
        have = ", ".join(str(t) for _e, t in rows)
        raise StoreError(f"episode {text!r}: run {run_id} has no trial {trial} of task "
                         f"{task_id!r} (trials: {have})")
    raise StoreError(f"episode {text!r}: run {run_id} has no task {candidates[-1][0]!r}; "
                     f"see `t2e episodes {run_id[:8]}`")


def record_view(db: Any, episode_id: int, via: str, drafting_candidate: str | None = None) -> int:
    """Note that an episode was opened (one episode: `record_views`); returns the view's id.
    Raises StoreError for an episode not in the store."""
    if not record_views(db, [episode_id], via, drafting_candidate):
        raise StoreError(f"no episode {episode_id} in this store")
    return int(conn_of(db).execute("SELECT last_insert_rowid()").fetchone()[0])


# what a view of an episode is a view of (its run's domain, the task whose trace was seen, a
# synthetic variant's base task): record_views writes it, heldout.watched_tasks warns of it
VIEWED_FROM = ("FROM episodes e LEFT JOIN runs r ON r.run_id = e.run_id LEFT JOIN tasks t "
               "ON t.run_id = e.run_id AND t.task_id = coalesce(e.likely_task_id, e.task_id)")


def record_views(db: Any, episode_ids: Any, via: str,
                 drafting_candidate: str | None = None) -> int:
    """Note that these episodes' content was shown: message text, tool arguments or results,
    or words drawn from them (a finding's explanation, a snippet, a cluster's shared words),
    on a screen, on stdout or in a file. The gate's leakage guard reads these rows; this is
    the one function that writes them, for every command and screen. One view per distinct
    episode, in one statement per 500. The task stored is the likely task when the label was
    found wrong: that is the task whose trace was seen; a synthetic variant's view carries its
    base task too (`store/variants.py`). Returns how many were recorded."""
    ids = sorted({int(e) for e in episode_ids})
    if not ids:
        return 0
    conn = conn_of(db)
    now = clock.stamp(conn)   # the store's clock: the gate orders views by it
    n = 0
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        cur = conn.execute(
            "INSERT INTO evidence_views (episode_id, run_id, domain, task_id, viewed_at, via, "
            "drafting_candidate, base_task_id) SELECT e.episode_id, e.run_id, r.domain, "
            f"coalesce(e.likely_task_id, e.task_id), ?, ?, ?, t.base_task_id {VIEWED_FROM} "
            f"WHERE e.episode_id IN ({marks})",
            (now, via, drafting_candidate, *chunk))
        n += cur.rowcount
    return n


def name_problem(name: str, what: str = "a run name") -> str | None:
    """What is wrong with a name a user gives and types back later (`what`: a run's (`--name`,
    `runs rename`), a heldout set's, a regression set's, a session's), or None: the one
    check for every such name. Control characters are refused: listings strip them, so the
    name could not be typed back (`t2e gate NAME`, `t2e heldout show NAME`). Names taken from
    file names are kept as they are, and displayed safely."""
    if not name or not name.strip():
        return f"{what} cannot be empty"
    if re.search("[\ud800-\udfff]", name):  # a command line's bytes that are not UTF-8
        return f"{what} must be UTF-8 text (it holds bytes of another encoding)"
    if UNSHOWN.search(name):
        return ("control characters (escape sequences, tabs, newlines, bidi overrides) are not "
                f"allowed in {what}")
    return None


def run_name_problem(name: str) -> str | None:
    """`name_problem` of a run's name."""
    return name_problem(name, "a run name")


# what listings strip from a name (store/hidden.py), tabs and newlines too
UNSHOWN = re.compile(f"[\t\n{HIDDEN_CHARS}]")


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


def loads(text: str | None) -> Any:
    """json.loads that passes None through (for *_json columns)."""
    return None if text is None else json.loads(text)
