"""Every message's FTS size record kept in one blob, for ranked search (issue 18).

Ranking a common word needs every matching row's token count, which FTS5 keeps one row per
message in `steps_fts_docsize`: a pass over it costs ~70 ms at 1M messages, the largest part
of a ranked search (store/search_tf.py). The writers that change the index (an import, a
deleted run, a finished engine run) leave a copy of the whole table's size records here, in
id order, as one blob: ~2 MB at 1M messages, read in ~2 ms.

The copy is used only while it describes the index exactly: it carries FTS5's averages and
structure records as they were when it was taken (`fingerprint`), and every write to the
index changes one of them (a row added or removed changes the averages; a rewritten row is
flushed to a new segment at commit, which changes the structure record; merges and
configuration changes too). A copy that differs is ignored, and the search reads docsize
itself, so a writer that forgets to refresh costs speed, never a wrong score.

No numpy here: the importers call `refresh`, and their process start-up is part of the
import's speed target; the copy is decoded by the search (search_tf.varints).
"""

from __future__ import annotations

import sqlite3

# Another writer holding the lock longer than this: no copy (the import or run that just ended
# must not wait the store's whole busy timeout for a cache)
BUSY_MS = 250
_FINGERPRINT = "SELECT id, block FROM steps_fts_data WHERE id IN (1, 10) ORDER BY id"
_REFRESH = (
    "INSERT OR REPLACE INTO fts_sizes (id, fingerprint, first_id, last_id, sizes) SELECT 1, ?, "
    "(SELECT id FROM steps_fts_docsize ORDER BY id LIMIT 1), "
    "(SELECT id FROM steps_fts_docsize ORDER BY id DESC LIMIT 1), "
    "coalesce((SELECT cast(group_concat(sz, '') AS blob) FROM steps_fts_docsize), x'')")


def fingerprint(conn: sqlite3.Connection) -> bytes:
    """FTS5's averages and structure records, length-prefixed, as one value."""
    out = b""
    for rid, block in conn.execute(_FINGERPRINT):
        out += rid.to_bytes(1, "big") + len(block).to_bytes(4, "big") + bytes(block)
    return out


def refresh(conn: sqlite3.Connection) -> bool:
    """Take a fresh copy, in a write transaction of its own, unless the stored one is still
    exact. Best effort: False (nothing written) when the connection is inside a transaction,
    the store predates the table, or another writer holds the lock past BUSY_MS; the search
    then reads docsize."""
    if conn.in_transaction:
        return False
    (wait,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute(f"PRAGMA busy_timeout = {min(int(wait), BUSY_MS)}")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(wait)}")
    try:
        fp = fingerprint(conn)
        row = conn.execute("SELECT fingerprint FROM fts_sizes WHERE id = 1").fetchone()
        if row is None or row[0] != fp:
            conn.execute(_REFRESH, (fp,))
        conn.execute("COMMIT")
        return True
    except BaseException as exc:
        conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.OperationalError):
            return False
        raise


def cached(conn: sqlite3.Connection) -> tuple[int, int, bytes] | None:
    """(first id, last id, the size records concatenated in id order) when the stored copy
    describes the index as this connection sees it now, else None."""
    try:
        row = conn.execute("SELECT fingerprint, first_id, last_id, sizes FROM fts_sizes "
                           "WHERE id = 1").fetchone()
    except sqlite3.OperationalError:  # a store from before the table
        return None
    if row is None or row[1] is None or row[0] != fingerprint(conn):
        return None
    return row[1], row[2], row[3]


def is_fresh(conn: sqlite3.Connection) -> bool:
    """Whether the stored copy is exact, without reading it (the fork decision)."""
    try:
        row = conn.execute("SELECT fingerprint, first_id FROM fts_sizes WHERE id = 1").fetchone()
    except sqlite3.OperationalError:
        return False
    return row is not None and row[1] is not None and row[0] == fingerprint(conn)
