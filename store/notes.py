"""Notes and labels on a task, an episode or a step (the `notes` and `labels` tables of
migration 1), written by `t2e note` and read by the journal.

Target ids: a task is its task id (`target_kind` 'task'), an episode its episode id
('episode'), a step `EPISODE:IDX` ('step'), a run its run id ('run').
"""

from __future__ import annotations

from typing import Any

from .db import StoreError, now_iso
from .writer import conn_of

KINDS = ("task", "episode", "step", "run")


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
