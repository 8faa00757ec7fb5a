"""A word's rows and occurrences per row, read from FTS5's own index records (issue 18).

`term_rows(conn, word)` gives what an `fts5vocab` instance walk gives (every row holding the
word and its number of occurrences; tests/test_fts5_doclist.py compares the two), but reads the
index pages the way FTS5's own query does instead of producing an SQL row per occurrence: the
word's doclist is a few bytes a row (~2.3 MB for a word in half of a million messages), read
in ~1,000 page records and decoded with numpy in ~40 ms, where the instance walk takes
~120 ms for "order" and ~300 ms for "id" (repeated ~6 times a row) at 1M messages.

The format is the one documented at the top of SQLite's ext/fts5/fts5_index.c (file format
version 4, `steps_fts_config`): read here only where everything is as documented, else a
ValueError and the caller ranks with FTS5's bm25:
- the structure record (`%_data` id 10): a 4-byte cookie, then varints: levels, segments, a
  write counter, and per level (merging inputs, segments, then per segment from oldest to
  newest: id, first leaf page, last leaf page). Level 0 is the newest. The V2 form (tables
  with contentless_delete, tombstone pages) is not read.
- a segment's leaf page N is `%_data` row (segment id << 37) + N. `%_idx` (segid, term, pgno)
  holds the first term of leaf pages; `pgno >> 1` is the page to start from (at least the
  segment's first page), as fts5SegIterSeekInit does.
- a leaf page: 2-byte offset of the first rowid (when one begins before the page's first
  term), 2-byte offset of the footer; the footer holds one varint per term on the page (its
  offset, delta from the previous one). Each page's first term is (size, bytes); later ones
  (bytes kept from the previous term, new bytes, bytes). Terms carry the index's prefix byte
  ('0' for the main index). A term's doclist runs from the end of the term to the next term on
  the page, or across pages up to the first term of a later page; bytes of a continued
  doclist start after each page's 4-byte header.
- a doclist: the first rowid (absolute), then per row: the position list's size varint
  (bytes * 2, + 1 with the "delete" flag) and the position list; then a rowid delta and the
  next. The first rowid on each continued page is written absolute, at the offset in its header.
- a position list: one varint per position (offset + 2) in column 0, then for each further
  column with positions a 0x01 byte and the column number, then its positions. Occurrences are
  the varints minus two per column marker.
- the segments are merged as FTS5 merges them: per rowid the newest segment's entry counts,
  and an entry with an empty position list (a delete marker) means the row does not hold it.

Vectorised: every page head whose rowid offset is known starts a walker; all walkers step
one entry at a time together (~1,000 steps at 1M messages), each entry ~2 + size/2 bytes when
its varints are one byte each (the rest are decoded where met). The walk must land exactly on
each next walker's start and on the end, or the records are not what this reader expects.

The caller checks the outcome against FTS5's own count of the word's rows and occurrences (an
`fts5vocab` row lookup, `counts`), so a store whose records differ from the above in a way
these checks do not see would still have to agree on both numbers to be used.
"""

from __future__ import annotations

import sqlite3

import numpy as np

from .fts_sizes import varint

MAIN_INDEX = b"0"  # the prefix byte of the main index's terms
SEGMENT_SHIFT = 37  # leaf page rowid = (segment id << 37) + page number
VOCAB_ROW = "temp.t2e_steps_fts_rows"
_V2 = b"\xff\x00\x00\x01"


def readable(conn: sqlite3.Connection) -> bool:
    """steps_fts's records are in the format version read here (4; a V2 structure record, of
    contentless_delete tables, is refused by `segments`)."""
    row = conn.execute("SELECT v FROM steps_fts_config WHERE k = 'version'").fetchone()
    return bool(row) and row[0] == 4


def segments(conn: sqlite3.Connection) -> list[tuple[int, int, int]]:
    """(segment id, first leaf page, last leaf page) of every segment, oldest first."""
    row = conn.execute("SELECT block FROM steps_fts_data WHERE id = 10").fetchone()
    blob = row[0] if row else b""
    if len(blob) < 7 or blob[4:8] == _V2:
        raise ValueError("structure record not readable here")
    nlevel, i = varint(blob, 4)
    nseg, i = varint(blob, i)
    _, i = varint(blob, i)  # write counter
    levels = []
    for _ in range(nlevel):
        _, i = varint(blob, i)  # inputs of an ongoing merge
        n, i = varint(blob, i)
        segs = []
        for _ in range(n):
            sid, i = varint(blob, i)
            first, i = varint(blob, i)
            last, i = varint(blob, i)
            segs.append((sid, first, last))
        levels.append(segs)
    if i != len(blob) or sum(map(len, levels)) != nseg:
        raise ValueError("structure record not as expected")
    return [seg for segs in reversed(levels) for seg in segs]  # the highest level is oldest


