"""Full-text search over message text, tool arguments and tool results (the `steps_fts` FTS5
index, external content over `steps`). `store.queries` re-exports `search` and `fts_query`.

Ranked search (issue 18). bm25 is computed inside FTS5 over rowids alone and ordered by
SQLite's top-N sorter (`ORDER BY bm25(steps_fts), rowid LIMIT n`: only n rows are kept, where
FTS5's own `ORDER BY rank` sorts every match), then only the page is joined to steps and
episodes and snippeted. Ties are broken by step id, so a page is deterministic.

What is left is FTS5's bm25 itself, ~0.6-0.9 us a match on the 2-core bench machine (the
position list and the document's size are read for every match): a term in a quarter of a
million messages cannot be ranked in 150 ms. So a query with more than RANK_BOUND matches
ranks only the newest RANK_BOUND of them (the highest step ids: the last imported runs), and
`ranked_search` says how many were ranked out of how many. The scores are the global ones
(FTS5 computes idf and the average length over the whole table), only the candidate set is
bounded; `bound=None` ranks every match.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any, NamedTuple

from .db import StoreError
from .writer import conn_of

SNIPPET_OPEN, SNIPPET_CLOSE = "\u00ab", "\u00bb"  # « » : plain text, never markup

# Matches ranked exactly before the candidate set is bounded. bench/scale.py search: ranking
# 100k matches of a common term costs ~80 ms CPU on the bench machine, leaving room for the
# count, the cutoff and the page under the 150 ms.
RANK_BOUND = 100_000

_TOKEN = re.compile(r"\w+\*?", re.UNICODE)
_SNIPPET = f"snippet(steps_fts, -1, '{SNIPPET_OPEN}', '{SNIPPET_CLOSE}', '\u2026', 12) AS snippet "
_PAGE = ("SELECT s.episode_id, s.idx, s.step_id, e.run_id, e.task_id, s.role, " + _SNIPPET +
         "FROM steps_fts JOIN steps s ON s.step_id = steps_fts.rowid "
         "JOIN episodes e ON e.episode_id = s.episode_id ")


class RankedPage(NamedTuple):
    """One page of ranked hits. `ranked` is None when every match was ranked; otherwise only
    the newest `ranked` of `matches` matches were (see RANK_BOUND)."""

    hits: list[dict]
    ranked: int | None = None
    matches: int | None = None


def _rows(cur: sqlite3.Cursor) -> list[dict]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def fts_query(text: str) -> str:
    """A user's search text as a safe FTS5 query: every word quoted (so `"`, `-`, `:`, `AND`
    and column filters are just text), words ANDed, a trailing `*` kept as a prefix search."""
    terms = []
    for tok in _TOKEN.findall(text or ""):
        star = tok.endswith("*")
        word = tok.rstrip("*")
        if word:
            terms.append(f'"{word}"' + ("*" if star else ""))
    return " ".join(terms)


def search(db: Any, query: str, limit: int = 50, offset: int = 0, rank: bool = False,
           run_id: str | None = None) -> list[dict]:
    """Full-text search over message text, tool arguments and tool results. Hits carry
    episode_id, idx, step_id, run_id, task_id, role and a snippet (matches inside « »).
    Unranked hits come in storage order; `rank=True` is `ranked_search(...).hits`."""
    if rank:
        return ranked_search(db, query, limit=limit, offset=offset, run_id=run_id).hits
    q = fts_query(query)
    if not q:
        return []
    where_run = "AND e.run_id = ?" if run_id else ""
    params: list[Any] = [q] + ([run_id] if run_id else []) + [int(limit), int(offset)]
    try:
        return _rows(conn_of(db).execute(
            _PAGE + f"WHERE steps_fts MATCH ? {where_run} LIMIT ? OFFSET ?", params))
    except sqlite3.OperationalError as exc:  # should not happen after fts_query; say so
        raise StoreError(f"search failed for {query!r}: {exc}") from None


def ranked_search(db: Any, query: str, limit: int = 50, offset: int = 0,
                  run_id: str | None = None, bound: int | None = RANK_BOUND) -> RankedPage:
    """Hits ordered by relevance (FTS5 bm25, best first; ties by step id), optionally in one
    run. With more than `bound` matches only the newest `bound` are ranked (None: all)."""
    if bound is not None and bound < 1:
        raise ValueError(f"bound must be at least 1, not {bound}")
    q = fts_query(query)
    if not q:
        return RankedPage([])
    conn = conn_of(db)
    # The matches as rowids; with a run, steps and episodes are joined only to filter.
    source = "FROM steps_fts "
    where = "WHERE steps_fts MATCH ? "
    params: list[Any] = [q]
    if run_id:
        source += ("JOIN steps s ON s.step_id = steps_fts.rowid "
                   "JOIN episodes e ON e.episode_id = s.episode_id ")
        where += "AND e.run_id = ? "
        params.append(run_id)
    try:
        ranked = matches = None
        # Counting is ~15x cheaper than ranking: a store with few matches skips the rest.
        total = conn.execute("SELECT count(*) FROM steps_fts WHERE steps_fts MATCH ?",
                             (q,)).fetchone()[0] if bound is not None else 0
        if bound is not None and total > bound:
            if run_id:  # FTS5 walks only the run's step ids; the join still filters by run
                lo, hi = conn.execute(
                    "SELECT min(s.step_id), max(s.step_id) FROM episodes e JOIN steps s "
                    "ON s.episode_id = e.episode_id WHERE e.run_id = ?", (run_id,)).fetchone()
                if lo is None:
                    return RankedPage([])
                where += "AND steps_fts.rowid BETWEEN ? AND ? "
                params += [lo, hi]
            # FTS5 walks a doclist backwards cheaply: the bound-th newest match is the cutoff.
            cut = conn.execute(f"SELECT steps_fts.rowid {source}{where}ORDER BY steps_fts.rowid "
                               "DESC LIMIT 1 OFFSET ?", (*params, int(bound) - 1)).fetchone()
            if cut is not None:
                matches = total if not run_id else conn.execute(
                    f"SELECT count(*) {source}{where}", params).fetchone()[0]
                if matches > bound:
                    ranked = int(bound)
                    where += "AND steps_fts.rowid >= ? "
                    params.append(cut[0])
                else:
                    matches = None
        page = [r[0] for r in conn.execute(
            f"SELECT steps_fts.rowid {source}{where}ORDER BY bm25(steps_fts), steps_fts.rowid "
            "LIMIT ? OFFSET ?", (*params, int(limit), int(offset)))]
        hits: list[dict] = []
        for rowid in page:  # the page alone is joined and snippeted, in rank order
            hits += _rows(conn.execute(_PAGE + "WHERE steps_fts MATCH ? AND steps_fts.rowid = ?",
                                       (q, rowid)))
    except sqlite3.OperationalError as exc:
        raise StoreError(f"search failed for {query!r}: {exc}") from None
    return RankedPage(hits, ranked, matches)
