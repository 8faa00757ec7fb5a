"""Ranked search from a word's occurrences (issue 18, store/search_tf.py, read from the index
records by store/fts5_doclist.py): the scores are FTS5's bm25 bit for bit, and the page is the
one of ranking every match after the join, with ties, the word in both columns, a run filter,
deleted and rewritten rows, forked or not; queries the path cannot prove (several words, a
prefix, non-ASCII), words in few rows and reads that disagree are left to FTS5's bm25."""

from __future__ import annotations

import os

import pytest
from test_search_parts import forks, reaped  # noqa: F401 - forks is a fixture
from test_search_rank import page_of, ranked_by_join, varied
from test_store_data import write_json

import store
from store import fts5_doclist, fts_sizes, queries, search_tf
from store import search as search_mod
from store import search_parts as parts_mod
from store.importers import import_path

WORDS = ("order", "user", "status", "check", "the", "confirm")


def with_calls(seed: int) -> dict:
    """varied(seed) whose tool-calling messages also say "order" (1-3 times) in their text
    and in their call's arguments: the word in both columns of a row."""
    data = varied(seed)
    for n, m in enumerate(m for sim in data["simulations"] for m in sim["messages"]
                          if m.get("tool_calls")):
        m["content"] = "the user asked about the order " + "order " * (n % 3)
        m["tool_calls"][0]["arguments"]["note"] = "order " * (1 + n % 2)
    return data


def build(tmp, seeds=(1, 2)):
    db = store.open_db(tmp / "s.sqlite")
    runs = [import_path(db, write_json(tmp / f"r{i}.json", with_calls(i)))["run_id"]
            for i in seeds]
    return db, runs


@pytest.fixture(autouse=True)
def _formula_checked_by_the_real_reader(monkeypatch):
    """search_tf checks its formula once per process and keeps the answer: asked first inside
    a test whose index reader miscounts on purpose, it kept False for every later test of the
    worker (the tests that want the occurrence path failed, by order). Each test here starts
    with the answer of the real reader and leaves the process's answer as it found it."""
    monkeypatch.setattr(search_tf, "_formula_ok", search_tf.formula_is_fts5s())


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return build(tmp_path_factory.mktemp("tf"))


@pytest.fixture
def by_tf(monkeypatch):
    """Take the occurrence path for any word, however few its rows, and count the pages it
    ranked."""
    monkeypatch.setattr(parts_mod, "TF_MIN_HITS", 1)
    ranked = []
    real = search_tf.rank

    def counted(*args):
        out = real(*args)
        ranked.append(out)
        return out

    monkeypatch.setattr(search_tf, "rank", counted)
    return ranked


def fts5_scores(conn, word):
    return conn.execute("SELECT rowid, bm25(steps_fts) FROM steps_fts WHERE steps_fts MATCH ? "
                        "ORDER BY rowid", (f'"{word}"',)).fetchall()


def term_rows(conn, word):
    conn.execute("BEGIN")
    try:
        return fts5_doclist.term_rows(conn, word)
    finally:
        conn.execute("COMMIT")


def our_scores(conn, word):
    docs, tf = term_rows(conn, word)
    n_rows, total, ncol = fts_sizes.averages(conn)
    sizes = search_tf.row_sizes(conn, f'"{word}"', ncol)
    return list(zip(docs.tolist(), search_tf.bm25(tf, sizes, n_rows, total, len(docs)).tolist()))


def test_the_fixture_has_ties_and_the_word_in_both_columns(fx):
    db, _ = fx
    conn = queries.conn_of(db)
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.inst "
                 "USING fts5vocab(main, steps_fts, instance)")
    cols = {r[0] for r in conn.execute("SELECT col FROM temp.inst WHERE term = 'order'")}
    both = conn.execute(
        "SELECT count(*) FROM (SELECT doc FROM temp.inst WHERE term = 'order' "
        "GROUP BY doc HAVING count(DISTINCT col) = 2)").fetchone()[0]
    assert cols == {"content", "tool_calls"} and both > 0
    scores = [s for _, s in fts5_scores(conn, "order")]
    assert len(set(scores)) < len(scores)
    tfs = term_rows(conn, "order")[1]
    assert tfs.min() == 1 and tfs.max() >= 4  # rows hold the word a varying number of times


