"""Opening the evidence store: one SQLite file, WAL, busy timeout, foreign keys, migrated."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from .migrations import MIGRATIONS, SHOWN_VERSION, migrate

# The termination reason of an episode whose model could not be reached: it carries no evidence
# and is left out of every figure. The one spelling; everything else imports it.
INFRA = "infrastructure_error"

if TYPE_CHECKING:  # imported when a Database is asked for: 0.1 s off every command's start
    import sqlite_utils

# How long a writer waits for another's write lock before giving up (readers never wait in
# WAL mode). A 300 MB import holds it ~30 s; a run or a gate must wait that out, not die with
# "database is locked". Bounded: past this the CLI says the store is busy (exit 75).
BUSY_TIMEOUT_MS = 180_000
SETUP_DEADLINE_S = 60.0
# Threads of one process (the app's workers, say) must not set up the same new file at once:
# two connections switching a fresh file to WAL can leave one "database is locked".
_SETUP_LOCK = threading.Lock()
PAGE_SIZE = 16_384


class StoreError(Exception):
    """A store problem a user can act on (bad path, not a t2e store, ...)."""


def now_iso() -> str:
    """UTC timestamp with microseconds; sorts lexically."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def db_path(conn: sqlite3.Connection) -> str:
    """The file a connection's main database is ("" for an in-memory one)."""
    row = conn.execute("PRAGMA database_list").fetchone()  # main is always the first row
    return (row[2] or "") if row else ""


def connect(path: str | os.PathLike, *, migrate_schema: bool = True,
            must_exist: bool = False) -> sqlite3.Connection:
    """A raw sqlite3 connection with our pragmas. One connection per thread. `must_exist`: a
    store that is not there (or vanished) is an error, never made again."""
    from world.errors import shown_path

    p = Path(path)
    try:
        if p.exists() and p.is_dir():
            raise StoreError(f"{shown_path(p)}: is a directory, not a store file")
        if not must_exist and not p.parent.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a name too long, a folder that cannot be made
        raise StoreError(f"{shown_path(p)}: cannot open a store there "
                         f"({exc.strerror or exc})") from None
    try:
        target, uri = (f"file:{quote(str(p))}?mode=rw", True) if must_exist else (str(p), False)
        conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False, uri=uri)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # before the migrations too: at the default FULL each migration's commit fsynced the
        # WAL (~20 ms of a new store's creation). In WAL mode NORMAL is still all or nothing
        # per transaction; a power cut can only undo the last ones (a migration runs again).
        conn.execute("PRAGMA synchronous = NORMAL")
        with _SETUP_LOCK:
            _retry_locked(lambda: _setup(conn, migrate_schema))
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{shown_path(p)}: not a usable t2e store ({exc})") from exc
    return conn


def _setup(conn: sqlite3.Connection, migrate_schema: bool) -> None:
    (pages,) = conn.execute("PRAGMA page_count").fetchall()[0]
    if pages == 0:
        # a new file: 16 KiB pages keep ~1 KB messages with their JSON extras on fewer
        # (overflow) pages; bulk import costs ~5% less CPU. Only settable before WAL.
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode = WAL").fetchall()
    before = _refuse_newer(conn)
    if migrate_schema:
        after = migrate(conn)
        if 0 < before < SHOWN_VERSION <= after:
            # a store from before the copy of the FTS size records, or whose index was made
            # again over the shown text (migration 10): take the copy now (one pass over
            # docsize, ~0.16 s at 1M messages), not at its next import
            from . import fts_sizes

            fts_sizes.refresh(conn)


def _refuse_newer(conn: sqlite3.Connection) -> int:
    """A store migrated by a newer t2e has tables and meanings this one doesn't know: writing
    to it (or even reading it as if it were ours) could corrupt it or mislead. Refused.
    Returns the store's schema version (0: a new or non-t2e file)."""
    try:
        (version,) = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    except sqlite3.OperationalError:  # no such table: a new or non-t2e file
        return 0
    latest = MIGRATIONS[-1][0]
    if version is not None and version > latest:
        raise StoreError(f"this store was written by a newer t2e (schema version {version}; "
                         f"this t2e knows up to {latest}): upgrade t2e to open it")
    return version or 0


def _retry_locked(step, deadline_s: float = SETUP_DEADLINE_S) -> None:
    """Run `step`, retrying while another process holds the lock SQLite's busy handler
    gives up on (switching journal mode does not always wait for it)."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            msg = str(exc).lower()
            if ("locked" not in msg and "busy" not in msg) or time.monotonic() > end:
                raise
            time.sleep(0.02 + random.random() * 0.05)


class Database:
    """The store as open_db gives it: a sqlite-utils Database made on first use. t2e reads and
    writes through `conn` (and `execute`); importing sqlite-utils loads numpy, ~0.18 s of CPU
    at the start of every command that opened a store and never used either. Anything else
    (`db["runs"]`, `db.table_names()`, ...) makes the sqlite-utils Database over the same
    connection and answers from it. The one setting sqlite-utils gives a connection,
    recursive triggers (so the delete triggers fire for rows INSERT OR REPLACE deletes), is
    set here at once, as before."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._full: sqlite_utils.Database | None = None
        conn.execute("PRAGMA recursive_triggers = on")

    def full(self) -> sqlite_utils.Database:
        """The sqlite-utils Database over this connection."""
        if self._full is None:
            import sqlite_utils

            self._full = sqlite_utils.Database(self.conn)
        return self._full

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "_full":  # (copy, pickle: not a proxy's business)
            raise AttributeError(name)
        return getattr(self.full(), name)

    def __getitem__(self, table_name: str):
        return self.full()[table_name]

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def execute(self, sql: str, parameters=None) -> sqlite3.Cursor:
        """As sqlite-utils' execute: connect's connections are in autocommit mode, so no
        statement opens a transaction it would have to commit or roll back (nor is a
        tracer ever set)."""
        return self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)

    def close(self) -> None:
        self.conn.close()

    def __repr__(self) -> str:
        return f"<Database {self.conn}>"


def open_db(path: str | os.PathLike, *, migrate_schema: bool = True) -> Database:
    """The store as a sqlite-utils Database, made when first used beyond `conn` and `execute`
    (autocommit connection; use `with db.conn:` or explicit BEGIN/COMMIT for transactions)."""
    return Database(connect(path, migrate_schema=migrate_schema))
