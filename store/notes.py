"""Notes and labels on a task, an episode or a step (the `notes` and `labels` tables of
migration 1), written by `t2e note` and read by the journal.

Target ids: a task is its domain and its id, `WORLD_KEY:TASK_ID` (`target_kind` 'task';
`world.domains.world_key`, so "retail" and "tau2-retail" are one domain, and retail's task
"18" is not airline's; notes written before the domain was recorded carry the bare task id),
an episode its episode id ('episode'), a step `EPISODE:IDX` ('step'), a run its run id ('run').
"""

from __future__ import annotations

from typing import Any

from world.domains import world_key

from .db import StoreError, now_iso
from .writer import conn_of

KINDS = ("task", "episode", "step", "run")
NO_DOMAIN = "(no domain)"   # how a run stored without a domain is named


def task_target(key: str, task_id: str) -> str:
    """The target id of a task of world `key` (a `world_key`)."""
    return f"{key}:{task_id}"


def _key(domain: Any) -> str:
    return world_key(domain) or NO_DOMAIN


def task_worlds(db: Any, task_id: str) -> list[str]:
    """The world keys of the runs that hold `task_id` (a task row or an episode of it; an
    episode of a foreign trace by the task it was matched to), sorted."""
    rows = conn_of(db).execute(
        "SELECT DISTINCT domain FROM runs WHERE run_id IN (SELECT run_id FROM tasks WHERE "
        "task_id = ?) OR run_id IN (SELECT run_id FROM episodes WHERE coalesce(likely_task_id, "
        "task_id) = ?)", (task_id, task_id)).fetchall()
    return sorted({_key(r[0]) for r in rows})


def world_domains(db: Any, key: str) -> list[str | None]:
    """The runs' domain names that are world `key` ("retail" and "tau2-retail" alike)."""
    rows = conn_of(db).execute("SELECT DISTINCT domain FROM runs").fetchall()
    return [r[0] for r in rows if _key(r[0]) == key]


def resolve_task(db: Any, task_id: str, domain: str | None = None,
                 run_id: str | None = None) -> str:
    """The world key of task `task_id`: the one given (`domain`, or `run_id`'s domain), else
    the only one the store holds it in. StoreError when the store does not hold it there, or
    when the id is in several domains and none was chosen."""
    worlds = task_worlds(db, task_id)
    want = _key(domain) if domain is not None else None
    if run_id is not None:
        row = conn_of(db).execute("SELECT domain FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        rkey = _key(row[0]) if row else None
        if want is not None and rkey is not None and want != rkey:
            raise StoreError(f"run {run_id} is of domain {rkey}, not {want}")
        want = rkey or want
    if not worlds:
        raise StoreError(f"task {task_id!r} is in no run of this store; see `t2e episodes RUN`")
    if want is None:
        if len(worlds) > 1:
            raise StoreError(f"task {task_id!r} is in {len(worlds)} domains of this store "
                             f"({', '.join(worlds)}): choose one with --domain DOMAIN, e.g. "
                             f"--domain {worlds[0]}")
        return worlds[0]
    if want not in worlds:
        raise StoreError(f"task {task_id!r} is not in domain {want} in this store; it is in "
                         f"{', '.join(worlds)}")
    return want


def step_target(episode_id: int, idx: int) -> str:
    """The target id of a step."""
    return f"{int(episode_id)}:{int(idx)}"


def add_note(db: Any, kind: str, target_id: str, text: str, author: str | None = None) -> int:
    """Store a note; returns its id. Empty text is refused."""
    if kind not in KINDS:
        raise StoreError(f"note target {kind!r}: expected one of {', '.join(KINDS)}")
    if not text or not text.strip():
        raise StoreError("a note cannot be empty")
    cur = conn_of(db).execute(
        "INSERT INTO notes (target_kind, target_id, text, author, created_at) "
        "VALUES (?,?,?,?,?)", (kind, str(target_id), text.strip(), author, now_iso()))
    return int(cur.lastrowid)


def _select(db: Any, table: str, cols: str, targets: list[tuple[str, str]]) -> list[dict]:
    if not targets:
        return []
    conn = conn_of(db)
    out: list[dict] = []
    for kind in {k for k, _ in targets}:
        ids = [t for k, t in targets if k == kind]
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            cur = conn.execute(
                f"SELECT {cols} FROM {table} WHERE target_kind = ? AND target_id IN "
                f"({','.join('?' * len(chunk))}) ORDER BY created_at", (kind, *chunk))
            names = [d[0] for d in cur.description]
            out += [dict(zip(names, r)) for r in cur.fetchall()]
    return sorted(out, key=lambda r: r["created_at"])


def notes_for(db: Any, targets: list[tuple[str, str]]) -> list[dict]:
    """Notes on any of `targets` ((kind, id) pairs), oldest first."""
    return _select(db, "notes", "note_id, target_kind, target_id, text, author, created_at",
                   targets)


def labels_for(db: Any, targets: list[tuple[str, str]]) -> list[dict]:
    """Labels on any of `targets`, oldest first."""
    return _select(db, "labels", "label_id, target_kind, target_id, kind, label, author, "
                   "created_at", targets)