def _terms(page: bytes) -> tuple[int, list[tuple[int, int, bytes]]]:
    """The page's footer offset and its terms: (offset, offset after the term, term)."""
    foot = (page[2] << 8) | page[3]
    out: list[tuple[int, int, bytes]] = []
    i, off, term = foot, 0, b""
    while i < len(page):
        delta, i = varint(page, i)
        off += delta
        if out:
            keep, j = varint(page, off)
            n, j = varint(page, j)
            term = term[:keep] + page[j:j + n]
        else:
            n, j = varint(page, off)
            term = page[j:j + n]
        if j + n > foot:
            raise ValueError("term past the page's footer")
        out.append((off, j + n, term))
    return foot, out


def _doclist(conn: sqlite3.Connection, seg: tuple[int, int, int], key: bytes
             ) -> tuple[bytes, list[int]] | None:
    """The term's doclist bytes in one segment and the offsets in them where a rowid is
    written absolute (0 and each continued page's first rowid); None when the segment does
    not hold the term."""
    sid, first, last = seg
    row = conn.execute("SELECT pgno FROM steps_fts_idx WHERE segid = ? AND term <= ? "
                       "ORDER BY term DESC LIMIT 1", (sid, key)).fetchone()
    pg = max(row[0] >> 1 if row else first, first)
    while pg <= last:
        page = _page(conn, sid, pg)
        foot, terms = _terms(page)
        for k, (_, after, term) in enumerate(terms):
            if term > key:
                return None
            if term == key:
                return _continued(conn, sid, pg, last, page, after,
                                  terms[k + 1][0] if k + 1 < len(terms) else None, foot)
        pg += 1
    return None


def _page(conn: sqlite3.Connection, sid: int, pg: int) -> bytes:
    got = conn.execute("SELECT block FROM steps_fts_data WHERE id = ?",
                       ((sid << SEGMENT_SHIFT) + pg,)).fetchone()
    if got is None:
        raise ValueError(f"leaf page {pg} of segment {sid} missing")
    return got[0]


def _continued(conn: sqlite3.Connection, sid: int, pg: int, last: int, page: bytes, start: int,
               end: int | None, foot: int) -> tuple[bytes, list[int]]:
    """The doclist from `start` on `page`, through the following pages until a page with a
    term (see `_doclist`)."""
    chunks = [page[start:foot if end is None else end]]
    starts, size = [0], len(chunks[0])
    while end is None and pg < last:
        pg += 1
        page = _page(conn, sid, pg)
        foot, terms = _terms(page)
        stop = terms[0][0] if terms else foot
        rowid_at = (page[0] << 8) | page[1]
        if rowid_at:
            if not 4 <= rowid_at < stop:
                raise ValueError(f"leaf page {pg} of segment {sid}: rowid offset")
            starts.append(size + rowid_at - 4)
        chunks.append(page[4:stop])
        size += stop - 4
        end = stop if terms else None
    return b"".join(chunks), starts


