"""Exact bm25 ranking over rowid partitions, one process per core (issue 18).

A one-word query in many rows is ranked instead from the word's rows and occurrences, read
from the index records, and the rows' sizes (store/search_tf.py, `_by_frequencies`): a
forked child reads the sizes while the parent reads the word, with the same fork, snapshot
and fallback rules as below. Everything else is ranked by FTS5's bm25 over rowid ranges:

Why partitions are exact: FTS5's bm25 takes the row count, the average row length and each
phrase's document count from the whole table whatever the WHERE clause, so a match scores the
same whether it is ranked with every match or only with those in its rowid range. Under the
total order (score, then step id) each partition's first k rows hold every row of the global
first k that falls in it; merging the partitions' first k and keeping k gives the global page.

Why processes, not threads: bm25 costs ~0.7 us a match (FTS5 looks up the row's size with a
nested statement for every match), so a term in half a million messages needs ~0.4 s of CPU.
sqlite3 releases the GIL, but two threads of one process contend on SQLite's process-wide
mutexes (its allocator statistics; perf: the mutex time doubles): on the 2-core bench machine
2 threads used ~40% more CPU than one and gained little wall time; 2 forked processes use
about the CPU of one (plus the second one's pass over each phrase's documents for the idf,
which every statement makes) and halve the wall time.

Forking is safe only where nothing else in this process holds a lock the child would need, so
it is done only when this process runs a single thread and the connection is outside a
transaction (a child must not inherit a read transaction's locks); otherwise (the app's worker
threads, a caller's open transaction) the ranking runs on the caller's connection alone.
Each child ranks its range in its own read transaction and reports a fingerprint of the index
it saw (FTS5's structure and averages records, rewritten by every change to the index); the
parent ranks its own range, and joins the page, in one read transaction of its own. A child whose
fingerprint differs (a write committed between the two transactions), or that fails in any way,
is not trusted: its range is ranked again by the parent. The outer ranges are open-ended, so a
match committed after the split points were chosen still falls in one of them.
"""

from __future__ import annotations

import heapq
import marshal
import os
import select
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from . import fts_sizes
from .db import db_path

# Fewer global matches than this: one connection ranks them (forking a child and the second
# pass over each phrase's document list that bm25 makes per statement cost ~2-5 ms, what
# ranking ~10k matches costs).
PARALLEL_MIN = 20_000
CHILD_GRACE_S = 10.0  # a child still ranking this long after the parent finished is killed
MAX_PARTS = 4  # more processes than cores gain nothing; each pays the per-statement idf pass
# Past this many matches a one-word query is ranked from the index's own records
# (search_tf, _by_frequencies): reading the word costs ~0.1 us a row plus ~25 ms of walking a
# thousand entries a page (fts5_doclist), and the sizes ~0.08 us a row of the table in a
# second process; FTS5's bm25 costs ~0.36 us a match over two. Fewer matches: FTS5 ranks.
TF_MIN_HITS = 100_000
_ENDS = ("SELECT (SELECT rowid FROM steps_fts WHERE steps_fts MATCH ?1 ORDER BY rowid LIMIT 1), "
         "(SELECT rowid FROM steps_fts WHERE steps_fts MATCH ?1 ORDER BY rowid DESC LIMIT 1)")
_AT_LEAST = "SELECT count(*) FROM (SELECT 1 FROM steps_fts WHERE steps_fts MATCH ? LIMIT ?)"


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def split(first: int, last: int, parts: int) -> list[tuple[int | None, int | None]]:
    """`parts` rowid ranges (lo, hi inclusive) cutting [first, last] evenly; the first range
    has no lower end and the last no upper end (None), so together they cover every rowid."""
    parts = max(1, min(parts, last - first + 1))
    step = (last - first + 1) / parts
    cuts = [first + int(step * i) for i in range(1, parts)]
    los: list[int | None] = [None, *cuts]
    his: list[int | None] = [c - 1 for c in cuts] + [None]
    return list(zip(los, his))


def rank_range(conn: sqlite3.Connection, q: str, k: int, run_id: str | None,
               lo: int | None, hi: int | None) -> list[tuple[int, float]]:
    """The first k (step id, bm25) of FTS query q with lo <= step id <= hi (None: open), in
    one run if run_id, by bm25 then step id. FTS5 walks only the range (the rowid bounds are
    its own); with a run, steps and episodes are joined after FTS5 to filter, and bm25 is
    computed for the run's matches alone."""
    sql = "SELECT steps_fts.rowid, bm25(steps_fts) FROM steps_fts "
    params: list[Any] = [q]
    where = "WHERE steps_fts MATCH ? "
    if run_id:  # CROSS JOIN keeps FTS5 the outer loop: one pass over its doclist
        sql += ("CROSS JOIN steps s ON s.step_id = steps_fts.rowid "
                "CROSS JOIN episodes e ON e.episode_id = s.episode_id ")
        where += "AND e.run_id = ? "
        params.append(run_id)
    if lo is not None:
        where += "AND steps_fts.rowid >= ? "
        params.append(lo)
    if hi is not None:
        where += "AND steps_fts.rowid <= ? "
        params.append(hi)
    return [(r[0], r[1]) for r in conn.execute(sql + where + "ORDER BY 2, 1 LIMIT ?",
                                               (*params, int(k)))]


