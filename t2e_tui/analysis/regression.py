"""Regression sets: named, versioned sets of (domain, task, expected outcome, origin episode,
failure class, note). Every change makes a new version (the old ones stay, so a scoreboard
row that cites "NAME v3" can always be reread). `t2e run --tasks regression:NAME` runs the
latest version's tasks; the gate's `regression_set_clean` check fails a candidate that fails
any item (regression_check.py)."""

from __future__ import annotations

import json

from store import now_iso

from .labels import default_author

PREFIX = "regression:"


class RegressionError(ValueError):
    """A regression-set request that cannot be served (unknown set, bad item)."""


def _conn(db):
    return getattr(db, "conn", db)


def latest(db, name: str, version: int | None = None) -> dict | None:
    """The set (latest version, or `version`) with its items, or None."""
    conn = _conn(db)
    sql = "SELECT set_id, name, version, created_at, author FROM regression_sets WHERE name = ?"
    row = conn.execute(sql + (" AND version = ?" if version else " ORDER BY version DESC LIMIT 1"),
                       (name, version) if version else (name,)).fetchone()
    if row is None:
        return None
    items = [dict(zip(("domain", "task_id", "expected", "origin_episode", "failure_class", "note"), r))
             for r in conn.execute(
                 "SELECT domain, task_id, expected, origin_episode, failure_class, note FROM"
                 " regression_set_items WHERE set_id = ? ORDER BY domain, task_id", (row[0],))]
    return {"set_id": row[0], "name": row[1], "version": row[2], "created_at": row[3],
            "author": row[4], "items": items}


def list_sets(db) -> list[dict]:
    """Every set's latest version: name, version, item count, created_at."""
    conn = _conn(db)
    return [dict(zip(("name", "version", "items", "created_at"), r)) for r in conn.execute(
        "SELECT s.name, s.version, (SELECT count(*) FROM regression_set_items i WHERE i.set_id ="
        " s.set_id), s.created_at FROM regression_sets s WHERE s.version = (SELECT max(version)"
        " FROM regression_sets t WHERE t.name = s.name) ORDER BY s.name")]


def item_from_episode(db, episode_id: int, note: str | None = None, cls: str | None = None) -> dict:
    """An item for the task of a (failed, later fixed) episode; the class defaults to the
    episode's top failure class (human labels win)."""
    from .cache import analysis_of

    conn = _conn(db)
    row = conn.execute("SELECT r.domain, coalesce(e.likely_task_id, e.task_id) FROM episodes e"
                       " JOIN runs r ON r.run_id = e.run_id WHERE e.episode_id = ?",
                       (episode_id,)).fetchone()
    if row is None:
        raise RegressionError(f"episode {episode_id} is not in the store")
    if cls is None:
        a = analysis_of(conn, episode_id)
        cls = a.top if a is not None else None
    return {"domain": row[0] or "unknown", "task_id": row[1], "expected": "pass",
            "origin_episode": episode_id, "failure_class": cls, "note": note}


def add_items(db, name: str, items: list[dict], author: str | None = None) -> dict:
    """A new version of `name`: the previous items plus `items` (same task replaced)."""
    from store.queries import name_problem

    problem = name_problem(name, "a regression set name")  # the one check of user names
    if problem:
        raise RegressionError(problem)
    if ":" in name:
        raise RegressionError(f"regression set name {name!r}: give a name without ':'")
    if not items:
        raise RegressionError("nothing to add")
    conn = _conn(db)
    prev = latest(conn, name)
    merged = {(i["domain"], i["task_id"]): i for i in (prev["items"] if prev else [])}
    for i in items:
        merged[(i["domain"], i["task_id"])] = i
    version = (prev["version"] if prev else 0) + 1
    conn.execute("BEGIN IMMEDIATE")
    try:
        cur = conn.execute("INSERT INTO regression_sets (name, version, created_at, author) VALUES"
                           " (?, ?, ?, ?)", (name, version, now_iso(), author or default_author()))
        conn.executemany(
            "INSERT INTO regression_set_items (set_id, domain, task_id, expected, origin_episode,"
            " failure_class, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(cur.lastrowid, i["domain"], i["task_id"], i.get("expected") or "pass",
              i.get("origin_episode"), i.get("failure_class"), i.get("note")) for i in merged.values()])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return latest(conn, name)


def offered_from_gate(db, row_id: int) -> list[dict]:
    """The tasks a promoted gate row fixed, as items (origin: the baseline's failing episode)."""
    conn = _conn(db)
    row = conn.execute("SELECT decision, baseline_run_id, candidate_run_id, metrics_json FROM"
                       " gate_decisions WHERE row_id = ?", (row_id,)).fetchone()
    if row is None:
        raise RegressionError(f"no scoreboard row {row_id}")
    human = conn.execute("SELECT decision FROM human_decisions WHERE row_id = ? ORDER BY"
                         " decision_id DESC LIMIT 1", (row_id,)).fetchone()
    decision = human[0] if human else row[0]
    if decision != "promote":
        raise RegressionError(f"scoreboard row {row_id} was not promoted ({decision}): only a "
                              "promoted candidate's fixes are offered")
    transitions = (json.loads(row[3] or "{}").get("transitions") or {})
    out = []
    for tid, tr in sorted(transitions.items()):
        if tr not in ("fixed", "improved"):
            continue
        e = conn.execute("SELECT episode_id FROM episodes WHERE run_id = ? AND coalesce("
                         "likely_task_id, task_id) = ? AND reward < 0.999999"  # failed: scored, short of 1
                         " ORDER BY trial LIMIT 1", (row[1], tid)).fetchone()
        if e:
            out.append(item_from_episode(conn, e[0], note=f"fixed by scoreboard row {row_id}"))
    return out


def task_ids_for(db, spec: str, domain: str) -> tuple[list[str], dict]:
    """`regression:NAME` -> (the latest version's task ids of `domain`, the selection record)."""
    name = spec[len(PREFIX):]
    s = latest(db, name)
    if s is None:
        raise RegressionError(f"--tasks {spec}: no regression set named {name!r} (t2e regression list)")
    ids = [i["task_id"] for i in s["items"] if i["domain"] == domain]
    if not ids:
        raise RegressionError(f"--tasks {spec}: {name} v{s['version']} has no task of domain {domain}")
    # tasks picked by how they came out: the gate treats a run on them as development evidence
    return ids, {"by": "outcome_filter", "filter": spec, "regression_set": name,
                 "version": s["version"], "tasks": len(ids)}


def export_jsonl(db, name: str, version: int | None = None) -> list[str]:
    s = latest(db, name, version)
    if s is None:
        raise RegressionError(f"no regression set named {name!r}" + (f" v{version}" if version else ""))
    return [json.dumps({"set": s["name"], "version": s["version"], **i}, ensure_ascii=False)
            for i in s["items"]]
