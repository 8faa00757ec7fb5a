"""What a registered set's tasks are, and whether a run graded the same ones.

The ids alone do not tie a set to its tasks: runs made with `--data` on an edited copy (same
ids, other task definitions, policy or records) matched a set registered on the original. A
set records at registration (heldout_sets.content_json, migration 13) each task definition's
`world.lock.task_content_hash` (which reads tau2's result dumps, defaults filled in, as the
data files), the policy's and the records' sha256 (the world lock's own parts), and `sha256`
over those three (the set's content identity). The gate (t2e_tui/gate/heldout.py) compares a
run's tasks, as its `tasks` rows hold them, and its world record with it.

`world_tasks` is only a shortcut: the world lock's hash of the domain's whole task list. An
engine run's world record holds the same part (worlds.detail_json, data.tasks), and a run made
on the registered data has it equal, so its tasks need not be read and parsed one by one
(seconds at 25,000 tasks); any other run (an import, another world) is compared task by task.
"""

from __future__ import annotations

import json
from typing import Any

from world.lock import canonical_json, sha256_text, task_content_hash

from .writer import conn_of

BUILT_IN = ("mini-retail", "mini-airline")   # worlds that need no data directory


def _sort(ids: Any) -> list[str]:
    from .heldout import task_key

    return sorted({str(t) for t in ids}, key=task_key)


def domain_content(world: Any, task_ids: list[str]) -> dict:
    """The content of tasks `task_ids` of a loaded world.domains.Domain (see the module)."""
    ids = _sort(task_ids)
    tasks = {t: task_content_hash(world.tasks[t].raw) for t in ids}
    data = (getattr(world, "world_detail", None) or {}).get("data") or {}
    body = {"tasks": tasks, "policy": sha256_text(world.policy), "db": data.get("db")}
    return {"sha256": sha256_text(canonical_json(body)), **body,
            "world_tasks": data.get("tasks")}


def content_for(domain: str, ids: list[str], world: Any) -> dict | None:
    """The content register_set records: of `world`, else of a built-in domain loaded here
    (a tau2 domain's data is wherever the caller found it, --data, never guessed from the
    environment); None when there is no loaded world or it lacks one of the ids."""
    if world is None:
        if domain not in BUILT_IN:
            return None
        from world.domains import load_domain

        world = load_domain(domain)
    if any(t not in world.tasks for t in ids):
        return None   # ids typed for another copy of the world: nothing to vouch for
    return domain_content(world, ids)


def run_content(db: Any, run_id: str, task_ids: list[str],
                registered: dict | None = None) -> dict:
    """What a run's tasks were, in `domain_content`'s shape: each task definition as the run
    graded it (its `tasks` rows; None for a task it does not hold), the policy's sha256 (the
    run's world record, else its manifest or its file's info) and the records' sha256 (an
    engine run's world record; None for an import, whose file does not hold them). With the
    `registered` content, a run whose world record has the registered task list is not read
    task by task."""
    conn = conn_of(db)
    row = conn.execute("SELECT w.kind, w.detail_json, r.manifest_json, r.info_json FROM runs r "
                       "LEFT JOIN worlds w ON w.world_id = r.world_id WHERE r.run_id = ?",
                       (run_id,)).fetchone()
    kind, detail, manifest, info = row if row else (None, None, None, None)
    data = (_obj(detail).get("data") or {}) if kind == "lock" else {}
    policy = data.get("policy")
    if policy is None:
        text = _obj(manifest).get("policy")
        if not isinstance(text, str):
            text = (_obj(info).get("environment_info") or {}).get("policy")
        policy = sha256_text(text) if isinstance(text, str) else None
    ids = _sort(task_ids)
    if registered and registered.get("world_tasks") and \
            registered["world_tasks"] == data.get("tasks"):
        tasks = dict(registered.get("tasks") or {})   # the very task list registered
    else:
        rows = dict(conn.execute(
            "SELECT task_id, task_json FROM tasks WHERE run_id = ? AND task_id IN "
            "(SELECT value FROM json_each(?))", (run_id, json.dumps(ids))).fetchall())
        tasks, memo = {}, {}
        for t in ids:
            text = rows.get(t)
            if text is not None and text not in memo:
                try:
                    task = json.loads(text)
                except ValueError:
                    task = None
                memo[text] = task_content_hash(task) if isinstance(task, dict) else "?"
            tasks[t] = None if text is None else memo[text]
    return {"tasks": tasks, "policy": policy, "db": data.get("db")}


def _obj(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def content_differences(db: Any, registered: dict | None, run_id: str,
                        task_ids: list[str]) -> list[str]:
    """How run `run_id`'s tasks differ from a set's `registered` content, in words ([] when
    they do not, or the set recorded none). A part the run does not record (an import's
    records) is not compared."""
    if not registered:
        return []
    run = run_content(db, run_id, task_ids, registered)
    out = []
    mine, other = registered.get("tasks") or {}, run["tasks"]
    changed = [t for t in _sort(mine) if other.get(t) != mine[t]]
    if changed:
        shown = ", ".join(changed[:8]) + (f" (+{len(changed) - 8} more)"
                                          if len(changed) > 8 else "")
        out.append(f"{len(changed)} task definition(s) differ ({shown})")
    for part, words in (("policy", "the policy differs"), ("db", "the records (db) differ")):
        if registered.get(part) and run.get(part) and registered[part] != run[part]:
            out.append(words)
    return out
