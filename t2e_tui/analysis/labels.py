"""Human labels on failure classes: confirm or add a class (kind `failure_class`), or reject
one (kind `failure_class_reject`), on an episode or one of its steps, with author, time and an
optional note. A human label wins over the classifier in every view: rejected classes are
dropped, confirmed/added ones become `source: human` and rank first."""

from __future__ import annotations

import getpass
import os
import re

from store import now_iso

from .classes import AGENT, BLAME, UNCLASSIFIED, Verdict, registered

KINDS = ("failure_class", "failure_class_reject")
_TARGET = re.compile(r"^(\d+)(?::(\d+))?$")


class LabelError(ValueError):
    """A label that cannot be stored (unknown class, bad target)."""


def default_author() -> str:
    return os.environ.get("T2E_AUTHOR") or os.environ.get("USER") or getpass.getuser()


def parse_target(text: str) -> tuple[int, int | None]:
    """'EPISODE' or 'EPISODE:STEP' -> (episode_id, step or None)."""
    m = _TARGET.match(text.strip())
    if not m:
        raise LabelError(f"{text!r}: expected EPISODE or EPISODE:STEP (numbers)")
    return int(m.group(1)), None if m.group(2) is None else int(m.group(2))


def add_label(conn, episode_id: int, step: int | None, cls: str, *, reject: bool = False,
              note: str | None = None, author: str | None = None) -> dict:
    """Store one label; checks the episode (and step) exist and the class is known."""
    conn = getattr(conn, "conn", conn)
    names = {c.name for c in registered()} | {UNCLASSIFIED}
    if cls not in names:
        raise LabelError(f"unknown failure class {cls!r} (known: {', '.join(sorted(names))})")
    if not conn.execute("SELECT 1 FROM episodes WHERE episode_id = ?", (episode_id,)).fetchone():
        raise LabelError(f"episode {episode_id} is not in the store")
    if step is not None and not conn.execute(
            "SELECT 1 FROM steps WHERE episode_id = ? AND idx = ?", (episode_id, step)).fetchone():
        raise LabelError(f"episode {episode_id} has no step {step}")
    row = {"target_kind": "episode" if step is None else "step",
           "target_id": str(episode_id) if step is None else f"{episode_id}:{step}",
           "kind": KINDS[1] if reject else KINDS[0], "label": cls,
           "author": author or default_author(), "created_at": now_iso(), "note": note}
    cur = conn.execute("INSERT INTO labels (target_kind, target_id, kind, label, author, created_at,"
                       " note) VALUES (:target_kind, :target_id, :kind, :label, :author,"
                       " :created_at, :note)", row)
    row["label_id"] = cur.lastrowid
    return row


def labels_stamp(conn) -> tuple[int, int]:
    """(how many labels, the newest label's id): it changes whenever a label is added or
    removed, so a view that read the labels at one stamp knows when it is stale."""
    conn = getattr(conn, "conn", conn)
    n, last = conn.execute("SELECT count(*), coalesce(max(label_id), 0) FROM labels").fetchone()
    return n, last


def labels_for(conn, episode_ids: list) -> dict:
    """episode_id -> its failure-class labels, oldest first."""
    conn = getattr(conn, "conn", conn)
    want = {str(e) for e in episode_ids if e is not None}
    if not want:
        return {}
    out: dict = {}
    for tk, tid, kind, label, author, created, note in conn.execute(
            "SELECT target_kind, target_id, kind, label, author, created_at, note FROM labels"
            " WHERE kind IN (?, ?) ORDER BY label_id", KINDS):
        eid = tid.split(":")[0]
        if eid in want:
            step = int(tid.split(":")[1]) if ":" in tid else None
            out.setdefault(int(eid), []).append(
                {"step": step, "kind": kind, "label": label, "author": author,
                 "created_at": created, "note": note})
    return out


def apply_labels(analyses: list, labels: dict) -> None:
    """Apply human labels in place (the latest label on a class wins)."""
    kinds = {c.name: c.kind for c in registered()}
    for a in analyses:
        final: dict = {}
        for lab in labels.get(a.episode_id, []):
            final[lab["label"]] = lab           # later labels override earlier ones
        if not final:
            continue
        for name, lab in final.items():
            a.classes = [v for v in a.classes if v.name != name]
            a.flags = [v for v in a.flags if v.name != name]
        human = []
        for name, lab in final.items():
            if lab["kind"] != "failure_class":
                continue
            steps = [lab["step"]] if lab["step"] is not None else []
            why = f"labelled by {lab['author'] or 'a human'}" + (f": {lab['note']}" if lab["note"] else ".")
            v = Verdict(name, steps, why, "human", kinds.get(name, AGENT), lab["note"], lab["author"])
            (a.flags if v.kind == BLAME else human).append(v)
        a.classes = human + [v for v in a.classes if v.name != UNCLASSIFIED or not human]
        if not a.classes:
            a.classes = [Verdict(UNCLASSIFIED, [], "every class the rules gave was rejected by a "
                                 "human.", "human")]
        if human and human[0].steps:
            a.first_divergence = {"step": human[0].steps[0], "why": f"{human[0].name}: {human[0].why}"}
