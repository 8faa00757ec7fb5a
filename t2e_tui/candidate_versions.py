"""Candidate versions in the store: save (immutable, content-addressed), look up, log.

A saved version is a row of the `candidates` table keyed by the body hash, plus a file under
`candidates/`. Saving the same body again is a no-op that returns the existing version: the
hash is the identity, so a version can never change after it is saved. `saved_at` is when
t2e first recorded the text (`candidate save`, the app editor's save, or the first run, fork
or save that read it from a file), never a file's modification time: it ends the version's
drafting window (the gate's leakage guard). No textual here: the CLI and the editor screen
both call these functions.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store import writer
from store.atomic import mkstemp_public
from store.clock import stamp

from .candidates import Candidate, CandidateError, body_hash, normalise, parse, resolve
from .lineage_evidence import SPARK, sparkline, version_evidence  # noqa: F401 (re-exported)

_HEX = re.compile(r"^[0-9a-f]{6,64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_VSUFFIX = re.compile(r"^(.*?)-v(\d+)$")


@dataclass(frozen=True)
class Version:
    """One saved candidate version (a row of `candidates`)."""

    hash: str
    name: str
    parent_hash: str | None
    hypothesis: str | None
    body: str
    path: str | None
    saved_at: str

    @property
    def short(self) -> str:
        return self.hash[:10]

    def as_candidate(self) -> Candidate:
        return Candidate(name=self.name, body=self.body, hypothesis=self.hypothesis,
                         parent=self.parent_hash, path=Path(self.path) if self.path else None)


@dataclass(frozen=True)
class SaveResult:
    version: Version
    duplicate: bool        # the body was already saved: nothing was written
    parent: Version | None


_COLS = "candidate_hash, name, parent_hash, hypothesis, body, path, saved_at"


def _row(r: tuple) -> Version:
    return Version(*r)


ABLATION_HYPOTHESIS = "ablation of "  # how ablation.leave_one_out marks its variants
_ABLATION_NAME = re.compile(r"^(.+)-minus-rule\d+$")


def ablated_from(v: Version) -> str | None:
    """For an ablation variant (a candidate with one rule left out, recorded by the engine
    when `t2e ablate` ran it), the name of the candidate it was made from; else None.
    Variants are experiments on a candidate, never the candidate being worked on."""
    m = _ABLATION_NAME.match(v.name or "")
    if m and (v.hypothesis or "").startswith(ABLATION_HYPOTHESIS):
        return m.group(1)
    return None


def list_versions(conn: sqlite3.Connection) -> list[Version]:
    """Every saved version, oldest first."""
    return [_row(r) for r in conn.execute(
        f"SELECT {_COLS} FROM candidates ORDER BY saved_at, candidate_hash")]


def get_version(conn: sqlite3.Connection, ref: str) -> Version | None:
    """A version by full hash, unique hash prefix (>= 6 hex) or name (the latest of that name).

    An ambiguous prefix is an error rather than a guess: two versions sharing it both exist.
    """
    ref = ref.strip()
    r = conn.execute(f"SELECT {_COLS} FROM candidates WHERE candidate_hash = ?", (ref,)).fetchone()
    if r:
        return _row(r)
    if _HEX.match(ref):
        rows = conn.execute(f"SELECT {_COLS} FROM candidates WHERE candidate_hash LIKE ?",
                            (ref + "%",)).fetchall()
        if len(rows) > 1:
            raise CandidateError(f"{ref}: ambiguous hash prefix ({len(rows)} versions match)")
        if rows:
            return _row(rows[0])
    r = conn.execute(f"SELECT {_COLS} FROM candidates WHERE name = ? "
                     "ORDER BY saved_at DESC LIMIT 1", (ref,)).fetchone()
    return _row(r) if r else None


def load_ref(conn: sqlite3.Connection | None, ref: str,
             candidates_dir: Path | None = None) -> tuple[Candidate, Version | None]:
    """A candidate by store reference first (hash/name), else by file path or folder name."""
    if conn is not None:
        v = get_version(conn, ref)
        if v is not None:
            return v.as_candidate(), v
    cand = resolve(ref, candidates_dir)
    v = get_version(conn, cand.hash) if conn is not None else None
    return cand, v


def _insert(conn: sqlite3.Connection, cand: Candidate, name: str, parent_hash: str | None,
            hypothesis: str | None, path: str | None) -> Version:
    """Insert the version (inside the caller's transaction), dated by the store clock: t2e's
    own time, never the file's, and never before a row the store already holds (a wall clock
    set back would otherwise date the save before the views made since)."""
    saved_at = stamp(conn)
    writer.insert_candidate(
        conn, candidate_hash=cand.hash, name=name, parent_hash=parent_hash,
        hypothesis=hypothesis, body=normalise(cand.body),
        front_matter={"name": name, "parent": cand.parent, **cand.meta}, path=path,
        saved_at=saved_at)
    return Version(cand.hash, name, parent_hash, hypothesis, normalise(cand.body), path, saved_at)


def ensure_recorded(conn: sqlite3.Connection, ref: str,
                    candidates_dir: Path | None = None) -> Version:
    """The stored version for `ref`, recording a candidate file that was never saved (the
    shipped baseline, say), dated now as `record` dates it."""
    v = get_version(conn, ref)
    if v is not None:
        return v
    return record(conn, resolve(ref, candidates_dir), candidates_dir)


def record(conn: sqlite3.Connection, cand: Candidate,
           candidates_dir: Path | None = None) -> Version:
    """The stored version of `cand`, recording it if it never was (the engine records the
    candidate it planned this way).

    `saved_at` is now by the store clock (store/clock.py), the moment t2e first holds this
    text, whatever the file's modification time or a wall clock set back says. That time ends the window in which heldout views count against the candidate
    (gate/leakage.py), and a file's mtime is the user's to set: `touch -d` back to before the
    views hid them from the gate (promote on "clean" heldout), and an mtime in the future
    would count views made after the text was fixed. Only what t2e itself recorded can bound
    the window. (The mtime once dated a file so that its children's windows would start early
    enough; windows have no start now: every view since the store began counts.)
    """
    v = get_version(conn, cand.hash)
    if v is not None:
        return v
    if not cand.body.strip():
        raise CandidateError(f"{cand.path or cand.name}: the instruction body is empty")
    parent_hash = None
    if cand.parent:
        pv = get_version(conn, cand.parent)
        parent_hash = pv.hash if pv else None
    name = cand.name if _NAME.match(cand.name or "") else "candidate"
    if conn.execute("SELECT 1 FROM candidates WHERE name = ?", (name,)).fetchone():
        name = _free_name(conn, name, candidates_dir)
    conn.execute("BEGIN IMMEDIATE")
    try:
        v = _insert(conn, cand, name, parent_hash, cand.hypothesis,
                    str(cand.path) if cand.path else None)
    except sqlite3.IntegrityError:
        conn.execute("ROLLBACK")
        again = get_version(conn, cand.hash)  # another process recorded it since we looked
        if again is None:
            raise
        return again
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return v


def next_name(conn: sqlite3.Connection, after: str, candidates_dir: Path | None) -> str:
    """The name a save of a new version made from `after` takes: `after`'s next `-vN` that is
    free in the store and on disk (the editor's save dialog suggests it, so the name shown is
    the name used)."""
    return _free_name(conn, after, candidates_dir)


def _free_name(conn: sqlite3.Connection, name: str, candidates_dir: Path | None,
               body_hash_: str | None = None) -> str:
    """The next `<base>-vN` free both in the store and on disk (`name` itself is taken).

    A file on disk holding the same body does not block its name: it is this version's file.
    """
    m = _VSUFFIX.match(name)
    base, n = (m.group(1), int(m.group(2)) + 1) if m else (name, 2)
    taken = {r[0] for r in conn.execute("SELECT name FROM candidates")}
    while True:
        new = f"{base}-v{n}"
        p = candidates_dir / f"{new}.md" if candidates_dir else None
        file_ok = p is None or not p.exists() or (
            body_hash_ is not None and _file_hash(p) == body_hash_)
        if new not in taken and file_ok:
            return new
        n += 1


def _file_hash(p: Path) -> str | None:
    try:
        return parse(p.read_text("utf-8"), path=p).hash
    except (OSError, UnicodeDecodeError, CandidateError):
        return None


def save_version(conn: sqlite3.Connection, cand: Candidate, *, hypothesis: str | None,
                 candidates_dir: Path, parent_ref: str | None = None,
                 name: str | None = None) -> SaveResult:
    """Save `cand` as an immutable version: a store row plus `candidates/<name>.md`.

    The parent comes from `parent_ref`, else the candidate's front matter; it is recorded first
    if it is a file that was never saved. A body already saved returns that version unchanged
    (`duplicate=True`). A name already used by another body becomes `<name>-vN`. The file is
    written atomically and only if the row commits, so nothing is half-written.
    """
    where = str(cand.path) if cand.path else "<candidate>"
    body = normalise(cand.body)
    if not body.strip():
        raise CandidateError(f"{where}: the instruction body is empty; nothing to save")
    hypothesis = (hypothesis if hypothesis is not None else cand.hypothesis) or ""
    hypothesis = " ".join(hypothesis.split())
    if not hypothesis:
        raise CandidateError(f"{where}: a hypothesis note is required (--hypothesis TEXT): "
                             "say what this version should fix and why")
    existing = get_version(conn, cand.hash)
    pref = parent_ref if parent_ref is not None else cand.parent
    parent = ensure_recorded(conn, pref, candidates_dir) if pref else None
    if existing is not None:
        return SaveResult(existing, True, parent)
    if parent is not None and parent.hash == cand.hash:
        raise CandidateError(f"{where}: identical to its parent {parent.name} ({parent.short}); "
                             "edit the instruction before saving a new version")
    want = name or cand.name or "candidate"
    if not _NAME.match(want):
        raise CandidateError(f"{where}: bad candidate name {want!r} (letters, digits, . _ - "
                             "only, at most 80 characters)")
    final = want
    taken = conn.execute("SELECT 1 FROM candidates WHERE name = ?", (want,)).fetchone()
    target = candidates_dir / f"{want}.md"
    if taken or (target.exists() and _file_hash(target) != cand.hash):
        final = _free_name(conn, want, candidates_dir, cand.hash)
    target = candidates_dir / f"{final}.md"
    out = Candidate(name=final, body=body, parent=parent.name if parent else None,
                    hypothesis=hypothesis, meta=dict(cand.meta))
    candidates_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = mkstemp_public(candidates_dir, f".{final}.", ".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(out.to_text())
        conn.execute("BEGIN IMMEDIATE")
        try:
            v = _insert(conn, out, final, parent.hash if parent else None, hypothesis,
                        str(target))
            os.replace(tmp, target)
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK")
            # another process saved the same body (or took the name) since we looked
            again = get_version(conn, cand.hash)
            if again is not None:
                return SaveResult(again, True, parent)
            raise CandidateError(f"{where}: the name {final!r} was taken meanwhile; "
                                 "save again") from None
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return SaveResult(v, False, parent)


def _latest_gates(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """candidate hash -> its latest gate row and the latest human decision on that row.
    Transfer verdicts are left to the lineage's `transfer` field, so both stay visible."""
    human = {r[0]: {"decision": r[1], "override": bool(r[2]), "reason": r[3]}
             for r in conn.execute(
                 "SELECT row_id, decision, override, reason FROM human_decisions WHERE "
                 "decision_id IN (SELECT max(decision_id) FROM human_decisions GROUP BY row_id)")}
    return {r[6]: {"row": r[0], "decision": r[1], "evidence_role": r[2], "candidate_run": r[3],
                   "baseline_run": r[4], "at": r[5], "human": human.get(r[0])}
            for r in conn.execute(
                "SELECT row_id, decision, evidence_role, candidate_run_id, baseline_run_id, "
                "created_at, candidate_hash FROM gate_decisions WHERE row_id IN "
                "(SELECT max(row_id) FROM gate_decisions WHERE candidate_hash IS NOT NULL "
                "AND evidence_role != 'transfer' GROUP BY candidate_hash)")}


