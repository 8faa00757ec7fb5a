"""Importing evidence files: tau2 results (v0, v1, directory), foreign shapes, native JSONL.

`import_paths(db, paths)` is the entry point (the CLI's `t2e import`). Each file is one
transaction: a rejected file leaves nothing behind and the other files still land.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shlex
import sqlite3
from pathlib import Path
from typing import Any

from world.errors import shown_path

from .. import fts_sizes, locks, writer
from ..db import db_path
from .background_hash import BackgroundHash
from .common import (
    MISSING,
    ImportContext,
    ImportFailure,
    import_world_id,
    inside,
    not_a_file,
    open_regular,
    wants_worker,
)
from .detect import TASKS_FILE, Compressed, detect_format, tasks_list  # noqa: F401 (detect_format: API)

# a folder's entries (folder_files and its helpers) live in folders.py; importable from here
from .folders import (  # noqa: F401
    TRACE_SUFFIXES,
    _Outside,
    _Skipped,
    folder_files,
    run_directory,
    stands_for,
)
from .harbor_layout import harbor_kind, hashed_files

__all__ = ["ImportFailure", "import_paths", "import_path", "import_world_id", "detect_format"]



def import_paths(db: Any, paths: list[str | os.PathLike], *, name: str | None = None,
                 role: str | None = None) -> dict:
    """Import every path; returns the CLI contract
    `{"imported": [{path, run_id, episodes, messages, duplicate, warnings}],
    "rejected": [{path, error}], "skipped": [{path, reason}]}` (skipped: a folder's entries
    that are neither trace files nor run directories, see folder_files). `role`: a new
    run's evidence role (None: discovery); a file already imported under another role is
    rejected when a role is named, never changed behind the user's back (_import_locked)."""
    result: dict[str, list] = {"imported": [], "rejected": [], "skipped": []}
    entries = [f for p in paths for f in folder_files(p)]
    for s in entries:
        if isinstance(s, _Skipped):
            result["skipped"].append({"path": shown_path(s.path), "reason": s.reason})
    paths = [p for p in entries if not isinstance(p, _Skipped)]
    for i, p in enumerate(paths):
        run_name = name if name is None or len(paths) == 1 else f"{name}-{i + 1}"
        if isinstance(p, _Outside):  # a folder's entry that links out of it
            shown = shown_path(p.path)
            result["rejected"].append({"path": shown, "error": (
                f"{shown}: links outside the folder {shown_path(p.folder)}; only "
                "files inside it are read (name the file itself to import it)")})
            continue
        shown = shown_path(p)
        try:
            result["imported"].append(_import_one(db, p, name=run_name, role=role))
        except ImportFailure as exc:
            result["rejected"].append({"path": shown, "error": str(exc)})
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - one odd file must not stop the others
            # a shape no check foresaw: still this file's rejection (its transaction was
            # rolled back), never an internal error that drops the files after it
            result["rejected"].append({"path": shown, "error": (
                f"{shown}: cannot be imported ({type(exc).__name__}: {str(exc)[:300]}); "
                "nothing was written")})
    if result["imported"]:
        fts_sizes.refresh(writer.conn_of(db))  # once for all the files (a pass over docsize)
    return result


def import_path(db: Any, path: str | os.PathLike, *, name: str | None = None,
                role: str | None = None) -> dict:
    """Import one file or directory in one transaction. Raises ImportFailure (nothing written).
    The store's copy of the FTS size records is refreshed after it (store/fts_sizes.py)."""
    out = _import_one(db, path, name=name, role=role)
    fts_sizes.refresh(writer.conn_of(db))  # after the commit: FTS5 flushes its last segment there
    return out


