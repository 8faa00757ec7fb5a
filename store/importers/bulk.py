"""Settings for one bulk import on a connection: a page cache sized to the file and FTS5
automerge off, for the import's length (tau2.py)."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Iterator

# SQLite's default page cache (2 MB) spills the one transaction's dirty pages (steps, indexes,
# FTS segments) to the WAL and reads them back over and over, superlinearly in the file's
# size: the 304 MB bench file took 54 user + 105 system CPU-s with a 64 MB cache, 43 + 1.4 with
# 256 MB. So the cache follows the file (64 MB .. 256 MB), only for the import's length (it is
# per connection; restored afterwards).
IMPORT_CACHE_KIB = (65536, 262144)


# FTS5 merges index segments as it goes (automerge=4, the default); in one big import most of
# that work is redone as later segments arrive. Off for the import's length: FTS5's crisis merge
# (16 segments at one level) still bounds the segment count, so searches stay as fast (measured:
# ranked search on the 10k-simulation store unchanged), and the importer saves ~1 CPU-s in 5.
_FTS_CMD = "INSERT INTO steps_fts (steps_fts, rank) VALUES ('automerge', ?)"


@contextmanager
def import_cache(conn: sqlite3.Connection, size_bytes: int = 0) -> Iterator[None]:
    """A page cache sized to the file, and FTS5 automerge off, for the duration of one import
    on this connection (inside its transaction: a failed import rolls both back)."""
    low, high = IMPORT_CACHE_KIB
    kib = max(low, min(high, size_bytes // 1024))
    (before,) = conn.execute("PRAGMA cache_size").fetchone()
    row = conn.execute("SELECT v FROM steps_fts_config WHERE k = 'automerge'").fetchone()
    conn.execute(f"PRAGMA cache_size = -{kib}")
    conn.execute(_FTS_CMD, (0,))
    try:
        yield
    finally:
        conn.execute(_FTS_CMD, (4 if row is None else row[0],))
        conn.execute(f"PRAGMA cache_size = {int(before)}")
