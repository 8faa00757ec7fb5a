"""Ranked search (issue 18): FTS5 ranks rowids alone (top-N sorter) and only the page is joined,
with the same hits, order and snippets as ranking after the join; past a bound only the newest
matches are ranked, and the CLI says so."""

from __future__ import annotations

import copy
import json
import random

import pytest
from click.testing import CliRunner
from test_store_data import make_results, write_json

import store
from store import queries
from store import search as search_mod
from store.importers import import_path
from t2e_tui.cli import cli

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


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rank")
    db = store.open_db(tmp / "s.sqlite")
    runs = [import_path(db, write_json(tmp / f"r{i}.json", varied(i)))["run_id"] for i in (1, 2)]
    return db, runs


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
    page = search_mod.ranked_search(db, query, limit=limit, offset=offset, bound=None)
    want = ranked_by_join(conn, query, limit, offset)
    assert page_of(page.hits) == want
    assert (page.ranked, page.matches) == (None, None)
    assert queries.search(db, query, limit=limit, offset=offset, rank=True) == page.hits
    if query != "nothingmatches":
        assert len(want) == min(limit, len(ranked_by_join(conn, query)) - offset) > 0


@pytest.mark.parametrize("limit,offset", [(10, 0), (5, 8)])
def test_ranked_in_one_run_equals_ranking_after_the_join(fx, limit, offset):
    db, runs = fx
    conn = queries.conn_of(db)
    for rid in runs:
        page = search_mod.ranked_search(db, "order", limit=limit, offset=offset, run_id=rid,
                                        bound=None)
        assert page_of(page.hits) == ranked_by_join(conn, "order", limit, offset, run_id=rid)
        assert page.hits and {h["run_id"] for h in page.hits} == {rid}


@pytest.mark.parametrize("run", [False, True])
def test_past_the_bound_the_newest_matches_are_ranked_and_counted(fx, run):
    db, runs = fx
    conn = queries.conn_of(db)
    rid = runs[0] if run else None
    every = [r[0] for r in conn.execute(
        "SELECT s.step_id FROM steps_fts JOIN steps s ON s.step_id = steps_fts.rowid "
        "JOIN episodes e ON e.episode_id = s.episode_id WHERE steps_fts MATCH 'order' "
        "AND (? IS NULL OR e.run_id = ?) ORDER BY s.step_id", (rid, rid))]
    bound = 20
    page = search_mod.ranked_search(db, "order", limit=8, offset=4, run_id=rid, bound=bound)
    newest = every[-bound]
    assert (page.ranked, page.matches) == (bound, len(every))
    assert page_of(page.hits) == ranked_by_join(conn, "order", 8, 4, run_id=rid,
                                                min_rowid=newest)
    # the bounded page is not the global one here (else this test could not tell them apart)
    assert page_of(page.hits) != ranked_by_join(conn, "order", 8, 4, run_id=rid)
    assert all(h["step_id"] >= newest for h in page.hits)
    # exactly at the bound nothing is left out
    exact = search_mod.ranked_search(db, "order", limit=8, offset=4, run_id=rid,
                                     bound=len(every))
    assert (exact.ranked, exact.matches) == (None, None)
    assert page_of(exact.hits) == ranked_by_join(conn, "order", 8, 4, run_id=rid)
    assert search_mod.ranked_search(db, "order", run_id="nope", bound=bound) == ([], None, None)


def test_the_cli_says_when_the_candidate_set_was_bounded(fx, monkeypatch):
    db, _ = fx
    path = str(db.conn.execute("PRAGMA database_list").fetchone()[2])
    n = len(ranked_by_join(queries.conn_of(db), "order"))
    monkeypatch.setattr(search_mod, "RANK_BOUND", 20)
    res = CliRunner().invoke(cli, ["--store", path, "search", "order", "--rank", "--json"])
    assert res.exit_code == 0, res.output
    assert f"ranked the newest 20 of {n} matches by relevance; --rank-all" in res.stderr
    got = [(h["episode_id"], h["idx"]) for h in json.loads(res.stdout)]
    assert len(got) == 20
    res = CliRunner().invoke(cli, ["--store", path, "search", "order", "--rank-all", "--json",
                                   "--limit", "30"])
    assert res.exit_code == 0 and res.stderr == "", res.output
    want = [w[:2] for w in ranked_by_join(queries.conn_of(db), "order", 30)]
    assert [(h["episode_id"], h["idx"]) for h in json.loads(res.stdout)] == want
    # a page past the ranked ones is empty, and says why rather than "no matches"
    res = CliRunner().invoke(cli, ["--store", path, "search", "order", "--rank", "--offset", "20"])
    assert res.exit_code == 0 and res.stdout.count("\n") == 1, res.output  # the header alone
    assert res.stderr.splitlines() == [
        f"ranked the newest 20 of {n} matches by relevance; --rank-all ranks every match "
        "(slower), more words or --run narrow the search",
        "no matches for 'order' past the first 20"]


def test_the_help_states_the_bound_in_force():
    res = CliRunner().invoke(cli, ["search", "--help"])
    assert f"{search_mod.RANK_BOUND:,}" in res.output.replace("\n", " ")


def test_a_bound_below_one_is_refused(fx):
    with pytest.raises(ValueError):
        search_mod.ranked_search(fx[0], "order", bound=0)
