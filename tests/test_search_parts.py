"""Exact ranked search over rowid partitions (issue 18): whatever the partitions (tiny ones,
more than the matches, forked or ranked in this process), with a run filter, several words, a
prefix and any page, the page is the one of ranking every match after the join. A child that
fails, hangs or saw another snapshot is ranked again by the parent; the CLI's --rank is exact."""

from __future__ import annotations

import json
import os
import time

import pytest
from click.testing import CliRunner
from test_search_rank import build_store, page_of, ranked_by_join

from store import queries
from store import search as search_mod
from store import search_parts as parts_mod
from t2e_tui.cli import cli

PARENT = os.getpid()


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("parts"))


@pytest.fixture
def forks(monkeypatch):
    """Let ranking fork (pytest-xdist's worker runs a second thread, which no SQLite call of
    this test shares) and record each child's pid."""
    pids: list[int] = []
    real = parts_mod._fork

    def counted(*args):
        pid, fd = real(*args)
        pids.append(pid)
        return pid, fd

    monkeypatch.setattr(parts_mod, "_single_threaded", lambda: True)
    monkeypatch.setattr(parts_mod, "_fork", counted)
    return pids


def reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def match_ends(conn, query="order"):
    return conn.execute(parts_mod._ENDS, (queries.fts_query(query),)).fetchone()


def test_the_fixture_can_catch_a_wrong_merge(fx):
    """Split in two, the best page takes rows from both halves, interleaved, and a group of
    tied scores spans the cut: concatenating the halves, or merging ties by anything but the
    step id, would give another page."""
    db, _ = fx
    conn = queries.conn_of(db)
    first, last = match_ends(conn)
    (_, cut), _ = parts_mod.split(first, last, 2)
    rows = conn.execute("SELECT rowid, bm25(steps_fts) FROM steps_fts WHERE steps_fts MATCH "
                        "'order' ORDER BY 2, 1").fetchall()
    halves = [r[0] <= cut for r in rows[:30]]
    assert any(halves) and not all(halves)
    assert halves != sorted(halves, reverse=True)  # not all of the first half, then the second
    groups: dict[float, list[int]] = {}
    for rowid, score in rows:
        groups.setdefault(score, []).append(rowid)
    assert any(min(g) <= cut < max(g) for g in groups.values())


@pytest.mark.parametrize("fork", [False, True])
@pytest.mark.parametrize("parts", [2, 3, 7, 500])
@pytest.mark.parametrize("query,limit,offset,run", [
    ("order", 10, 0, None), ("order", 7, 33, None), ("check order", 10, 0, None),
    ("ord*", 12, 5, None), ("user", 50, 0, None), ("order", 9, 2, 0), ("order", 20, 0, 1),
    ("nothingmatches", 5, 0, None)])
def test_partitioned_page_equals_ranking_after_the_join(fx, forks, monkeypatch, fork, parts,
                                                        query, limit, offset, run):
    db, runs = fx
    if not fork:
        monkeypatch.setattr(parts_mod, "_single_threaded", lambda: False)
    rid = runs[run] if run is not None else None
    page = search_mod.ranked_search(db, query, limit=limit, offset=offset, run_id=rid,
                                    parts=parts)
    want = ranked_by_join(queries.conn_of(db), query, limit, offset, run_id=rid)
    assert page_of(page) == want
    if query == "nothingmatches":
        assert want == [] and forks == []
        return
    assert len(want) == limit
    first, last = match_ends(queries.conn_of(db), query)
    assert len(forks) == (len(parts_mod.split(first, last, parts)) - 1 if fork else 0)
    assert all(reaped(pid) for pid in forks) and (forks or not fork)


def test_many_matches_fork_one_process_per_core(fx, forks, monkeypatch):
    db, _ = fx
    monkeypatch.setattr(parts_mod, "PARALLEL_MIN", 1)
    monkeypatch.setattr(parts_mod, "cores", lambda: 2)
    page = search_mod.ranked_search(db, "order", limit=15)
    assert page_of(page) == ranked_by_join(queries.conn_of(db), "order", 15)
    assert len(forks) == 1
    monkeypatch.setattr(parts_mod, "PARALLEL_MIN", 10**9)  # few matches: no child
    assert search_mod.ranked_search(db, "order", limit=15) == page and len(forks) == 1


def rank_range_counted(monkeypatch, child_does=None):
    """Counts rank_range calls in this process; in a child runs child_does first."""
    calls = []
    real = parts_mod.rank_range

    def wrapped(*args):
        if os.getpid() != PARENT:
            if child_does:
                child_does()
        else:
            calls.append(args[4:])
        return real(*args)

    monkeypatch.setattr(parts_mod, "rank_range", wrapped)
    return calls


def _raise():
    raise RuntimeError("boom")


def _hang():
    time.sleep(60)