@pytest.mark.parametrize("word", WORDS)
def test_scores_are_fts5s_bit_for_bit(fx, word):
    db, _ = fx
    conn = queries.conn_of(db)
    want = fts5_scores(conn, word)
    assert len(want) > 5 and our_scores(conn, word) == want


def test_a_formula_off_by_a_little_is_caught(fx, monkeypatch):
    """k1 of 1.2000001 in place of 1.2: the scores differ from FTS5's, and the once-per-process
    check says so (the callers then leave the ranking to FTS5)."""
    db, _ = fx
    conn = queries.conn_of(db)
    assert search_tf._check_formula()
    monkeypatch.setattr(search_tf, "K1", 1.2000001)
    assert our_scores(conn, "order") != fts5_scores(conn, "order")
    assert not search_tf._check_formula()


@pytest.mark.parametrize("fork", [False, True])
@pytest.mark.parametrize("query,limit,offset,run", [
    ("order", 10, 0, None), ("Order", 7, 33, None), ("user", 50, 0, None),
    ("status", 5, 0, 0), ("order", 20, 3, 1), ("check", 1000, 0, None)])
def test_the_page_equals_ranking_after_the_join(fx, by_tf, forks, monkeypatch,  # noqa: F811
                                               fork, query, limit, offset, run):
    db, runs = fx
    if not fork:
        monkeypatch.setattr(parts_mod, "_single_threaded", lambda: False)
    rid = runs[run] if run is not None else None
    page = search_mod.ranked_search(db, query, limit=limit, offset=offset, run_id=rid)
    want = ranked_by_join(queries.conn_of(db), query, limit, offset, run_id=rid)
    assert page_of(page) == want and len(want) > 0
    assert len(by_tf) == 1 and by_tf[0] is not None  # ranked from the occurrences
    assert len(forks) == (1 if fork else 0) and all(reaped(p) for p in forks)
    assert not queries.conn_of(db).in_transaction


@pytest.mark.parametrize("query", ["check order", "ord*", "order*", "caf\u00e9", "order_id"])
def test_queries_it_cannot_prove_are_ranked_by_fts5(fx, by_tf, query):
    db, _ = fx
    page = search_mod.ranked_search(db, query, limit=10)
    assert page_of(page) == ranked_by_join(queries.conn_of(db), query, 10)
    assert by_tf == []


@pytest.mark.parametrize("trouble", ["fails", "another snapshot"])
def test_a_child_that_is_not_trusted_is_redone_here(fx, by_tf, forks, monkeypatch,  # noqa: F811
                                                    trouble):
    db, _ = fx
    parent = os.getpid()
    reads = []
    real = search_tf.sizes_for

    def sizes(conn, *args):
        if os.getpid() != parent and trouble == "fails":
            raise RuntimeError("boom")
        if os.getpid() == parent:
            reads.append(args[1])
        return real(conn, *args)

    monkeypatch.setattr(search_tf, "sizes_for", sizes)
    if trouble == "another snapshot":
        real_fp = parts_mod._fingerprint
        monkeypatch.setattr(parts_mod, "_fingerprint", lambda c: real_fp(c) + [(
            os.getpid(), b"")] if os.getpid() != parent else real_fp(c))
    page = search_mod.ranked_search(db, "order", limit=25)
    assert page_of(page) == ranked_by_join(queries.conn_of(db), "order", 25)
    assert reads == ["order"] and len(forks) == 1 and all(reaped(p) for p in forks)
    assert by_tf and by_tf[-1] is not None


