"""Ranked search (issue 18): FTS5 ranks rowids alone (top-N sorter), over rowid partitions ranked
by forked processes and merged, and only the page is joined: the same hits, order and snippets
as ranking every match after the join, however the rowids are partitioned."""

from __future__ import annotations

import copy
import random

import pytest
from test_store_data import make_results, write_json

import store
from store import queries
from store import search as search_mod
from store.importers import import_path

FILLER = "please check the item and the address then confirm with the user today".split()


def varied(seed: int) -> dict:
    """A results file whose messages differ in length and in how often "order" occurs, so
    bm25's order is not storage order; some messages are identical, so ties exist."""
    rng = random.Random(seed)
    data = make_results(12)
    data["timestamp"] = f"2025-08-0{seed}T10:00:00"
    for sim in data["simulations"]:
        for m in sim["messages"]:
            if m["role"] == "tool" or m.get("tool_calls"):
                continue
            if rng.random() < 0.25:
                m["content"] = "order status"  # the tie group
                continue
            words = [rng.choice(FILLER) for _ in range(rng.randint(2, 30))]
            for _ in range(rng.randint(0, 4)):
                words.insert(rng.randint(0, len(words)), "order")
            m["content"] = " ".join(words)
    return copy.deepcopy(data)


def build_store(tmp):
    """Two imported runs of varied(): the store the ranked-search tests rank."""
    db = store.open_db(tmp / "s.sqlite")
    runs = [import_path(db, write_json(tmp / f"r{i}.json", varied(i)))["run_id"] for i in (1, 2)]
    return db, runs


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("rank"))


def ranked_by_join(conn, query, limit=10**6, offset=0, run_id=None, min_rowid=0):
    """The definition: join every match, then sort by bm25, ties by step id."""
    sql = ("SELECT s.episode_id, s.idx, snippet(steps_fts, -1, ?, ?, '\u2026', 12) "
           "FROM steps_fts JOIN steps s ON s.step_id = steps_fts.rowid "
           "JOIN episodes e ON e.episode_id = s.episode_id WHERE steps_fts MATCH ? "
           "AND s.step_id >= ? AND (? IS NULL OR e.run_id = ?) "
           "ORDER BY bm25(steps_fts), s.step_id LIMIT ? OFFSET ?")
    return [tuple(r) for r in conn.execute(sql, (
        queries.SNIPPET_OPEN, queries.SNIPPET_CLOSE, queries.fts_query(query), min_rowid,
        run_id, run_id, limit, offset))]


def page_of(hits):
    return [(h["episode_id"], h["idx"], h["snippet"]) for h in hits]


def test_the_fixture_can_catch_a_wrong_order(fx):
    """bm25 order is neither storage order nor its reverse, and there are ties, so a query
    that ranked wrongly (or broke ties differently) would fail the tests below."""
    db, _ = fx
    conn = queries.conn_of(db)
    want = ranked_by_join(conn, "order")
    stored = [tuple(r) for r in conn.execute(
        "SELECT s.episode_id, s.idx FROM steps_fts JOIN steps s ON s.step_id = steps_fts.rowid "
        "WHERE steps_fts MATCH 'order' ORDER BY s.step_id")]
    assert len(want) > 60
    ranked = [w[:2] for w in want]
    assert ranked != stored and ranked != stored[::-1] and sorted(ranked) == sorted(stored)
    scores = [r[0] for r in conn.execute(
        "SELECT bm25(steps_fts) FROM steps_fts WHERE steps_fts MATCH 'order'")]
    assert len(set(scores)) < len(scores)  # ties exist


@pytest.mark.parametrize("query,limit,offset", [("order", 5, 0), ("order", 7, 3),
                                                ("order", 50, 40), ("check order", 10, 0),
                                                ("user", 50, 0), ("nothingmatches", 5, 0)])
def test_ranked_page_equals_ranking_after_the_join(fx, query, limit, offset):
    db, _ = fx
    conn = queries.conn_of(db)
    page = search_mod.ranked_search(db, query, limit=limit, offset=offset)
    want = ranked_by_join(conn, query, limit, offset)
    assert page_of(page) == want
    assert queries.search(db, query, limit=limit, offset=offset, rank=True) == page
    if query != "nothingmatches":
        assert len(want) == min(limit, len(ranked_by_join(conn, query)) - offset) > 0


@pytest.mark.parametrize("limit,offset", [(10, 0), (5, 8)])
def test_ranked_in_one_run_equals_ranking_after_the_join(fx, limit, offset):
    db, runs = fx
    conn = queries.conn_of(db)
    for rid in runs:
        page = search_mod.ranked_search(db, "order", limit=limit, offset=offset, run_id=rid)
        assert page_of(page) == ranked_by_join(conn, "order", limit, offset, run_id=rid)
        assert page and {h["run_id"] for h in page} == {rid}


