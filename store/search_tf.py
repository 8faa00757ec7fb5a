"""FTS5's bm25 for a one-word query, computed from the index's own numbers (issue 18).

FTS5's `bm25()` costs ~0.7 us a match, almost all of it a nested `SELECT sz FROM
steps_fts_docsize WHERE id=?` statement run for every row; the numbers it combines are cheaper
to read in bulk: the word's rows and occurrences per row (tf) from the index records
themselves (store/fts5_doclist.py, ~0.1 us a row), each row's token count (D) from the
docsize table (the whole table in one pass, ~0.08 us a row, when the word is in a large share
of the rows; else joined to the match, ~0.2 us a row), the row count N and the total token
count from FTS5's averages record. `search_parts.ranked_rowids` uses this path for a single
plain word in many rows: one forked process reads the sizes while this one reads the word.

Exactness. The inputs are the ones FTS5 reads, from the same snapshot: xInstCount over a
one-token phrase counts that token's positions in the row's poslist (fts5_doclist counts
them, and FTS5's own fts5vocab row count of rows and occurrences must agree);
xColumnSize(-1) sums the row's docsize varints; xRowCount and xColumnTotalSize read the
averages record; nHit (xQueryPhrase's count) is the number of rows holding the token. The
arithmetic is FTS5's (sqlite's fts5_aux.c), operation for operation in
IEEE doubles: idf = log((N - nHit + 0.5) / (nHit + 0.5)), 1e-6 when <= 0; score =
-1.0 * (0.0 + idf * ((tf * (k1 + 1.0)) / (tf + k1 * (1 - b + b * D / avgdl)))), avgdl =
total / N. Elementwise numpy +, *, / and libm's log round as the C code does, unless the SQLite
build fused a multiply-add; `formula_is_fts5s()` compares every score of a small in-memory
table with FTS5's once per process (through the same index reader), and the callers fall back
to FTS5's bm25 when it differs. Equal scores stay tied and are ordered by step id, as
`ORDER BY bm25(steps_fts), rowid` does.

In one run (`--run`), the scores are the same (bm25's statistics are the whole table's) and the
run's rows keep their order among all rows, so the run's first k are the first k rows of the
global order that belong to it: heads of that order (256 rows, then 4x) are tested for
membership with one statement each, instead of joining every match to steps and episodes.

The query word is looked up as FTS5's tokenizer would fold it: only a word of ASCII letters
and digits qualifies (unicode61 folds ASCII by lower-casing it and nothing else); the table
must use the default tokenizer, full positions and a docsize table (`plain_index`).
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Callable
from typing import Any

import numpy as np

from . import fts5_doclist, fts_sizes

K1, B = 1.2, 0.75  # fts5_aux.c's constants
_WORD = re.compile(r'"([A-Za-z0-9]+)"')
# Reading every row's size costs ~0.08 us a row, joining them to the matches ~0.2 us a match:
# past ~40% of the rows holding the word, the whole table is the cheaper read
SCAN_SHARE = 0.4
_SIZES = ("SELECT cast(group_concat(d.sz, '') AS blob) FROM steps_fts f "
          "JOIN steps_fts_docsize d ON d.id = f.rowid WHERE steps_fts MATCH ?")
# CROSS JOIN: driven by the ids (else SQLite may walk the run's episodes and all their steps)
_IN_RUN = ("SELECT s.step_id FROM json_each(?) j CROSS JOIN steps s ON s.step_id = j.value "
           "CROSS JOIN episodes e ON e.episode_id = s.episode_id WHERE e.run_id = ?")
RUN_HEAD = 256  # rows of the global order first tested for membership in a run
RUN_CAP = 1 << 16  # ... and at most, before FTS5 ranks the run's own matches
_formula_ok: bool | None = None


def word_of(q: str) -> str | None:
    """The token a one-word FTS query (`fts_query`'s output) looks up, when it is one plain word
    of ASCII letters and digits, folded as unicode61 folds it; else None (FTS5 ranks it)."""
    m = _WORD.fullmatch(q)
    return m.group(1).lower() if m else None


def plain_index(conn: sqlite3.Connection) -> bool:
    """steps_fts was created with the default tokenizer (unicode61, diacritics removed), full
    positions and a docsize table: no tokenize=, detail= or columnsize= option."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'steps_fts'").fetchone()
    sql = row[0].lower() if row else "tokenize"
    return not any(opt in sql for opt in ("tokenize", "detail", "columnsize"))


def pack(arrays: list[np.ndarray]) -> list:
    """Integer arrays as (dtype, bytes) pairs in the smallest types that hold them, for a
    forked child to hand over with marshal (a million row sizes: ~2 MB, not 8)."""
    out: list = []
    for a in arrays:
        a = a.astype(np.min_scalar_type(int(a.max())) if len(a) else np.int64)
        out += [a.dtype.str, a.tobytes()]
    return out


def unpack(payload: list) -> list[np.ndarray]:
    """`pack`'s pairs as int64 arrays again."""
    return [np.frombuffer(payload[i + 1], dtype=payload[i]).astype(np.int64)
            for i in range(0, len(payload), 2)]


