"""The store clock: the time of every row the gate puts in order.

The gate's rules are "before" tests: the set registered before the candidate was saved, no
view of its tasks before the candidate's first run there, the baseline's agent on the set
before the candidate's. The wall clock is the user's to set (faketime, a VM's clock): a save
dated back before the views made since would hide them. So those rows are stamped here, and a
stamp is always later than every stamp the store issued before it: the wall clock's time when
it is ahead, else the last stamp plus one microsecond. The last stamp is one row
(`store_clock`, migration 14), advanced by the same statement that reads it, so two
processes never issue equal or crossed stamps. Stamps are ISO-8601 UTC strings like
`store.now_iso()`'s, so they sort and read as before.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any

from . import db as _db
from .migrations_order import ORDER_VERSION

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _conn(db: Any) -> sqlite3.Connection:
    return db.conn if hasattr(db, "conn") else db


def to_us(text: str) -> int:
    """Microseconds since the epoch of an aware ISO time."""
    delta = datetime.fromisoformat(text) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def to_iso(us: int) -> str:
    """The ISO text of a stamp (as `store.now_iso()` writes times)."""
    return (EPOCH + timedelta(microseconds=us)).isoformat(timespec="microseconds")


def stamp(db: Any) -> str:
    """A new time for a row the gate orders: the wall clock, but never earlier than, nor
    equal to, a stamp this store issued before. Writes one row (inside the caller's
    transaction when there is one, so the stamp and the row it dates commit together)."""
    conn = _conn(db)
    wall = to_us(_db.now_iso())   # looked up at each call: the one wall clock of the store
    try:
        rows = conn.execute("UPDATE store_clock SET issued_at = max(issued_at + 1, ?) "
                            "RETURNING issued_at", (wall,)).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table: store_clock" not in str(exc):
            raise
        # a file below migration 14 (store.connect migrates every store it opens; only
        # code handed a raw connection to an old file gets here): the wall clock
        _refuse_if_dropped(conn)
        return to_iso(wall)
    if not rows:   # (the migration writes the row; a store whose row was deleted by hand)
        conn.execute("INSERT OR IGNORE INTO store_clock (id, issued_at) VALUES (1, ?)", (wall,))
        return stamp(conn)
    return to_iso(rows[0][0])


def read(db: Any) -> str:
    """The store's time now, without issuing a stamp: the wall clock, or the last stamp when
    the wall clock is behind it."""
    wall = to_us(_db.now_iso())
    conn = _conn(db)
    try:
        row = conn.execute("SELECT issued_at FROM store_clock WHERE id = 1").fetchone()
    except sqlite3.OperationalError as exc:   # a file below migration 14, as in `stamp`
        if "no such table: store_clock" not in str(exc):
            raise
        _refuse_if_dropped(conn)
        row = None
    return to_iso(max(wall, row[0]) if row else wall)


def _refuse_if_dropped(conn: sqlite3.Connection) -> None:
    """A store at or past migration 14 without its clock table had it dropped: its stamps
    would silently follow the wall clock (which the user can set back), so say so and stop
    (StoreError, exit 2) rather than date the gate's rows by it."""
    try:
        row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    except sqlite3.OperationalError:   # not a t2e store yet: nothing was dropped
        return
    version = row[0] if row and row[0] is not None else 0
    if version >= ORDER_VERSION:
        from world.errors import shown_path

        raise _db.StoreError(
            f"{shown_path(_db.db_path(conn)) or 'the store'}: table store_clock is missing "
            f"(the store is at schema version {version}; migration {ORDER_VERSION} made it): "
            f"the store was altered outside t2e, so its times cannot be put in order; "
            f"restore the store from a copy")