@pytest.mark.parametrize("trouble", ["another snapshot", "fails", "hangs", "none"])
def test_a_child_that_is_not_trusted_is_ranked_again_here(fx, forks, monkeypatch, trouble):
    db, _ = fx
    if trouble == "another snapshot":
        real = parts_mod._fingerprint
        monkeypatch.setattr(parts_mod, "_fingerprint", lambda c: real(c) + [(
            os.getpid(), b"")] if os.getpid() != PARENT else real(c))
    monkeypatch.setattr(parts_mod, "CHILD_GRACE_S", 0.5)
    calls = rank_range_counted(monkeypatch, {"fails": _raise, "hangs": _hang}.get(trouble))
    t0 = time.monotonic()
    page = search_mod.ranked_search(db, "order", limit=25, offset=3, parts=3)
    assert time.monotonic() - t0 < 20
    assert page_of(page) == ranked_by_join(queries.conn_of(db), "order", 25, 3)
    assert len(forks) == 2 and all(reaped(pid) for pid in forks)
    assert len(calls) == (1 if trouble == "none" else 3)  # our range, then the children's


def test_a_match_past_the_planned_ends_is_still_ranked(fx, monkeypatch):
    """The split points come from a read before the ranking's transaction: a match committed
    in between must still fall in a range. Planned ends that stop halfway stand in for that."""
    db, _ = fx
    conn = queries.conn_of(db)
    first, last = match_ends(conn)
    real = parts_mod.split
    monkeypatch.setattr(parts_mod, "split", lambda a, b, n: real(a, (a + b) // 2, n))
    page = search_mod.ranked_search(db, "order", limit=40, parts=3)
    assert page_of(page) == ranked_by_join(conn, "order", 40)
    assert max(h["step_id"] for h in page) > (first + last) // 2


def test_inside_a_callers_transaction_nothing_forks(fx, forks):
    db, _ = fx
    conn = queries.conn_of(db)
    conn.execute("BEGIN")
    try:
        page = search_mod.ranked_search(db, "order", limit=10, parts=3)
        assert conn.in_transaction  # the caller's transaction is left open
    finally:
        conn.execute("COMMIT")
    assert page_of(page) == ranked_by_join(conn, "order", 10) and forks == []


def test_a_query_fts5_rejects_gives_the_same_error(fx, forks, monkeypatch):
    db, _ = fx
    monkeypatch.setattr(search_mod, "fts_query", lambda text: '"order" AND')
    messages = []
    for parts in (1, 3, None):
        with pytest.raises(search_mod.StoreError) as err:
            search_mod.ranked_search(db, "order", parts=parts)
        messages.append(str(err.value))
    assert messages[0].startswith("search failed for 'order': fts5: syntax error")
    assert len(set(messages)) == 1 and all(reaped(pid) for pid in forks)
    assert not queries.conn_of(db).in_transaction


def test_split_covers_every_rowid_once():
    assert parts_mod.split(5, 5, 3) == [(None, None)]
    assert parts_mod.split(1, 10, 2) == [(None, 5), (6, None)]
    assert parts_mod.split(1, 10, 3) == [(None, 3), (4, 6), (7, None)]
    assert parts_mod.split(3, 4, 9) == [(None, 3), (4, None)]


def test_the_cli_ranks_every_match_and_says_nothing_more(fx, forks, monkeypatch):
    db, _ = fx
    monkeypatch.setattr(parts_mod, "PARALLEL_MIN", 1)
    monkeypatch.setattr(parts_mod, "cores", lambda: 2)
    # before, --rank ranked only the newest RANK_BOUND matches (and said so): with a bound
    # below the fixture's matches that page was not this one. The bound is gone.
    monkeypatch.setattr(search_mod, "RANK_BOUND", 20, raising=False)
    path = str(db.conn.execute("PRAGMA database_list").fetchone()[2])
    want = [w[:2] for w in ranked_by_join(queries.conn_of(db), "order", 30, 5)]
    for flag in ("--rank", "--rank-all"):  # --rank-all: kept for scripts, the same now
        res = CliRunner().invoke(cli, ["--store", path, "search", "order", flag, "--json",
                                       "--limit", "30", "--offset", "5"])
        assert res.exit_code == 0 and res.stderr == "", res.output
        assert [(h["episode_id"], h["idx"]) for h in json.loads(res.stdout)] == want
    assert len(forks) == 2
    res = CliRunner().invoke(cli, ["search", "--help"])
    assert "--rank-all" not in res.output and "100,000" not in res.output


def test_matches_are_counted_once_and_no_further_than_asked():
    """The ranked path asks "at least TF_MIN_HITS?" and, falling back, "at least
    PARALLEL_MIN?": a first count below its limit is exact and answers the second."""
    import sqlite3

    c = sqlite3.connect(":memory:")
    c.execute("CREATE VIRTUAL TABLE steps_fts USING fts5(content)")
    c.executemany("INSERT INTO steps_fts(content) VALUES (?)", [("order",)] * 30)
    statements = []
    c.set_trace_callback(lambda sql: statements.append(sql) if "count(*)" in sql else None)
    m = parts_mod._Matches(c, '"order"')
    assert not m.at_least(100) and m.at_least(20) and m.at_least(30) and not m.at_least(31)
    assert len(statements) == 1  # the count of 30 (limit 100) was exact
    m = parts_mod._Matches(c, '"order"')
    assert m.at_least(10) and m.at_least(5) and len(statements) == 2
    assert m.at_least(30) and len(statements) == 3  # past what was counted: counted again