def varints(blob: bytes) -> np.ndarray:
    """The SQLite varints (big-endian 7-bit groups, high bit = more follows) packed in blob,
    as int32.
    Few take more than a byte (a column of 128 tokens or more), so each of their leading
    bytes is added to its varint's value separately; int32 values (a varint of more than
    four bytes is refused) keep the arrays small: fresh memory is slow to fault in."""
    b = np.frombuffer(blob, dtype=np.uint8)
    last = b < 128  # each varint's last byte
    if len(b) and not last[-1]:
        raise ValueError("varints end inside one")
    vals = (b[last] & 127).astype(np.int32)
    if len(vals) < len(b):
        lead = np.flatnonzero(~last)  # leading bytes, each of the varint ending after it
        ends = np.flatnonzero(last)
        owner = np.searchsorted(ends, lead)
        shift = ends[owner] - lead
        if shift.max() > 3:
            raise ValueError("a varint too big for a size")
        part = (b[lead].astype(np.int32) & 127) << (7 * shift)
        for k in range(1, int(shift.max()) + 1):  # owners differ within one shift
            vals[owner[shift == k]] += part[shift == k]
    return vals


def row_sizes(conn: sqlite3.Connection, q: str, ncol: int) -> np.ndarray:
    """D: every match's token count in all columns, in rowid order."""
    blob = conn.execute(_SIZES, (q,)).fetchone()[0]
    return varints(blob or b"").reshape(-1, ncol).sum(axis=1, dtype=np.int64)


def all_sizes(conn: sqlite3.Connection, ncol: int) -> tuple[int, np.ndarray] | None:
    """(first id, D of every row from it on): from the copy of docsize the writers leave
    (store/fts_sizes.py) while it is exact, else from one pass over docsize; None when the ids
    have gaps (deleted rows) or there are none."""
    lo, hi, blob = fts_sizes.cached(conn) or fts_sizes.docsize(conn)
    if lo is None:
        return None
    vals = varints(blob)
    if len(vals) != (hi - lo + 1) * ncol:  # gaps in the ids (see fts_sizes.dense)
        return None
    sizes = vals[0::ncol].copy()
    for c in range(1, ncol):  # (a strided sum over axis 1 is ~6x slower)
        sizes += vals[c::ncol]
    return lo, sizes


def sizes_for(conn: sqlite3.Connection, q: str, word: str, n_rows: int, ncol: int) -> list:
    """What the word's rows need from docsize, with FTS5's own count of its rows and
    occurrences (the caller's check of the index reader): [rows, occurrences, first id, D of
    every row from it on] when the word is in more than SCAN_SHARE of the rows and the ids
    have no gaps, else [rows, occurrences, None, D of each match in rowid order]. Sizes are
    packed (`pack`), for a forked child to hand over."""
    hits, occurrences = fts5_doclist.counts(conn, word)
    if hits > SCAN_SHARE * n_rows and (every := all_sizes(conn, ncol)):
        return [hits, occurrences, every[0], *pack([every[1]])]
    return [hits, occurrences, None, *pack([row_sizes(conn, q, ncol)])]


def sizes_of_rows(docs: np.ndarray, got: list) -> np.ndarray:
    """D of each of the word's rows (`docs`, ascending) from `sizes_for`'s answer; ValueError
    when the two do not describe the same rows."""
    first, (sizes,) = got[2], unpack(got[3:])
    if first is None:
        if len(sizes) != len(docs):
            raise ValueError("sizes and rows differ in number")
        return sizes
    at = docs - first
    if len(at) and (at[0] < 0 or at[-1] >= len(sizes)):
        raise ValueError("a row outside the docsize table")
    return sizes[at]


def run_share(conn: sqlite3.Connection, run_id: str) -> float:
    """The run's share of all episodes (~its share of the matches: the cost model's input)."""
    (mine,), (every,) = (conn.execute(sql, arg).fetchone() for sql, arg in (
        ("SELECT count(*) FROM episodes WHERE run_id = ?", (run_id,)),
        ("SELECT count(*) FROM episodes", ())))
    return mine / max(every, 1)


def in_run(conn: sqlite3.Connection, run_id: str) -> Callable[[np.ndarray], np.ndarray]:
    """A test of which step ids (an array) belong to the run: one statement for all of them,
    ~1-2 us an id (a steps lookup and an episodes lookup)."""
    def member(rowids: np.ndarray) -> np.ndarray:
        found = {r[0] for r in conn.execute(_IN_RUN, (json.dumps(rowids.tolist()), run_id))}
        return np.fromiter((int(r) in found for r in rowids), dtype=bool, count=len(rowids))
    return member


def bm25(tf: np.ndarray, sizes: np.ndarray, n_rows: int, total: int, n_hit: int) -> np.ndarray:
    """FTS5's bm25 of a one-phrase query, per row (see the module docstring for the order)."""
    avgdl = float(total) / float(n_rows)
    idf = math.log((n_rows - n_hit + 0.5) / (n_hit + 0.5))
    if idf <= 0.0:
        idf = 1e-6
    f = tf.astype(np.float64)
    d = sizes.astype(np.float64)
    return -1.0 * (0.0 + idf * ((f * (K1 + 1.0)) / (f + K1 * (1 - B + B * d / avgdl))))