def test_deleted_and_rewritten_rows(tmp_path, by_tf):
    """A deleted run and rewritten messages change the row count, the average length, the
    word's rows and their occurrences: the occurrence path still gives FTS5's scores."""
    db, runs = build(tmp_path, (1, 2, 3))
    conn = queries.conn_of(db)
    before = fts5_scores(conn, "order")
    queries.delete_run(db, runs[1])
    ids = [r[0] for r in conn.execute("SELECT step_id FROM steps WHERE content LIKE '%order%' "
                                      "ORDER BY step_id LIMIT 12")]
    with conn:
        for i, sid in enumerate(ids):
            conn.execute("INSERT INTO steps_fts (steps_fts, rowid, content, tool_calls) SELECT "
                         "'delete', step_id, content, tool_calls FROM steps WHERE step_id = ?",
                         (sid,))
            text = "order " * (i % 5) + "nothing here" * (i % 2)
            conn.execute("UPDATE steps SET content = ? WHERE step_id = ?", (text, sid))
            conn.execute("INSERT INTO steps_fts (rowid, content, tool_calls) SELECT step_id, "
                         "content, tool_calls FROM steps WHERE step_id = ?", (sid,))
    after = fts5_scores(conn, "order")
    assert after != before and our_scores(conn, "order") == after
    for rid in (None, runs[0]):
        page = search_mod.ranked_search(db, "order", limit=30, run_id=rid)
        assert page_of(page) == ranked_by_join(conn, "order", 30, run_id=rid)
    assert len(by_tf) == 2 and None not in by_tf


def test_a_word_in_few_rows_is_left_to_fts5(fx, monkeypatch):
    """Below TF_MIN_HITS rows FTS5's bm25 costs less than reading the word's records."""
    db, _ = fx
    conn = queries.conn_of(db)
    hits = conn.execute("SELECT count(*) FROM steps_fts WHERE steps_fts MATCH '\"order\"'"
                        ).fetchone()[0]
    ranked = []
    real = search_tf.rank
    monkeypatch.setattr(search_tf, "rank", lambda *a: ranked.append(1) or real(*a))
    for least, want_tf in ((hits, 1), (hits + 1, 0)):
        monkeypatch.setattr(parts_mod, "TF_MIN_HITS", least)
        ranked.clear()
        page = search_mod.ranked_search(db, "order", limit=10)
        assert page_of(page) == ranked_by_join(conn, "order", 10) and len(ranked) == want_tf


@pytest.mark.parametrize("fork", [False, True])
@pytest.mark.parametrize("wrong", ["a row's count", "a row too many"])
def test_records_read_wrong_are_caught_by_fts5s_count(fx, by_tf, forks, monkeypatch,  # noqa: F811
                                                      fork, wrong):
    """An index reader that miscounted (a store whose records differ from what it expects)
    disagrees with FTS5's own count of the word's rows and occurrences: FTS5 ranks."""
    import numpy as np

    db, _ = fx
    if not fork:
        monkeypatch.setattr(parts_mod, "_single_threaded", lambda: False)
    real = fts5_doclist.term_rows

    def miscounted(conn, word):
        docs, tf = real(conn, word)
        if wrong == "a row's count":
            return docs, tf + (np.arange(len(tf)) == 3)
        return np.append(docs, docs[-1] + 1), np.append(tf, 1)

    monkeypatch.setattr(fts5_doclist, "term_rows", miscounted)
    page = search_mod.ranked_search(db, "order", limit=20, offset=1)
    assert page_of(page) == ranked_by_join(queries.conn_of(db), "order", 20, 1)
    assert by_tf == [] and all(reaped(p) for p in forks)
    assert not queries.conn_of(db).in_transaction