def lineage(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Versions in tree order (children after their parent, by save time), each with depth;
    `reward` and `evidence`: its home evidence, the run it comes from (heldout first, never a
    transfer rerun: lineage_evidence.py); `transfers`: its transfer reruns' figures; its
    latest gate row and the human decision on it, and `transfer`: its latest heldout and
    transfer verdicts (gate/transfer.py). Ablation variants (`ablation: true`) sit under the
    candidate they were made from."""
    versions = list_versions(conn)
    by_hash = {v.hash: v for v in versions}
    latest_by_name = {v.name: v.hash for v in versions if ablated_from(v) is None}
    children: dict[str | None, list[Version]] = {}
    for v in versions:
        key = v.parent_hash if v.parent_hash in by_hash else None
        origin = ablated_from(v)
        if key is None and origin in latest_by_name:
            key = latest_by_name[origin]  # a leave-one-out variant sits under its candidate
        children.setdefault(key, []).append(v)
    out: list[dict[str, Any]] = []
    evidence = version_evidence(conn)
    gates = _latest_gates(conn)
    from .gate.transfer import transfer_statuses

    transfers = transfer_statuses(conn)  # the heldout and the transfer verdict, side by side

    def walk(parent: str | None, depth: int) -> None:
        for v in children.get(parent, []):
            ev = evidence.get(v.hash) or {"evidence": None, "transfers": [], "runs": 0}
            home = ev["evidence"]
            out.append({"hash": v.hash, "short": v.short, "name": v.name,
                        "parent_hash": v.parent_hash,
                        "parent": by_hash[v.parent_hash].name if v.parent_hash in by_hash
                        else v.parent_hash, "depth": depth, "saved_at": v.saved_at,
                        "hypothesis": v.hypothesis, "path": v.path,
                        "reward": home["reward"] if home else None, "evidence": home,
                        "transfers": ev["transfers"], "runs": ev["runs"], "gate": gates.get(v.hash),
                        "transfer": transfers[v.hash].to_dict() if v.hash in transfers
                        else None,
                        "ablation": ablated_from(v) is not None})
            walk(v.hash, depth + 1)

    walk(None, 0)
    return out


def candidate_from_text(text: str, *, name: str, parent: str | None) -> Candidate:
    """Parse editor text (which may or may not carry front matter) into a candidate."""
    cand = parse(text, default_name=name)
    if not text.lstrip().startswith("---"):
        cand.name = name
    if parent and not cand.parent:
        cand.parent = parent
    return cand


__all__ = ["Version", "SaveResult", "list_versions", "get_version", "load_ref",
           "ensure_recorded", "save_version", "lineage", "sparkline",
           "candidate_from_text", "body_hash", "ablated_from", "ABLATION_HYPOTHESIS"]