def varints_at(b: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values (int64) and lengths (int32) of the varints starting at positions p of b (b
    padded so that a read past the data stays in bounds); one pass per byte of the longest."""
    x = b[p]
    val = (x & 127).astype(np.int64)
    ln = np.ones(len(p), np.int32)
    more = np.flatnonzero(x >= 128)
    k = 1
    while len(more):
        if k == 8:
            raise ValueError("a varint of 9 bytes (a rowid of 2^56 or more): not read here")
        y = b[p[more] + k]
        val[more] = (val[more] << 7) | (y & 127)
        ln[more] += 1
        more = more[y >= 128]
        k += 1
    return val, ln


def _step(raw: bytes, i: int) -> int:
    """Bytes from the entry at raw[i] to the next: its rowid varint, size varint and list."""
    _, j = varint(raw, i)
    size, k = varint(raw, j)
    return k - i + (size >> 1)


def _walk(raw: bytes, b: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """Every entry's offset (int32), in order: all walkers step one entry at a time. Memory
    is kept small on purpose: a fresh page costs ~3-5 us to fault in on the bench machine,
    which made the first search of a process ~2x slower with int64 arrays per byte."""
    # the step from an entry whose rowid and size varints are one byte each (<= 65); 0: the
    # entry is decoded where met. 0 too at each walker's start and at the end, so that a
    # walker that has arrived stays where it is (and is told apart by its limit)
    step = np.zeros(n + 1, np.uint8)
    step[:n] = b[1:n + 1] >> 1
    step[:n] += 2
    slow = b[:n] >= 128
    slow |= b[1:n + 1] >= 128
    step[:n][slow] = 0
    del slow
    step[starts] = 0
    limit = np.append(starts[1:], n).astype(np.int32)
    p = starts.astype(np.int32)
    seen = []
    while True:
        seen.append(p.copy())
        s = step[p]
        hard = np.flatnonzero(s == 0)
        if len(hard):
            hard = hard[p[hard] < limit[hard]]  # not the walkers that have arrived
        if len(hard):
            s = s.astype(np.int32)
            if len(hard) > 8:  # the first step (absolute rowids), mostly
                _, l1 = varints_at(b, p[hard])
                size, l2 = varints_at(b, p[hard] + l1)
                s[hard] = l1 + l2 + (size >> 1)
            else:  # a few: cheaper one by one than by numpy's per-call cost
                for h in hard.tolist():
                    s[h] = _step(raw, int(p[h]))
        p += s
        if not (p < limit).any():
            break
    if not np.array_equal(p, limit):
        raise ValueError("doclist entries do not end where the pages say")
    at = np.stack(seen).T  # walker by step
    return at[at < limit[:, None]]


def _occurrences(b: np.ndarray, n: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Positions in each list [lo, hi) of b: its varints (a byte < 128 ends one) minus two
    per column marker (a one-byte varint 1 that is not itself a marker's column number, which
    is never 1 twice in a row: positions are written + 2)."""
    weight = (b[:n + 1] < 128).view(np.int8)
    weight[n] = 0
    ones = np.flatnonzero(b[:n] == 1)
    ones = ones[(ones == 0) | (b[ones - 1] < 128)]  # one-byte varints of value 1
    after_one = np.zeros(len(ones), bool)
    after_one[1:] = ones[1:] - ones[:-1] == 1
    weight[ones[~after_one]] = -1  # a marker: counted -1 (+1 as a varint, -2)
    acc = np.zeros(n + 2, np.int32)
    np.cumsum(weight, dtype=np.int32, out=acc[1:])
    return acc[hi] - acc[lo]


def decode(parts: list[tuple[bytes, list[int]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rowid, occurrences, position list bytes) of every entry of the parts' doclists (one
    part a segment), in order."""
    data, starts, n = [], [], 0
    for chunk, at in parts:
        data.append(chunk)
        starts += [n + a for a in at]
        n += len(chunk)
    if n >= 1 << 31:
        raise ValueError("doclist too big for this reader")
    data.append(bytes(16))  # padding: a read a few bytes past the end stays in bounds
    raw = b"".join(data)
    b = np.frombuffer(raw, dtype=np.uint8)
    s = np.array(starts, np.int32)
    pos = _walk(raw, b, s, n)
    rv, l1 = varints_at(b, pos)
    size, l2 = varints_at(b, pos + l1)
    lo = pos + l1 + l2
    hi = lo + (size >> 1).astype(np.int32)
    del l1, l2, size
    first = np.searchsorted(pos, s)  # each walker's first entry: an absolute rowid
    walker = np.repeat(np.arange(len(s), dtype=np.int32), np.diff(np.append(first, len(pos))))
    base = rv[first]
    rv[first] = 0
    np.cumsum(rv, out=rv)  # rowid = walker's absolute rowid + deltas since it
    rv += (base - rv[first])[walker]
    return rv, _occurrences(b, n, lo, hi), hi - lo


def term_rows(conn: sqlite3.Connection, word: str) -> tuple[np.ndarray, np.ndarray]:
    """(rowids, occurrences): every row holding `word` (an already folded token), ascending,
    and its occurrences in all columns; ValueError when the records are not as expected.
    Run it inside a read transaction: the records must be one snapshot."""
    key = MAIN_INDEX + word.encode()
    parts = [got for seg in segments(conn) if (got := _doclist(conn, seg, key))]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rowid, tf, nbytes = decode(parts)
    if len(parts) > 1:  # parts oldest first: a stable sort leaves the newest entry last
        order = np.argsort(rowid, kind="stable")
        rowid, tf, nbytes = rowid[order], tf[order], nbytes[order]
    newest = np.ones(len(rowid), bool)
    newest[:-1] = rowid[1:] != rowid[:-1]
    keep = newest & (nbytes > 0)
    return rowid[keep], tf[keep]


def ensure_counts(conn: sqlite3.Connection) -> None:
    """The connection's temp fts5vocab row table over steps_fts (made once; a temp-schema
    write, allowed inside a read transaction and on a read-only store, but not under
    `PRAGMA query_only`)."""
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {VOCAB_ROW} "
                 "USING fts5vocab(main, steps_fts, row)")


def counts(conn: sqlite3.Connection, word: str) -> tuple[int, int]:
    """FTS5's own (rows, occurrences) of `word` (the table from `ensure_counts`)."""
    row = conn.execute(f"SELECT doc, cnt FROM {VOCAB_ROW} WHERE term = ?", (word,)).fetchone()
    return (row[0], row[1]) if row else (0, 0)