@pytest.mark.parametrize("dense", [True, False])
def test_sizes_from_the_whole_table_or_the_matches(tmp_path, by_tf, monkeypatch, dense):
    """Past SCAN_SHARE of the rows the sizes come from one pass over docsize, indexed by id;
    a docsize table with gaps (a deleted run) is joined to the matches instead."""
    db, runs = build(tmp_path, (1, 2, 3))
    if not dense:
        queries.delete_run(db, runs[1])  # a gap in the middle of the ids
    conn = queries.conn_of(db)
    monkeypatch.setattr(search_tf, "SCAN_SHARE", 0.0)
    n_rows, _, ncol = fts_sizes.averages(conn)
    whole = search_tf.all_sizes(conn, ncol)
    assert (whole is not None) is dense
    fts5_doclist.ensure_counts(conn)
    got = search_tf.sizes_for(conn, '"order"', "order", n_rows, ncol)
    assert (got[2] is not None) is dense
    docs, _ = term_rows(conn, "order")
    assert search_tf.sizes_of_rows(docs, got).tolist() == search_tf.row_sizes(
        conn, '"order"', ncol).tolist()
    page = search_mod.ranked_search(db, "order", limit=15)
    assert page_of(page) == ranked_by_join(conn, "order", 15) and by_tf[-1] is not None


@pytest.mark.parametrize("options,plain", [
    ("", True), (", content='steps', content_rowid='step_id'", True),
    (", tokenize='porter'", False), (", detail=column", False), (", columnsize=0", False)])
def test_only_the_default_index_qualifies(options, plain):
    import sqlite3

    c = sqlite3.connect(":memory:")
    c.execute(f"CREATE VIRTUAL TABLE steps_fts USING fts5(content, tool_calls{options})")
    assert search_tf.plain_index(c) is plain


def test_word_of():
    assert search_tf.word_of('"Order"') == "order"
    assert search_tf.word_of('"a1"') == "a1"
    for q in ('"order" "id"', '"ord"*', '"caf\u00e9"', '"order_id"', ""):
        assert search_tf.word_of(q) is None


def test_varints():
    blob = bytes([5, 0x81, 0x00, 0x7F, 0xFF, 0x7F, 0x82, 0x80, 0x01])
    assert search_tf.varints(blob).tolist() == [5, 128, 127, 16383, 32769]


def test_records_that_do_not_parse_leave_the_ranking_to_fts5(fx, by_tf, monkeypatch):
    db, _ = fx
    monkeypatch.setattr(parts_mod, "_single_threaded", lambda: False)

    def bad(conn, word):
        raise ValueError("doclist entries do not end where the pages say")

    monkeypatch.setattr(fts5_doclist, "term_rows", bad)
    page = search_mod.ranked_search(db, "order", limit=12, offset=2)
    assert page_of(page) == ranked_by_join(queries.conn_of(db), "order", 12, 2)
    assert by_tf == [] and not queries.conn_of(db).in_transaction


def test_records_that_do_not_parse_stop_the_child(fx, by_tf, forks, monkeypatch):  # noqa: F811
    """The sizes are read in a forked child while this process reads the word: when the word's
    records do not parse, the child is stopped before FTS5's ranking forks its own (left
    reading, it would compete for the same cores)."""
    db, _ = fx
    assert search_tf.formula_is_fts5s()  # checked (once a process) with the real reader

    def bad(conn, word):
        raise ValueError("doclist entries do not end where the pages say")

    monkeypatch.setattr(fts5_doclist, "term_rows", bad)
    left = []
    real = parts_mod._by_bm25

    def spy(conn, q, k, run_id, path, own, children, *rest):
        left.append((len(forks), dict(children)))
        return real(conn, q, k, run_id, path, own, children, *rest)

    monkeypatch.setattr(parts_mod, "_by_bm25", spy)
    page = search_mod.ranked_search(db, "order", limit=12, offset=2)
    assert page_of(page) == ranked_by_join(queries.conn_of(db), "order", 12, 2)
    assert left == [(1, {})] and by_tf == []  # the child was forked, and stopped
    assert all(reaped(p) for p in forks)


