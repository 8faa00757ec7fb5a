"""Every message's FTS size record kept in one blob, for ranked search (issue 18).

Ranking a common word needs every matching row's token count, which FTS5 keeps one row per
message in `steps_fts_docsize`: a pass over it costs ~70 ms at 1M messages, the largest part
of a ranked search (store/search_tf.py). The writers that change the index (an import, a
deleted run, a finished engine run) leave a copy of the whole table's size records here, in
id order, as one blob: ~2 MB at 1M messages, read in ~2 ms.

The copy is used only while it describes the index exactly: it carries FTS5's averages and
structure records as they were when it was taken (`fingerprint`). A row added or removed
changes the averages record (its row count or token totals). A rewritten row with the same
totals is flushed to a new segment at commit, and with automerge on (FTS5's default, which
t2e restores after each import) every flush adds the pages it wrote to the structure record's
write counter, which never goes back, so the record never repeats. With automerge off a
structure can repeat byte for byte (FTS5 reuses the smallest free segment id, and 'optimize'
can rebuild the same shape), so then there is no fingerprint and no copy is used. A copy that
differs is ignored and the search reads docsize itself: a writer that forgets to refresh
costs speed, never a wrong score. The copy is taken only while the docsize ids have no gaps
(after a run other than the newest is deleted they do, and the search joins the sizes to the
matches instead). And it is read only by a connection with no uncommitted writes: FTS5 keeps
those in memory, so inside such a transaction the records do not show them.

No numpy here: the importers call `refresh`, and their process start-up is part of the
import's speed target; the copy is decoded by the search (search_tf.varints).
"""

from __future__ import annotations

import sqlite3

# Another writer holding the lock longer than this: no copy (the import or run that just ended
# must not wait the store's whole busy timeout for a cache)
BUSY_MS = 250
# FTS5's averages and structure records (search_parts compares a child's with its own too)
FINGERPRINT = "SELECT id, block FROM steps_fts_data WHERE id IN (1, 10) ORDER BY id"
# The whole docsize table in id order: a full scan of a rowid table visits its rows in rowid
# order (the plan is a plain SCAN; an ORDER BY in a subquery would add a co-routine costing
# ~30% more); the two ends are separate statements so that each is a b-tree lookup
DOCSIZE = ("SELECT (SELECT id FROM steps_fts_docsize ORDER BY id LIMIT 1), "
           "(SELECT id FROM steps_fts_docsize ORDER BY id DESC LIMIT 1), "
           "coalesce((SELECT cast(group_concat(sz, '') AS blob) FROM steps_fts_docsize), x'')")
_LOW = bytes(range(128))  # a varint's last byte


def docsize(conn: sqlite3.Connection) -> tuple[int | None, int | None, bytes]:
    """(first id, last id, every row's size record concatenated in id order)."""
    lo, hi, blob = conn.execute(DOCSIZE).fetchone()
    return lo, hi, bytes(blob)


def varint_count(blob: bytes) -> int:
    """How many varints `blob` holds (each ends with its one byte under 128; counted in C)."""
    return len(blob) - len(blob.translate(None, _LOW))


def dense(lo: int | None, hi: int | None, blob: bytes, ncol: int) -> bool:
    """Whether the size records are one per id from lo to hi: FTS5 writes exactly `ncol`
    varints a row, so they number (hi - lo + 1) * ncol only then."""
    return lo is not None and varint_count(blob) == (hi - lo + 1) * ncol


def varint(b: bytes, i: int) -> tuple[int, int]:
    """The SQLite varint at b[i]: (value, index after it). IndexError past the end."""
    v = 0
    for k in range(8):
        x = b[i + k]
        v = (v << 7) | (x & 0x7F)
        if x < 0x80:
            return v, i + k + 1
    return (v << 8) | b[i + 8], i + 9


def averages(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(N, total tokens, columns): FTS5's averages record (steps_fts_data id 1: the row count,
    then one token total per column), what xRowCount and xColumnTotalSize(-1) read."""
    row = conn.execute("SELECT block FROM steps_fts_data WHERE id = 1").fetchone()
    blob, vals, i = (row[0] if row and row[0] else b"\0"), [], 0  # an empty table: none
    while i < len(blob):
        v, i = varint(blob, i)
        vals.append(v)
    return vals[0], sum(vals[1:]), len(vals) - 1


def fingerprint(conn: sqlite3.Connection) -> bytes | None:
    """FTS5's averages and structure records, length-prefixed, as one value; None while FTS5's
    automerge is off (a structure record can then repeat: see the module docstring)."""
    row = conn.execute("SELECT v FROM steps_fts_config WHERE k = 'automerge'").fetchone()
    if row is not None and row[0] == 0:
        return None
    out = b""
    for rid, block in conn.execute(FINGERPRINT):
        out += rid.to_bytes(1, "big") + len(block).to_bytes(4, "big") + bytes(block)
    return out


def refresh(conn: sqlite3.Connection) -> bool:
    """Take a fresh copy, in a write transaction of its own, unless the stored one is still
    exact; drop it when no copy can be exact (automerge off, gaps in the ids). Best effort:
    False (nothing written) when the connection is inside a transaction, the store predates
    the table, or another writer holds the lock past BUSY_MS; the search then reads docsize."""
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
        if fp is None or row is None or row[0] != fp:
            lo, hi, blob = docsize(conn)
            if fp is not None and dense(lo, hi, blob, averages(conn)[2]):
                conn.execute("INSERT OR REPLACE INTO fts_sizes (id, fingerprint, first_id, "
                             "last_id, sizes) VALUES (1, ?, ?, ?, ?)", (fp, lo, hi, blob))
            else:
                conn.execute("DELETE FROM fts_sizes")
        conn.execute("COMMIT")
        return True
    except BaseException as exc:
        conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.OperationalError):
            return False
        raise


def cached(conn: sqlite3.Connection) -> tuple[int, int, bytes] | None:
    """(first id, last id, the size records concatenated in id order) when the stored copy
    describes the index as this connection sees it now, else None. Not for a connection with
    uncommitted writes to the index (FTS5 holds those in memory, outside these records)."""
    try:
        row = conn.execute("SELECT fingerprint, first_id, last_id, sizes FROM fts_sizes "
                           "WHERE id = 1").fetchone()
    except sqlite3.OperationalError:  # a store from before the table
        return None
    if row is None or row[0] != fingerprint(conn):
        return None
    return row[1], row[2], row[3]


def is_fresh(conn: sqlite3.Connection) -> bool:
    """Whether the stored copy is exact, without reading it (bench/scale.py says which)."""
    try:
        row = conn.execute("SELECT fingerprint FROM fts_sizes WHERE id = 1").fetchone()
    except sqlite3.OperationalError:
        return False
    return row is not None and row[0] == fingerprint(conn)