def merge(parts: list[list[tuple[int, float]]], k: int) -> list[int]:
    """The first k step ids of the partitions' sorted lists, by (bm25, step id)."""
    rows = heapq.merge(*parts, key=lambda r: (r[1], r[0]))
    return [r[0] for _, r in zip(range(k), rows)]


class _Matches:
    """How many rows match q, counted no further than a question needs, and once: the first
    count below its limit is exact and answers every later question."""

    def __init__(self, conn: sqlite3.Connection, q: str):
        self.conn, self.q = conn, q
        self.known: tuple[int, int] | None = None  # (limit counted to, count)

    def at_least(self, n: int) -> bool:
        if self.known is not None:
            limit, count = self.known
            if count < limit or n <= limit:
                return count >= n
        count = self.conn.execute(_AT_LEAST, (self.q, n)).fetchall()[0][0]
        self.known = (n, count)
        return count >= n


def _fingerprint(conn: sqlite3.Connection) -> list:
    return [tuple(r) for r in conn.execute(fts_sizes.FINGERPRINT)]


def _single_threaded() -> bool:
    return threading.active_count() == 1


def _can_fork(conn: sqlite3.Connection) -> str:
    """The store's path when ranking may fork, else "". Linux only: macOS's system libraries
    are not all safe in a forked child (Python's own multiprocessing spawns there)."""
    if not sys.platform.startswith("linux") or conn.in_transaction or not _single_threaded():
        return ""
    return db_path(conn)


def _child(path: str, fd: int, work: Callable[[sqlite3.Connection], Any],
           setup: Callable[[sqlite3.Connection], None] | None = None) -> None:
    """In the forked child: run `work` on a fresh read-only connection (after `setup`, which
    may write the temp schema), in one read transaction, write (status, fingerprint, result) to
    fd with marshal, and leave without any cleanup of the parent's state (os._exit: no atexit,
    no flushing of inherited buffers, no connection close, which could try to checkpoint)."""
    code = 1
    try:
        try:
            c = sqlite3.connect(path, isolation_level=None, timeout=5.0)
            c.execute("BEGIN")
            if setup:
                setup(c)
            c.execute("PRAGMA query_only = ON")
            out = ("ok", _fingerprint(c), work(c))
            code = 0
        except BaseException as exc:  # noqa: BLE001 - the parent does this work itself
            out = ("failed", [], str(exc))
        data = marshal.dumps(out)
        while data:
            data = data[os.write(fd, data):]
    finally:
        os._exit(code)


def _fork(path: str, work: Callable[[sqlite3.Connection], Any],
          setup: Callable[[sqlite3.Connection], None] | None = None) -> tuple[int, int]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _child(path, w, work, setup)
    os.close(w)
    return pid, r


def _collect(pid: int, fd: int, deadline: float) -> tuple | None:
    """A child's (fingerprint, rows), or None when it failed, said nothing usable or was
    still at it at `deadline` (time.monotonic(); then it is killed)."""
    chunks = []
    try:
        while True:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                os.kill(pid, signal.SIGKILL)
                return None
            if not (chunk := os.read(fd, 1 << 20)):
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    try:
        status, fp, rows = marshal.loads(b"".join(chunks))
    except (EOFError, ValueError, TypeError):
        return None
    return (fp, rows) if status == "ok" else None


def _child_result(children: dict[int, tuple[int, int]], key: int, fp: list | None,
                  t0: float) -> Any:
    """What child `key` sent, or None when there is no such child, it failed, or it saw
    another snapshot than ours (fingerprint fp): the caller then does its work itself. It
    does about what this process did since t0: far past that, something is wrong with it."""
    if key not in children:
        return None
    deadline = time.monotonic() + max(CHILD_GRACE_S, 4 * (time.monotonic() - t0))
    got = _collect(*children.pop(key), deadline)
    return got[1] if got is not None and got[0] == fp else None


def _reap(children: dict[int, tuple[int, int]]) -> None:
    """Stop and reap every child still listed (an error, or a path given up)."""
    for pid, fd in children.values():
        os.close(fd)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    children.clear()