@pytest.mark.parametrize("cap,by_occurrences", [(1 << 16, True), (8, False)])
def test_a_run_with_few_of_the_matches(fx, by_tf, monkeypatch, cap, by_occurrences):
    """The global order is tested for membership in growing heads (256, 1024, ... rows); a run
    holding few matches needs a longer head, and past RUN_CAP FTS5 ranks the run's matches."""
    db, runs = fx
    monkeypatch.setattr(search_tf, "RUN_CAP", cap)
    tested = []
    real = search_tf.in_run

    def counting(conn, rid):
        member = real(conn, rid)
        return lambda ids: tested.append(len(ids)) or member(ids)

    monkeypatch.setattr(search_tf, "in_run", counting)
    for limit, offset in ((5, 0), (20, 30)):
        page = search_mod.ranked_search(db, "order", limit=limit, offset=offset, run_id=runs[1])
        want = ranked_by_join(queries.conn_of(db), "order", limit, offset, run_id=runs[1])
        assert page_of(page) == want and len(want) == limit
    assert (bool(by_tf) and by_tf[-1] is not None) is by_occurrences
    assert bool(tested) is by_occurrences and all(n <= cap for n in tested)


def test_members_in_global_order(monkeypatch):
    import numpy as np

    monkeypatch.setattr(search_tf, "RUN_HEAD", 1)
    heads = []

    scores = np.array([-3.0, -1.0, -3.0, -2.0, -1.0, -5.0])
    rowids = np.array([10, 11, 12, 13, 14, 15])
    odd = lambda ids: heads.append(len(ids)) or ids % 2 == 1  # noqa: E731
    assert search_tf.first_k_members(scores, rowids, 1, odd) == [15]
    assert search_tf.first_k_members(scores, rowids, 2, odd) == [15, 13] and heads == [4, 6]
    heads.clear()  # 11 is fifth in the global order: the head of 4 grows to all 6
    assert search_tf.first_k_members(scores, rowids, 1, lambda ids: heads.append(
        len(ids)) or ids == 11) == [11] and heads == [4, 6]
    assert search_tf.first_k_members(scores, rowids, 9, odd) == [15, 13, 11]
    assert search_tf.first_k_members(scores, rowids, 3, lambda ids: ids > 99) == []
    monkeypatch.setattr(search_tf, "RUN_CAP", 5)  # the head would outgrow the cap: FTS5 ranks
    assert search_tf.first_k_members(scores, rowids, 1, lambda ids: ids == 11) is None


def test_pack_keeps_every_value():
    import numpy as np

    for docs in ([3, 7, 300, 70_000, 5_000_000_000], [1], []):
        arrays = [np.array(docs, dtype=np.int64), np.arange(len(docs), dtype=np.int64) * 40]
        back = search_tf.unpack(search_tf.pack(arrays))
        assert [a.tolist() for a in back] == [a.tolist() for a in arrays]
        assert all(a.dtype == np.int64 for a in back)


def test_not_inside_the_callers_write_transaction(tmp_path, by_tf):
    """The reviewer's case: inside the caller's transaction, rewritten rows keep each word's
    row and occurrence totals (so FTS5's count agrees) but move occurrences between rows; FTS5
    holds them in memory, not in the records read. The page must be FTS5's: the path is not
    taken there."""
    import sqlite3

    from store import search_parts

    c = sqlite3.connect(str(tmp_path / "t.sqlite"), isolation_level=None)
    c.execute("CREATE VIRTUAL TABLE steps_fts USING fts5(content, tool_calls)")
    c.executemany("INSERT INTO steps_fts(content) VALUES (?)",
                  [("order order p",), ("order q",)] + [(f"filler {i}",) for i in range(20)])
    c.execute("BEGIN")
    c.execute("UPDATE steps_fts SET content = 'order p q' WHERE rowid = 1")
    c.execute("UPDATE steps_fts SET content = 'order order' WHERE rowid = 2")
    with search_parts.ranked_rowids(c, '"order"', 2) as got:
        pass
    with search_parts.ranked_rowids(c, '"order"', 2, parts=1) as want:
        pass
    assert got == want == [2, 1] and by_tf == [] and c.in_transaction
    c.execute("COMMIT")
    with search_parts.ranked_rowids(c, '"order"', 2) as got:
        pass
    assert got == [2, 1] and len(by_tf) == 1  # outside it, the path is taken