def first_k(scores: np.ndarray, rowids: np.ndarray, k: int) -> list[int]:
    """The first k rowids by (score, rowid): every row scoring at most the k-th smallest score
    is a candidate (so all ties at the cut are), sorted by score then rowid."""
    if k <= 0 or not len(scores):
        return []
    if len(scores) > k:
        cut = np.partition(scores, k - 1)[k - 1]
        keep = np.flatnonzero(scores <= cut)
        scores, rowids = scores[keep], rowids[keep]
    return [int(r) for r in rowids[np.lexsort((rowids, scores))[:k]]]


def first_k_members(scores: np.ndarray, rowids: np.ndarray, k: int,
                    member: Callable[[np.ndarray], np.ndarray]) -> list[int] | None:
    """The first k rowids by (score, rowid) among those `member` accepts: the global order's
    first m rows are tested, m growing fourfold until k pass or every row was tested (a run's
    rows keep their order among all rows). None past RUN_CAP rows tested: a run holding so few
    of the matches is ranked by FTS5 over its own matches."""
    m = max(4 * k, RUN_HEAD)
    while True:
        m = min(m, len(scores))
        if m > RUN_CAP:
            return None
        head = np.array(first_k(scores, rowids, m), dtype=np.int64)
        passed = head[member(head)]
        if len(passed) >= k or m == len(scores):
            return [int(r) for r in passed[:k]]
        m *= 4


def rank(tf_rows: tuple[np.ndarray, np.ndarray], sizes: np.ndarray, n_rows: int, total: int,
         k: int, member: Callable[[np.ndarray], np.ndarray] | None = None) -> list[int] | None:
    """The first k rowids from the word's (rowids, tf) and every match's D (the same rows in
    the same order: one-word query, one snapshot), among the rows `member` accepts (a run's)
    if given; None when the two reads do not describe the same number of rows, or a run holds
    too few of the matches (then FTS5 ranks)."""
    docs, tf = tf_rows
    if len(docs) != len(sizes):
        return None
    scores = bm25(tf, sizes, n_rows, total, len(docs))  # idf: the word's rows, all runs
    if member is None:
        return first_k(scores, docs, k)
    return first_k_members(scores, docs, k, member) if k > 0 else []


def formula_is_fts5s() -> bool:
    """Whether `bm25` gives FTS5's own scores bit for bit on this SQLite build: checked once per
    process on a small in-memory table with rows of many lengths, occurrence counts and
    columns (a fused multiply-add in the build, or another formula, would show)."""
    global _formula_ok
    if _formula_ok is None:
        _formula_ok = _check_formula()
    return _formula_ok


def _check_formula() -> bool:
    """FTS5's scores against ours on a table of three segments with multi-page doclists
    (page size 64 bytes), a deleted and a rewritten row: the index reader is checked too."""
    try:
        c = sqlite3.connect(":memory:", isolation_level=None)
        c.execute("CREATE VIRTUAL TABLE steps_fts USING fts5(content, tool_calls)")
        c.execute("INSERT INTO steps_fts(steps_fts, rank) VALUES ('pgsz', 64)")
        rows: list[Any] = []
        for i in range(60):  # deterministic variety: lengths 1..~90, 0..7 occurrences
            words = ["w%d" % (j % 13) for j in range((i * 37) % 89)]
            for j in range(i % 8):
                words.insert((j * 11 + i) % (len(words) + 1), "x")
            calls = ("x" + " y" * (1 + i % 3)) if i % 5 == 0 else ("z " * (i % 4)).strip() or None
            rows.append((" ".join(words) or "x", calls))
        for part in (rows[:20], rows[20:45], rows[45:]):  # a segment each
            c.executemany("INSERT INTO steps_fts(content, tool_calls) VALUES (?, ?)", part)
        c.execute("DELETE FROM steps_fts WHERE rowid = 7")
        c.execute("UPDATE steps_fts SET content = 'x x x y' WHERE rowid = 30")
        fts5_doclist.ensure_counts(c)
        n_rows, total, ncol = fts_sizes.averages(c)
        same = True
        for word in ("x", "y"):  # in most rows (idf clamped to 1e-6), in a fifth (idf > 0)
            q = f'"{word}"'
            want = c.execute("SELECT rowid, bm25(steps_fts) FROM steps_fts WHERE steps_fts "
                             "MATCH ? ORDER BY rowid", (q,)).fetchall()
            c.execute("BEGIN")
            docs, tf = fts5_doclist.term_rows(c, word)
            c.execute("COMMIT")
            got = bm25(tf, row_sizes(c, q, ncol), n_rows, total, len(docs)).tolist()
            same = same and len(want) >= 12 and [w[0] for w in want] == docs.tolist() and all(
                w[1] == g for w, g in zip(want, got)) and fts5_doclist.counts(c, word) == (
                len(docs), int(tf.sum()))
        return same
    except (sqlite3.Error, ValueError, IndexError):
        return False
