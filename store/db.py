"""Opening the evidence store: one SQLite file, WAL, busy timeout, foreign keys, migrated."""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils

from .migrations import migrate

BUSY_TIMEOUT_MS = 10_000
PAGE_SIZE = 16_384


class StoreError(Exception):
    """A store problem a user can act on (bad path, not a t2e store, ...)."""


def now_iso() -> str:
    """UTC timestamp with microseconds; sorts lexically."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def connect(path: str | os.PathLike, *, migrate_schema: bool = True) -> sqlite3.Connection:
    """A raw sqlite3 connection with our pragmas. One connection per thread."""
    p = Path(path)
    if p.exists() and p.is_dir():
        raise StoreError(f"{p}: is a directory, not a store file")
    if not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(str(p), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
            # a new file: 16 KiB pages keep ~1 KB messages with their JSON extras on fewer
            # (overflow) pages; bulk import costs ~5% less CPU. Only settable before WAL.
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if migrate_schema:
            migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{p}: not a usable t2e store ({exc})") from exc
    return conn


def open_db(path: str | os.PathLike, *, migrate_schema: bool = True) -> sqlite_utils.Database:
    """The store as a sqlite-utils Database (autocommit connection; use `with db.conn:` or
    explicit BEGIN/COMMIT for transactions)."""
    return sqlite_utils.Database(connect(path, migrate_schema=migrate_schema))
