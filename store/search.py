"""Full-text search over message text, tool arguments and tool results (the `steps_fts` FTS5
index, external content over `steps`). `store.queries` re-exports `search` and `fts_query`.

Ranked search (issue 18) is exact: the page is the first of every match ordered by FTS5's bm25,
ties by step id. bm25 is computed inside FTS5 over rowids alone and SQLite's top-N sorter keeps
only the page's rows (`ORDER BY bm25(steps_fts), rowid LIMIT n`; FTS5's own `ORDER BY rank`
sorts every match); past `search_parts.PARALLEL_MIN` matches the rowids are cut into one range
per core, each ranked by its own process, and the pages merged (exact: bm25's statistics are
the whole table's whatever the range; see store/search_parts.py). A one-word query whose rows
hold the word a few times each is scored instead from its occurrences and the rows' sizes with
FTS5's formula, bit for bit (store/search_tf.py). Only the page is then joined to steps and
episodes and snippeted, in the same read transaction as the ranking.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from .db import StoreError
from .search_parts import ranked_rowids
from .writer import conn_of

SNIPPET_OPEN, SNIPPET_CLOSE = "\u00ab", "\u00bb"  # « » : plain text, never markup

_TOKEN = re.compile(r"\w+\*?", re.UNICODE)
_SNIPPET = f"snippet(steps_fts, -1, '{SNIPPET_OPEN}', '{SNIPPET_CLOSE}', '\u2026', 12) AS snippet "
_PAGE = ("SELECT s.episode_id, s.idx, s.step_id, e.run_id, e.task_id, s.role, " + _SNIPPET +
         "FROM steps_fts JOIN steps s ON s.step_id = steps_fts.rowid "
         "JOIN episodes e ON e.episode_id = s.episode_id ")


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
    Unranked hits come in storage order; `rank=True` is `ranked_search(...)`."""
    if rank:
        return ranked_search(db, query, limit=limit, offset=offset, run_id=run_id)
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
                  run_id: str | None = None, parts: int | None = None) -> list[dict]:
    """Hits ordered by relevance (FTS5 bm25, best first; ties by step id), optionally in one
    run: exactly the page of ranking every match. `parts` forces the number of rowid ranges
    ranked at once (tests, bench); None chooses by the number of matches and of cores."""
    q = fts_query(query)
    if not q:
        return []
    conn = conn_of(db)
    try:
        with ranked_rowids(conn, q, int(offset) + int(limit), run_id, parts) as rowids:
            hits: list[dict] = []
            for rowid in rowids[int(offset):]:  # the page alone is joined and snippeted
                hits += _rows(conn.execute(
                    _PAGE + "WHERE steps_fts MATCH ? AND steps_fts.rowid = ?", (q, rowid)))
    except sqlite3.OperationalError as exc:
        raise StoreError(f"search failed for {query!r}: {exc}") from None
    return hits
