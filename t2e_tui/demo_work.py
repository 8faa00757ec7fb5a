"""What in a demo store the demo did not make (the user's work), and moving a store aside.

`t2e demo` never deletes work: it rebuilds only a demo store holding nothing but what the demo
made. At the end of a build the demo records, in the store itself (table `demo_build`), a
digest of every row it wrote in the tables that hold work and of every file it wrote in its
candidates folder; `changes()` compares the store and the folder with that record. A row
added, changed (a run renamed) or removed, a file added or edited by hand, is work. Not
tracked: what looking writes (evidence views, sessions, the failure classification cache,
search sizes, the store clock's last stamp), what is derived from other rows (worlds, the
agent ledger), and the bulk of
episodes (steps, tool calls, checks, tasks), which come and go with episodes and runs, which
are tracked.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from .errors import T2EError

RECORD_TABLE = "demo_build"

NOT_WORK = frozenset({
    "schema_migrations", "sessions", "evidence_views", "failure_analyses",
    "failure_analysis_classes", "failure_analysis_runs", "fts_sizes", "steps_shown", "worlds",
    "agent_runs", "agent_run_tasks", "steps", "tool_calls", "checks", "tasks", "store_clock",
    RECORD_TABLE})

# what a row of each table is called when the work is counted (default: "TABLE row")
NOUNS = {
    "candidates": ("candidate version", "candidate versions"),
    "labels": ("label", "labels"), "notes": ("note", "notes"),
    "gate_decisions": ("gate row", "gate rows"),
    "human_decisions": ("human decision", "human decisions"),
    "runs": ("run", "runs"), "episodes": ("episode", "episodes"),
    "heldout_sets": ("heldout set", "heldout sets"),
    "regression_sets": ("regression set version", "regression set versions"),
    "regression_set_items": ("regression set item", "regression set items"),
    "run_role_changes": ("role change", "role changes"),
    "evolve_loops": ("evolve loop", "evolve loops"),
    "evolve_events": ("evolve step", "evolve steps"),
    "sources": ("import source", "import sources"),
    "candidate_files": ("file in the candidates folder", "files in the candidates folder"),
}
_NAMED = {"candidates": "name", "runs": "name", "heldout_sets": "name",
          "regression_sets": "name"}


def _tracked(conn: sqlite3.Connection) -> list[str]:
    return [t for (t,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        if t not in NOT_WORK and not t.startswith(("sqlite_", "steps_fts"))]


def _rows(conn: sqlite3.Connection, table: str, columns: list[str]) -> dict[str, str]:
    """{row key: digest of the row's values} (the key: the rowid, else the digest itself)."""
    cols = ", ".join(f'"{c}"' for c in columns)
    try:
        cur = conn.execute(f'SELECT rowid, {cols} FROM "{table}"')
        keyed = True
    except sqlite3.OperationalError:  # a WITHOUT ROWID table
        cur = conn.execute(f'SELECT NULL, {cols} FROM "{table}"')
        keyed = False
    out = {}
    for row in cur:
        d = hashlib.blake2b(repr(tuple(row[1:])).encode(), digest_size=10).hexdigest()
        out[str(row[0]) if keyed else d] = d
    return out


def _files(cdir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(cdir.glob("*.md")) if p.is_file()}


def record(conn: sqlite3.Connection, cdir: Path) -> None:
    """Record what the demo made (the last thing a build does)."""
    from store import now_iso

    from . import __version__

    tables = {}
    for t in _tracked(conn):
        columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')]
        tables[t] = {"columns": columns, "rows": _rows(conn, t, columns)}
    conn.execute(f"CREATE TABLE {RECORD_TABLE} (built_at TEXT NOT NULL, t2e_version TEXT, "
                 "tables_json TEXT NOT NULL, files_json TEXT NOT NULL)")
    conn.execute(f"INSERT INTO {RECORD_TABLE} VALUES (?, ?, ?, ?)",
                 (now_iso(), __version__, json.dumps(tables), json.dumps(_files(cdir))))
    conn.commit()


def changes(store_path: Path, cdir: Path) -> dict | None:
    """What in the store and its candidates folder the demo did not make:
    {table: {added, changed, removed, names}} for each table with any ({} when nothing), or
    None when that cannot be told (no record: the store was built by an earlier t2e, or its
    build was killed; or unreadable). Read-only."""
    try:
        conn = sqlite3.connect(store_path.absolute().as_uri() + "?mode=ro", uri=True,
                               timeout=5.0)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute(f"SELECT tables_json, files_json FROM {RECORD_TABLE}").fetchone()
        if row is None:
            return None
        made, made_files = json.loads(row[0]), json.loads(row[1])
        out: dict[str, dict] = {}
        tracked = _tracked(conn)
        for t in sorted(set(made) | set(tracked)):
            was = made.get(t, {"columns": None, "rows": {}})
            columns = was["columns"] or [r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')]
            now = _rows(conn, t, columns) if t in tracked else {}
            old = was["rows"]
            added = [k for k in now if k not in old]
            changed = [k for k in now if k in old and now[k] != old[k]]
            removed = [k for k in old if k not in now]
            if added or changed or removed:
                out[t] = {"added": len(added), "changed": len(changed),
                          "removed": len(removed), "names": _names(conn, t, added + changed)}
        versions = {Path(p).resolve() for (p,) in conn.execute(
            "SELECT path FROM candidates WHERE path IS NOT NULL")} if "candidates" in made else set()
    except (sqlite3.Error, ValueError, KeyError, TypeError):
        return None
    finally:
        conn.close()
    files = _files(cdir) if cdir.is_dir() else {}
    added = [n for n in files if n not in made_files and (cdir / n).resolve() not in versions]
    changed = [n for n in files if n in made_files and files[n] != made_files[n]]
    if added or changed:
        out["candidate_files"] = {"added": len(added), "changed": len(changed), "removed": 0,
                                  "names": sorted(added + changed)}
    return out


def _names(conn: sqlite3.Connection, table: str, keys: list[str]) -> list[str]:
    col = _NAMED.get(table)
    if not col or not keys:
        return []
    names = []
    for k in keys[:20]:
        if k.isdigit():
            r = conn.execute(f'SELECT "{col}" FROM "{table}" WHERE rowid = ?', (int(k),)).fetchone()
            if r and r[0] is not None:
                names.append(str(r[0]))
    return names


def describe(work: dict) -> str:
    """One line: "1 candidate version added (cross-order-v9), 2 labels added"."""
    parts = []
    for table, w in work.items():
        one, many = NOUNS.get(table, (f"{table} row", f"{table} rows"))
        said = []
        for what in ("added", "changed", "removed"):
            n = w[what]
            if n:
                said.append(f"{n} {one if n == 1 else many} {what}" if not said
                            else f"{n} {what}")
        names = w.get("names") or []
        shown = ", ".join(names[:5]) + (f", +{len(names) - 5}" if len(names) > 5 else "")
        parts.append(", ".join(said) + (f" ({shown})" if shown else ""))
    return "; ".join(parts)


def move_aside(store_path: Path, cdir: Path) -> Path:
    """Move the store (with its -wal/-shm/-journal) and its candidates folder into a new
    folder `<stem>-backup-<UTC time>` beside it, under their own names (so `t2e --store
    BACKUP/<name> open` finds its candidates folder too). Returns that folder."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    dest = store_path.parent / f"{store_path.stem}-backup-{stamp}"
    n = 2
    while dest.exists():
        dest = store_path.parent / f"{store_path.stem}-backup-{stamp}-{n}"
        n += 1
    dest.mkdir()
    if store_path.is_file():
        try:  # fold the WAL into the file, so the backup is one self-contained file
            c = sqlite3.connect(store_path, timeout=5.0)
            try:
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                c.close()
        except sqlite3.Error:
            pass  # not SQLite, or locked: its -wal moves with it below
    moved: list[str] = []
    try:
        for suffix in ("", "-wal", "-shm", "-journal"):
            src = Path(f"{store_path}{suffix}")
            if src.exists():
                os.replace(src, dest / src.name)
                moved.append(src.name)
        if cdir.exists():
            os.replace(cdir, dest / cdir.name)
            moved.append(cdir.name + "/")
    except OSError as exc:
        raise T2EError(f"{store_path}: could not move it aside to {dest} ({exc}); moved so "
                       f"far: {', '.join(moved) or 'nothing'}; nothing was rebuilt or "
                       "deleted") from None
    return dest