def _text(name: str) -> str:
    """A file name as text the store can hold: bytes that are not UTF-8 (a name from another
    system's encoding) are written as \\xNN escapes, not refused by SQLite at the end. (For a
    run's name; a path in a message or the source row is world.errors.shown_path, which
    escapes control characters too.)"""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate no file system gave (an API caller's)
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _dir_name(p: Path) -> str:
    """A folder's name as given (a link keeps its own), the resolved folder's for `.`/`..`."""
    return p.name if p.name not in ("", ".", "..") else p.resolve().name


def _import_one(db: Any, path: str | os.PathLike, *, name: str | None,
                role: str | None) -> dict:
    if role is not None and role not in writer.ROLES:
        raise ImportFailure(f"unknown evidence role {role!r} "
                            f"(expected one of {', '.join(writer.ROLES)})")
    path = stands_for(path)  # a run directory's own results file names the directory
    p = Path(path)
    if p.name in ("", ".", ".."):  # (`.` says nothing once the shell has moved on)
        path = p = p.resolve()
    display = shown_path(path)
    if not p.exists():  # (missing, or a link to nothing or one that loops: named as such)
        why = not_a_file(p)
        raise ImportFailure(f"{display}: " + ("no such file or directory"
                                              if why in (None, MISSING) else why))
    if not p.is_dir():
        with open_regular(p, display):  # a FIFO or /dev/zero is refused here, at once
            pass
    try:  # read once, before the hash (the early worker needs it)
        sniffed: str | Exception = detect_format(p)
    except (OSError, ImportFailure) as exc:
        sniffed = exc  # raised where the format was always asked: after the duplicate check
        if isinstance(exc, Compressed):
            sniffed = ImportFailure(f"{display}: {exc}")
    if sniffed == "tau2-tasks":  # refused even where an older t2e imported it as a run
        raise ImportFailure(f"{display}: {TASKS_FILE}")
    worker = _early_worker(p, display, sniffed)
    try:
        return _import_hashed(db, p, display, name, role, sniffed, worker)
    finally:
        if worker is not None:
            worker.close()


def _early_worker(p: Path, display: str, fmt: str | Exception) -> Any:
    """A worker process started before the file is hashed, so that its start-up (and, for
    OTLP, its part of the file) overlaps the hash: a big OTLP file's (otel.early_worker) or a
    big tau2 file's parse worker, which waits for its ids (parse_worker.py). import_path
    closes it when unused."""
    if fmt == "otel":
        return _reader("otel").early_worker(p)
    try:
        big_tau2 = fmt == "tau2" and wants_worker(p.stat().st_size)
    except OSError:
        return None  # the import proper says what is wrong, as before
    if not big_tau2:
        return None
    from .parse_worker import ParseWorker

    return ParseWorker(p, display)


def _reader(fmt: str) -> Any:
    """The module that imports a format, loaded when first asked: an import of one format
    does not load the other readers (~15 ms of every `t2e import` process's start)."""
    name = {"tau2-dir": "tau2", "t2e-jsonl": "jsonl"}.get(fmt, fmt)
    return importlib.import_module(f".{name}", __package__)


def _import_hashed(db: Any, p: Path, display: str, name: str | None, role: str | None,
                   sniffed: str | Exception, worker: Any) -> dict:
    conn = writer.conn_of(db)
    # JSON Lines read to this size by an OTLP worker and this process alike
    size = getattr(worker, "size", None) if getattr(worker, "lines", False) else None
    if sniffed == "otel" and size is not None and not _size_seen(conn, size):
        return _import_hashing(conn, p, display, size, name, role, sniffed, worker)
    try:
        sha, size = content_hash(p)
    except OSError as exc:
        raise ImportFailure(f"{display}: cannot read ({exc.strerror or exc})") from None
    try:
        lock = _import_lock(conn, sha)
    except ImportFailure as exc:
        raise ImportFailure(f"{display}: {exc}") from None
    try:
        return _import_locked(conn, p, display, sha, size, name, role, sniffed, worker)
    finally:
        lock.release()


def _import_lock(conn: sqlite3.Connection, sha: str) -> locks.Lock:
    try:
        # one importer per content: a second process importing the same file is told so
        # (it would otherwise wait for the lock, then die on the sources.sha256 constraint)
        return locks.Lock.take(db_path(conn), content_lock_name(sha))
    except locks.Held as exc:
        raise ImportFailure(f"this file is being imported by another process (pid "
                            f"{exc.pid}); it will be in the store when that import ends") \
            from None


def content_lock_name(sha: str) -> str:
    """The lock an import of this content holds (store/locks.py)."""
    return f"import-{sha[:32]}"


def _size_seen(conn: sqlite3.Connection, size: int) -> bool:
    """Whether a source of this many bytes is in the store (only then can a file be one)."""
    return conn.execute("SELECT 1 FROM sources WHERE size_bytes = ? LIMIT 1",
                        (size,)).fetchone() is not None


class _Duplicate(Exception):
    """The content hashed during the import is already in the store (rolls the import back)."""


def _import_hashing(conn: sqlite3.Connection, p: Path, display: str, size: int,
                    name: str | None, role: str | None, fmt: str, worker: Any) -> dict:
    """A big OTLP file no source of its size can be: hashed while it is imported, in the
    moments the import waits for its worker (the worker's sort, the episodes it has not sent
    yet: ctx.hashing), instead of first (0.15 s per 200 MB that both cores spent on other
    work). Before the source row is made (ctx.before_source) the hash is awaited, the
    content's lock taken and the store asked for the content once more, inside the import's
    transaction: another process may have stored it since; then the import is rolled back and
    reported as a duplicate, as it would have been."""
    hasher = BackgroundHash(p, display, size, getattr(worker, "built", None))
    held: list[locks.Lock] = []

    def settle(ctx: ImportContext, conn: sqlite3.Connection) -> None:
        try:
            sha, hashed = hasher.result()
        except OSError as exc:  # (_import_locked names the file)
            raise ImportFailure(f"cannot read ({exc.strerror or exc})") from None
        if hashed != size:
            raise ImportFailure(f"the file shrank while it was imported ({size} bytes when "
                                f"the import began, {hashed} now); nothing was written")
        held.append(_import_lock(conn, sha))  # (_import_locked names the file)
        existing = _existing(conn, display, sha)
        if existing:
            raise _Duplicate(existing)  # (what the import returns, once rolled back)
        ctx.sha256 = sha

    try:
        return _import_locked(conn, p, display, "", size, name, role, fmt, worker,
                              before_source=settle, hashing=hasher)
    except _Duplicate as dup:
        return _same_role(dup.args[0], role, name)
    finally:
        hasher.close()
        for lock in held:
            lock.release()


def _existing(conn: sqlite3.Connection, display: str, sha: str) -> dict | None:
    existing = conn.execute(
        "SELECT r.run_id, count(e.episode_id), coalesce(sum(e.n_steps), 0), s.warnings_json, "
        "r.role, r.name "
        "FROM sources s JOIN runs r ON r.source_id = s.source_id LEFT JOIN episodes e "
        "ON e.run_id = r.run_id WHERE s.sha256 = ? GROUP BY r.run_id ORDER BY r.created_at "
        "LIMIT 1", (sha,)).fetchone()
    if not existing:
        return None
    # the same content says the same things: repeat the first import's warnings
    return {"path": display, "run_id": existing[0], "episodes": existing[1],
            "messages": existing[2], "duplicate": True,
            "warnings": _stored_warnings(existing[3]), "role": existing[4],
            "name": existing[5]}


def _same_role(existing: dict, role: str | None, name: str | None = None) -> dict:
    """A re-import's answer: the run already there, unless the import names another role or
    name than the run's, which a re-import never changes (`t2e runs role` / `t2e runs
    rename` do)."""
    had = existing.pop("role")
    had_name = existing.pop("name")
    rid = existing["run_id"]
    if name is not None and name != had_name:
        raise ImportFailure(
            f"{existing['path']}: already imported as run {rid}, named {had_name!r}; its name "
            f"was not changed to {name!r} (a re-import keeps the run as it is). Rename it with "
            f"`t2e runs rename {rid} {shlex.quote(name)}`")
    if role is None or role == had:
        return existing
    raise ImportFailure(
        f"{existing['path']}: already imported as run {rid}, role {had}; its role was not "
        f"changed to {role} (a re-import keeps the run as it is). Change it with "
        f"`t2e runs role {rid} {role}`: the change is recorded, and a run made {role} after "
        "it was created does not count as clean evidence in the gate"
        if role in ("heldout", "transfer") else
        f"{existing['path']}: already imported as run {rid}, role {had}; its role was not "
        f"changed to {role} (a re-import keeps the run as it is). Change it with "
        f"`t2e runs role {rid} {role}` (the change is recorded)")


def _import_locked(conn: sqlite3.Connection, p: Path, display: str, sha: str, size: int,
                   name: str | None, role: str | None, fmt: str | Exception, worker: Any,
                   before_source: Any = None, hashing: Any = None) -> dict:
    """`fmt`: detect_format's answer, or what it raised; `worker`: one started early for a
    big file of that format (otel or tau2), or None. `before_source`: see _import_hashing
    (then `sha` is "" until it has run, and `hashing` hashes the file meanwhile)."""
    existing = _existing(conn, display, sha) if sha else None
    if existing:
        return _same_role(existing, role, name)
    if isinstance(fmt, Exception):
        raise fmt
    ctx = ImportContext(path=p, display=display, sha256=sha, size=size,
                        name=name or _text(_dir_name(p) if p.is_dir() else p.stem),
                        role=role or "discovery",
                        name_from_file=name is None, before_source=before_source,
                        hashing=hashing)
    # Foreign-key checks cost ~5% of a bulk import and can't fail here: the importer assigns
    # every id itself inside one transaction. The pragma only works outside a transaction.
    fk = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        reader = _reader(fmt)
        with writer.transaction(conn):
            if fmt == "tau2-dir":
                reader.import_directory(conn, ctx)
            elif fmt in ("t2e-jsonl", "atif", "harbor"):
                reader.import_file(conn, ctx)
            else:  # otel, tau2: with the worker started early, if any
                reader.import_file(conn, ctx, worker)
            conn.execute("UPDATE sources SET warnings_json = ? WHERE source_id = ?",
                         (json.dumps(list(ctx.warnings), ensure_ascii=False), ctx.source_id))
    except ImportFailure as exc:
        raise ImportFailure(f"{display}: {exc}") from None
    except OSError as exc:
        raise ImportFailure(f"{display}: cannot read ({exc})") from None
    except sqlite3.OperationalError as exc:  # e.g. another process held the write lock too long
        raise ImportFailure(f"{display}: the store refused the import ({exc}); nothing was "
                            "written") from None
    finally:
        conn.execute(f"PRAGMA foreign_keys = {'ON' if fk else 'OFF'}")
    return {"path": display, "run_id": ctx.run_id, "episodes": ctx.episodes,
            "messages": ctx.messages, "duplicate": False, "warnings": list(ctx.warnings)}


def _stored_warnings(text: str | None) -> list[str]:
    """A source's recorded import warnings (none recorded before migration 2)."""
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return [str(w) for w in value] if isinstance(value, list) else []


def content_hash(p: Path) -> tuple[str, int]:
    """sha256 and size of a file; for a directory, over results.json and simulations/*.json
    (a Harbor folder: the files its import reads, harbor_layout.hashed_files) (relative names
    and contents), so the same run re-imported is recognised."""
    h = hashlib.sha256()
    if p.is_dir() and harbor_kind(p):  # a Harbor job or trial folder: the files it reads
        files = hashed_files(p)
    elif p.is_dir():
        # only regular files inside the directory (a symlink out of it is not read)
        files = [p / "results.json"] + sorted((p / "simulations").glob("*.json"))
        files = [f for f in files if f.is_file() and inside(p, f)]
    else:
        files = [p]
    size = 0
    for f in files:
        if p.is_dir():
            # (the name's bytes: a folder name that is not UTF-8 is named by the reader)
            h.update(os.fsencode(f.relative_to(p)) + b"\0")
        with open_regular(f) as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
    return h.hexdigest(), size
