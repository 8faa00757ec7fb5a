"""Pre-registered heldout (and transfer) sets: named, frozen task lists with a hash.

A set is registered before the candidates it judges are saved; the gate (t2e_tui/gate/
heldout.py) calls a comparison clean heldout only when it covers a set registered before the
candidate and both runs were made. The table refuses updates and deletes (migration 4), so
`registered_at` and `sha256` always describe the list the gate checks against.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from world.domains import world_key

from .clock import stamp
from .db import StoreError
from .set_content import content_for
from .writer import conn_of

SET_ROLES = ("heldout", "transfer")
# the gate's paired tests (t2e_tui/gate/policy.TESTS); the first is the default
SET_TESTS = ("sign", "permutation")
_COLS = ("set_id, name, world_key, role, spec, task_ids_json, sha256, registered_at, author, "
         "test, content_json")


def task_key(task_id: str) -> tuple:
    """Sort numeric ids as numbers, then the rest as text (the gate's task order)."""
    s = str(task_id)
    return (0, int(s), "") if s.isdigit() else (1, 0, s)


def set_hash(key: str, task_ids: list[str]) -> str:
    """sha256 of the world key and the sorted task ids (one id per line)."""
    text = key + "\n" + "\n".join(sorted({str(t) for t in task_ids}, key=task_key))
    return hashlib.sha256(text.encode()).hexdigest()


def _row(r: tuple) -> dict:
    return {"set_id": r[0], "name": r[1], "world_key": r[2], "role": r[3], "spec": r[4],
            "task_ids": json.loads(r[5]), "sha256": r[6], "registered_at": r[7],
            "author": r[8], "test": r[9], "content": json.loads(r[10]) if r[10] else None}


def register_set(db: Any, name: str, domain: str, task_ids: list[str], *, spec: str,
                 role: str = "heldout", author: str | None = None,
                 test: str = SET_TESTS[0], world: Any = None) -> dict:
    """Register a frozen task set, with the paired test the gate applies to it (fixed in
    advance, so it is never chosen after the p-values are seen); returns it. StoreError on a
    name `queries.name_problem` refuses (empty, control characters), an empty list, an unknown
    role or test, or a name already taken (sets are never replaced: register a new name).

    `world` is the loaded world.domains.Domain the ids come from (a built-in world is loaded
    here when not given): the set records what its tasks are (store/set_content.py), so runs
    on other task definitions under the same ids do not match it. Without a loaded world (an
    imported world without its data) it records none."""
    from .queries import name_problem

    problem = name_problem(name or "", "a heldout set name")  # the one check of user names
    if problem:
        raise StoreError(problem)
    name = name.strip()
    if role not in SET_ROLES:
        raise StoreError(f"a registered set's role is heldout or transfer, not {role!r}")
    if test not in SET_TESTS:
        raise StoreError(f"a registered set's test is {' or '.join(SET_TESTS)}, not {test!r}")
    ids = sorted({str(t).strip() for t in task_ids if str(t).strip()}, key=task_key)
    if not ids:
        raise StoreError(f"heldout set {name!r}: no task ids")
    conn = conn_of(db)
    if conn.execute("SELECT 1 FROM heldout_sets WHERE name = ?", (name,)).fetchone():
        raise StoreError(f"heldout set {name!r} is already registered (sets are frozen: "
                         f"choose another name)")
    key = world_key(domain)
    content = content_for(domain, ids, world)
    conn.execute(
        "INSERT INTO heldout_sets (name, world_key, role, spec, task_ids_json, sha256, "
        "registered_at, author, test, content_json) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (name, key, role, spec, json.dumps(ids), set_hash(key, ids), stamp(conn), author, test,
         json.dumps(content) if content else None))
    return get_set(conn, name)


def get_set(db: Any, name: str) -> dict:
    """One registered set by name (StoreError if there is none)."""
    r = conn_of(db).execute(f"SELECT {_COLS} FROM heldout_sets WHERE name = ?",
                            (name,)).fetchone()
    if r is None:
        raise StoreError(f"no heldout set {name!r} (see `t2e heldout list`)")
    return _row(r)


def list_sets(db: Any, domain: str | None = None) -> list[dict]:
    """Every registered set, oldest first (only those of `domain`'s world when given)."""
    rows = [_row(r) for r in conn_of(db).execute(
        f"SELECT {_COLS} FROM heldout_sets ORDER BY set_id")]
    if domain is not None:
        key = world_key(domain)
        rows = [r for r in rows if r["world_key"] == key]
    return rows


def runs_on_tasks(db: Any, task_ids: Any) -> list[dict]:
    """Every run that ran any of `task_ids` (an episode of it), removed runs included, oldest
    first: {run_id, domain, candidate_hash, agent_model, user_model, created_at, removed_at}
    from the agent ledger (agent_runs + agent_run_tasks, migration 11)."""
    ids = json.dumps(sorted({str(t) for t in task_ids}))
    cols = ("run_id", "domain", "candidate_hash", "agent_model", "user_model", "created_at",
            "removed_at")
    return [dict(zip(cols, r)) for r in conn_of(db).execute(
        f"SELECT {', '.join(cols)} FROM agent_runs WHERE run_id IN (SELECT run_id FROM "
        "agent_run_tasks WHERE task_id IN (SELECT value FROM json_each(?))) "
        "ORDER BY created_at, run_id", (ids,))]


def watched_tasks(db: Any, *, runs: Any = (), episode_ids: Any = None) -> dict[str, dict]:
    """Task id -> the registered set (heldout or transfer) it belongs to, for the tasks of the
    episodes of `runs` (run ids; None entries skipped) or of `episode_ids`: those whose traces, once shown, are views
    the gate's leakage guard counts against a clean claim on that set. The task is the one
    `queries.record_views` records for the episode (the likely task, a synthetic variant's
    base task), matched by world as the guard does (a run without a domain matches any)."""
    from .queries import VIEWED_FROM

    conn = conn_of(db)
    sets = list_sets(conn)
    if not sets:
        return {}
    sql = (f"SELECT DISTINCT r.domain, coalesce(e.likely_task_id, e.task_id), t.base_task_id "
           f"{VIEWED_FROM} WHERE ")
    if episode_ids is None:
        ids = json.dumps(sorted({str(r) for r in runs if r is not None}))
        rows = conn.execute(sql + "e.run_id IN (SELECT value FROM json_each(?))",
                            (ids,)).fetchall()
    else:
        ids = json.dumps(sorted({int(e) for e in episode_ids or () if e is not None}))
        rows = conn.execute(sql + "e.episode_id IN (SELECT value FROM json_each(?))",
                            (ids,)).fetchall()
    members = [(s, set(s["task_ids"])) for s in sets]
    out: dict[str, dict] = {}
    for domain, task_id, base in rows:
        if task_id is None:
            continue
        key = world_key(domain)
        for s, ids in members:
            if key is not None and s["world_key"] != key:
                continue
            if str(task_id) in ids or (base is not None and str(base) in ids):
                out.setdefault(str(task_id), s)
                break
    return out