def _by_frequencies(conn: sqlite3.Connection, q: str, k: int, run_id: str | None, path: str,
                    own: bool, children: dict[int, tuple[int, int]],
                    matches: _Matches) -> list[int] | None:
    """The first k step ids by bm25 computed from the word's rows and occurrences, read from
    the index records, and the rows' sizes (store/search_tf.py): a forked child (when `path`)
    reads the sizes and FTS5's count of the word's rows and occurrences while this process
    reads the word. None, having begun no transaction of its own, when the query or the store
    does not qualify, the word is in fewer than TF_MIN_HITS rows, or the reads disagree
    (with each other or with FTS5's count): then FTS5's bm25 ranks. Not inside the caller's
    transaction (`own` false): its uncommitted writes to the index would be in FTS5's memory
    and its count, not in the records read here."""
    from . import fts5_doclist, search_tf  # numpy: loaded by ranked searches only

    word = search_tf.word_of(q)
    if not own or word is None or not search_tf.plain_index(conn) \
            or not fts5_doclist.readable(conn) or not search_tf.formula_is_fts5s():
        return None
    try:
        fts5_doclist.ensure_counts(conn)  # a temp table: refused under PRAGMA query_only
    except sqlite3.OperationalError:
        return None
    if not matches.at_least(TF_MIN_HITS):
        return None
    if run_id and search_tf.run_share(conn, run_id) * search_tf.RUN_CAP < 4 * k:
        return None  # the run's rows would be too few in the global order's head
    if path:  # before our read transaction, as for the bm25 ranges
        n_rows, total, ncol = fts_sizes.averages(conn)  # the sizes' read is chosen by N
        children[0] = _fork(path, lambda c: search_tf.sizes_for(c, q, word, n_rows, ncol),
                            fts5_doclist.ensure_counts)
    conn.execute("BEGIN")
    fp = _fingerprint(conn) if children else None
    t0 = time.monotonic()
    try:
        n_rows, total, ncol = fts_sizes.averages(conn)  # in our snapshot
        docs, tf = fts5_doclist.term_rows(conn, word)
        member = search_tf.in_run(conn, run_id) if run_id else None
        # the child's reads cost about what ours did
        got = _child_result(children, 0, fp, t0) or search_tf.sizes_for(conn, q, word,
                                                                          n_rows, ncol)
        if got[:2] != [len(docs), int(tf.sum())]:
            raise ValueError("the index records disagree with FTS5's count of the word")
        rowids = search_tf.rank((docs, tf), search_tf.sizes_of_rows(docs, got), n_rows, total,
                                k, member)
    except (ValueError, IndexError):  # records not as expected: FTS5 ranks
        rowids = None
        _reap(children)  # a read still running would compete with bm25's own children
    if rowids is None:
        conn.execute("COMMIT")  # the bm25 path forks before its own transaction
    return rowids


def _by_bm25(conn: sqlite3.Connection, q: str, k: int, run_id: str | None, path: str,
             own: bool, children: dict[int, tuple[int, int]], ends: tuple[int, int],
             parts: int | None, matches: _Matches) -> list[int]:
    """The first k step ids by FTS5's bm25 over rowid ranges, one per forked process (see the
    module docstring); begins our read transaction when `own`."""
    if parts is None:
        parts = 1
        if path and matches.at_least(PARALLEL_MIN):
            parts = min(MAX_PARTS, cores())
    ranges = split(*ends, parts)
    if path:  # before our read transaction: a child must not inherit its locks
        for i, rng in enumerate(ranges[1:], 1):
            children[i] = _fork(path, lambda c, r=rng: rank_range(c, q, k, run_id, *r))
    if own:
        conn.execute("BEGIN")
    fp = _fingerprint(conn) if children else None
    t0 = time.monotonic()
    results = [rank_range(conn, q, k, run_id, *ranges[0])]
    for i, rng in enumerate(ranges[1:], 1):  # a child ranks as much as we just did
        got = _child_result(children, i, fp, t0)
        results.append(rank_range(conn, q, k, run_id, *rng) if got is None
                       else [tuple(r) for r in got])
    return merge(results, k)


@contextmanager
def ranked_rowids(conn: sqlite3.Connection, q: str, k: int, run_id: str | None = None,
                  parts: int | None = None) -> Iterator[list[int]]:
    """Yields the first k step ids matching FTS query q (in one run if run_id) in bm25 order,
    ties by step id: exactly `ORDER BY bm25(steps_fts), rowid LIMIT k`. The body runs in the
    same read transaction as the ranking (the caller's, if one is open), so the page it joins
    is the one ranked. parts=None: a one-word query whose rows hold the word few times is
    ranked from its occurrences (_by_frequencies), else by FTS5's bm25 with one partition per
    core past PARALLEL_MIN matches; a number forces that many bm25 partitions (tests, bench),
    forked when forking is safe."""
    first, last = conn.execute(_ENDS, (q,)).fetchall()[0]
    if first is None:
        yield []
        return
    path = _can_fork(conn)
    children: dict[int, tuple[int, int]] = {}  # child's key -> (pid, read end)
    own = not conn.in_transaction
    matches = _Matches(conn, q)
    try:
        rowids = (_by_frequencies(conn, q, k, run_id, path, own, children, matches)
                  if parts is None else None)
        if rowids is None:
            rowids = _by_bm25(conn, q, k, run_id, path, own, children, (first, last), parts,
                              matches)
        yield rowids
    finally:
        _reap(children)  # only on an error: stop and reap the rest
        if own and conn.in_transaction:
            conn.execute("COMMIT")
