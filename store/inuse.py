"""Who has a store open, so a rebuild never pulls it from under them.

An app holds a shared advisory lock on `STORE.lock` (beside the store) for as long as it runs;
a rebuild (`t2e demo`) takes the exclusive lock without waiting and refuses while any app holds
the shared one. Deleting and rewriting the file under an open app would leave it showing stale
ids and empty screens (and a stale WAL beside a new file can corrupt it), so refusing is the
safe answer. An app also remembers the store file's identity and says so when the file at its
path is a different one (replaced by something that did not ask).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import IO

from .db import StoreError

try:  # POSIX; elsewhere the guard is off (the identity check still warns)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


def lock_path(store_path: str | os.PathLike) -> Path:
    """The lock file of a store: `STORE.lock` beside it."""
    return Path(f"{store_path}.lock")


def _open_lock(store_path: str | os.PathLike) -> IO[bytes] | None:
    try:
        return open(lock_path(store_path), "ab")
    except OSError:
        return None  # a read-only folder: nothing to guard with


def hold_open(store_path: str | os.PathLike) -> IO[bytes] | None:
    """Mark the store as open for as long as the returned file stays open (close it to
    release). None where the lock cannot be taken (no fcntl, read-only folder)."""
    fh = _open_lock(store_path)
    if fh is None or fcntl is None:
        return fh
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:  # a rebuild is running right now: open anyway, the identity check warns
        pass
    return fh


def hold_for_rebuild(store_path: str | os.PathLike) -> IO[bytes] | None:
    """The exclusive lock a rebuild holds (close the returned file when done). StoreError when
    an app has the store open."""
    fh = _open_lock(store_path)
    if fh is None or fcntl is None:
        return fh
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise StoreError(f"{store_path}: the store is open in a t2e app; quit the app (q) "
                         "before rebuilding it, or build elsewhere with "
                         "`t2e --store NEW.sqlite demo`") from None
    return fh


def identity(store_path: str | os.PathLike) -> tuple | None:
    """Which store file is at the path: (device, inode, when its first migration ran), or
    None when there is no file. The inode alone is not enough: a file deleted and made again
    often gets the same one back; the first migration's time is the store's birth."""
    try:
        st = os.stat(store_path)
    except OSError:
        return None
    born = None
    try:  # read-only: looking must never create or change anything
        conn = sqlite3.connect(Path(store_path).absolute().as_uri() + "?mode=ro", uri=True,
                               timeout=1.0)
        try:
            row = conn.execute("SELECT applied_at FROM schema_migrations "
                               "ORDER BY version LIMIT 1").fetchone()
            born = row[0] if row else None
        finally:
            conn.close()
    except sqlite3.Error:
        pass
    return (st.st_dev, st.st_ino, born)
