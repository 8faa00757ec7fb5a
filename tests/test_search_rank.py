"""Ranked search (issue 18): FTS5 ranks rowids alone and only the page is joined, with the same
hits, order and snippets as ranking after the join."""

from __future__ import annotations

import pytest
from test_store_data import make_results, write_json

import store
from store import queries
from store.importers import import_path


def ranked_by_join(conn, query, limit, offset):
    """The definition: join every match, then sort by bm25 (what search did before)."""
    sql = ("SELECT s.episode_id, s.idx, snippet(steps_fts, -1, ?, ?, '\u2026', 12) "
           "FROM steps_fts JOIN steps s ON s.step_id = steps_fts.rowid "
           "JOIN episodes e ON e.episode_id = s.episode_id WHERE steps_fts MATCH ? "
           "ORDER BY bm25(steps_fts) LIMIT ? OFFSET ?")
    return [tuple(r) for r in conn.execute(sql, (queries.SNIPPET_OPEN, queries.SNIPPET_CLOSE,
                                                 queries.fts_query(query), limit, offset))]


@pytest.mark.parametrize("query,limit,offset", [("order", 5, 0), ("order", 7, 3),
                                                ("user", 50, 0), ("nothingmatches", 5, 0)])
def test_ranked_page_equals_ranking_after_the_join(tmp_path, query, limit, offset):
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, write_json(tmp_path / "r.json", make_results(12)))
    conn = store.queries.conn_of(db)
    got = [(h["episode_id"], h["idx"], h["snippet"])
           for h in queries.search(db, query, limit=limit, offset=offset, rank=True)]
    want = ranked_by_join(conn, query, limit, offset)
    assert got == want
    if query != "nothingmatches":
        assert len(got) == min(limit, len(ranked_by_join(conn, query, 10**6, 0)) - offset) > 0
