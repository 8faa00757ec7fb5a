"""The copy of the FTS size records (store/fts_sizes.py): the writers that change the index
leave it fresh (an import, a deleted run, an engine run that stops), ranked search reads it
instead of docsize while it is exact, and any other change to the index (a rewritten row
with the same token totals included) makes it ignored, never wrong."""

from __future__ import annotations

import pytest
from test_search_rank import page_of, ranked_by_join
from test_search_tf import build

import store
from store import fts_sizes, queries, search_tf, writer
from store import search as search_mod
from store import search_parts as parts_mod


def docsize_copy(conn):
    return conn.execute(
        "SELECT (SELECT min(id) FROM steps_fts_docsize), (SELECT max(id) FROM "
        "steps_fts_docsize), (SELECT cast(group_concat(sz, '') AS blob) FROM "
        "steps_fts_docsize)").fetchone()


def test_an_import_leaves_it_fresh_and_exact(tmp_path):
    db, _ = build(tmp_path, (1, 2))
    conn = queries.conn_of(db)
    assert fts_sizes.is_fresh(conn)
    assert fts_sizes.cached(conn) == docsize_copy(conn)


def test_a_deleted_run_and_an_engine_run_that_stops_refresh_it(tmp_path):
    db, runs = build(tmp_path, (1, 2, 3))
    conn = queries.conn_of(db)
    queries.delete_run(db, runs[2])  # the newest: the ids stay without gaps
    assert fts_sizes.cached(conn) == docsize_copy(conn)
    run_id = writer.create_run(db, name="live", role="discovery")
    ep = writer.begin_episode(db, run_id, episode_key="t1#0", task_id=None, trial=0)
    writer.append_step(db, ep, 0, {"role": "user", "content": "where is my order"})
    assert not fts_sizes.is_fresh(conn)  # a step written: the copy is stale until the end
    writer.set_run_status(db, run_id, "complete")
    assert fts_sizes.cached(conn) == docsize_copy(conn)


def test_no_copy_while_the_ids_have_gaps_or_automerge_is_off(tmp_path):
    """Gaps (a run other than the newest deleted): the copy could not be indexed by id, so
    none is kept (nor rewritten at every import). Automerge off: a structure record can repeat
    byte for byte, so no fingerprint, no copy."""
    db, runs = build(tmp_path, (1, 2, 3))
    conn = queries.conn_of(db)
    queries.delete_run(db, runs[1])
    assert conn.execute("SELECT count(*) FROM fts_sizes").fetchone()[0] == 0
    assert fts_sizes.cached(conn) is None
    db, _ = build(tmp_path / "b", (1, 2))
    conn = queries.conn_of(db)
    assert fts_sizes.is_fresh(conn)
    with conn:
        conn.execute("INSERT INTO steps_fts (steps_fts, rank) VALUES ('automerge', 0)")
    assert fts_sizes.fingerprint(conn) is None and fts_sizes.cached(conn) is None
    assert fts_sizes.refresh(conn)
    assert conn.execute("SELECT count(*) FROM fts_sizes").fetchone()[0] == 0


def test_a_repeated_structure_with_automerge_off_is_not_trusted():
    """The reviewer's case: automerge 0, two rows trading tokens (same totals), 'optimize'
    after each commit: the averages and structure records come back byte for byte while
    docsize differs.
    The fingerprint is then None, so no copy can be taken as exact."""
    import sqlite3

    c = sqlite3.connect(":memory:", isolation_level=None)
    c.execute("CREATE VIRTUAL TABLE steps_fts USING fts5(content, tool_calls)")
    c.executemany("INSERT INTO steps_fts(content) VALUES (?)", [("a b c",), ("d e",)])
    c.execute("INSERT INTO steps_fts(steps_fts) VALUES ('optimize')")
    c.execute("INSERT INTO steps_fts(steps_fts, rank) VALUES ('automerge', 0)")
    seen = {}
    for i in range(6):
        a, b = (("a b", "d e c"), ("a b c", "d e"), ("a", "d e c b"))[i % 3]
        c.execute("BEGIN")
        c.execute("UPDATE steps_fts SET content = ? WHERE rowid = 1", (a,))
        c.execute("UPDATE steps_fts SET content = ? WHERE rowid = 2", (b,))
        c.execute("COMMIT")
        c.execute("INSERT INTO steps_fts(steps_fts) VALUES ('optimize')")
        records = tuple(bytes(r[1]) for r in c.execute(fts_sizes.FINGERPRINT))
        sizes = c.execute("SELECT group_concat(hex(sz)) FROM steps_fts_docsize").fetchone()[0]
        seen.setdefault(records, set()).add(sizes)
        assert fts_sizes.fingerprint(c) is None
    assert any(len(v) > 1 for v in seen.values())  # the records repeated, the sizes did not


@pytest.mark.parametrize("change", ["insert", "delete", "merge"])
def test_any_other_change_to_the_index_makes_it_ignored(tmp_path, change):
    db, _ = build(tmp_path, (1, 2))
    conn = queries.conn_of(db)
    assert fts_sizes.is_fresh(conn)
    with conn:
        if change == "insert":
            conn.execute("INSERT INTO steps_fts (rowid, content) VALUES (999999, 'order')")
        elif change == "delete":
            conn.execute("INSERT INTO steps_fts (steps_fts, rowid, content, tool_calls) SELECT "
                         "'delete', step_id, content, tool_calls FROM steps LIMIT 1")
        else:
            conn.execute("INSERT INTO steps_fts (steps_fts) VALUES ('optimize')")
    assert not fts_sizes.is_fresh(conn) and fts_sizes.cached(conn) is None


def test_a_rewrite_with_the_same_totals_changes_the_fingerprint(tmp_path):
    """Two rows swap their texts: the row count and every column's token total are unchanged,
    and each row's size is not. The averages record is the same; the structure is not."""
    db, _ = build(tmp_path, (1,))
    conn = queries.conn_of(db)
    (a, ta), (b, tb) = conn.execute(
        "SELECT step_id, content FROM steps WHERE tool_calls IS NULL AND length(content) > 40 "
        "LIMIT 2").fetchall()
    averages = conn.execute("SELECT block FROM steps_fts_data WHERE id = 1").fetchone()
    before = fts_sizes.fingerprint(conn)
    with conn:
        for sid, old, new in ((a, ta, tb), (b, tb, ta)):
            conn.execute("INSERT INTO steps_fts (steps_fts, rowid, content, tool_calls) "
                         "VALUES ('delete', ?, ?, NULL)", (sid, old))
            conn.execute("INSERT INTO steps_fts (rowid, content) VALUES (?, ?)", (sid, new))
    assert conn.execute("SELECT block FROM steps_fts_data WHERE id = 1").fetchone() == averages
    assert fts_sizes.fingerprint(conn) != before and fts_sizes.cached(conn) is None


@pytest.mark.parametrize("fork", [False, True])
@pytest.mark.parametrize("fresh", [True, False])
def test_ranked_search_reads_the_copy_only_while_it_is_exact(tmp_path, monkeypatch, fresh,
                                                             fork):
    monkeypatch.setattr(parts_mod, "TF_MIN_HITS", 1)
    monkeypatch.setattr(search_tf, "SCAN_SHARE", 0.0)  # the sizes of every row, not a join
    if not fork:
        monkeypatch.setattr(parts_mod, "_single_threaded", lambda: False)
    db, _ = build(tmp_path, (1, 2))
    conn = queries.conn_of(db)
    if not fresh:  # a change no writer refreshed after: the copy is stale
        with conn:
            conn.execute("INSERT INTO steps_fts (rowid, content) VALUES (999999, 'order x')")
    copies, ranked = [], []
    real_cached, real_rank = fts_sizes.cached, search_tf.rank
    monkeypatch.setattr(fts_sizes, "cached", lambda c: copies.append(
        real_cached(c) is not None) or real_cached(c))
    monkeypatch.setattr(search_tf, "rank", lambda *a: ranked.append(1) or real_rank(*a))
    page = search_mod.ranked_search(db, "order", limit=15)
    assert page_of(page) == ranked_by_join(conn, "order", 15) and ranked == [1]
    if not fork:  # (a forked child's calls are not seen here)
        assert copies == [fresh]  # the copy used when exact, else docsize read


def test_refresh_is_a_no_op_inside_a_transaction_or_on_an_old_store(tmp_path):
    db, _ = build(tmp_path, (1,))
    conn = queries.conn_of(db)
    with conn:
        conn.execute("INSERT INTO steps_fts (rowid, content) SELECT max(rowid) + 1, 'order' "
                     "FROM steps_fts")  # (the next id: no gap)
    conn.execute("BEGIN")
    assert fts_sizes.refresh(conn) is False
    conn.execute("COMMIT")
    assert not fts_sizes.is_fresh(conn)
    assert fts_sizes.refresh(conn) is True and fts_sizes.is_fresh(conn)
    conn.execute("DROP TABLE fts_sizes")  # as a store from before the table
    assert fts_sizes.refresh(conn) is False and fts_sizes.cached(conn) is None
    assert not fts_sizes.is_fresh(conn)


def test_the_migration_from_an_empty_file(tmp_path):
    db = store.open_db(tmp_path / "e.sqlite")
    conn = queries.conn_of(db)
    assert conn.execute("SELECT count(*) FROM fts_sizes").fetchone()[0] == 0
    assert fts_sizes.refresh(conn) and fts_sizes.cached(conn) is None  # no rows: nothing


def test_refresh_does_not_wait_long_for_another_writer(tmp_path):
    """An import or run that ends while another process writes gives up the copy after
    BUSY_MS, not the store's whole busy timeout, and keeps that timeout."""
    import time

    db, _ = build(tmp_path, (1,))
    conn = queries.conn_of(db)
    with conn:
        conn.execute("INSERT INTO steps_fts (rowid, content) SELECT max(rowid) + 1, 'order' "
                     "FROM steps_fts")
    other = store.connect(tmp_path / "s.sqlite")
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        t = time.monotonic()
        assert fts_sizes.refresh(conn) is False
        assert time.monotonic() - t < 2.0  # 0.25 s, not 5
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    finally:
        other.execute("ROLLBACK")
    assert fts_sizes.refresh(conn) is True and fts_sizes.is_fresh(conn)


def test_a_store_from_before_the_copy_gets_it_when_migrated(tmp_path):
    """Opening a store migrated up to 8 (as a store of the previous release) takes the copy
    at once, not at its next import."""
    db, _ = build(tmp_path, (1, 2))
    conn = queries.conn_of(db)
    conn.execute("DROP TABLE fts_sizes")
    conn.execute("DROP VIEW steps_search")   # (and what migration 10 made: it runs again)
    conn.execute("DROP TABLE steps_shown")
    conn.execute("DROP TABLE store_clock")   # (and what migration 14 made)
    conn.execute("DROP TRIGGER agent_run_tasks_base")
    conn.execute("DROP TRIGGER agent_run_tasks_base_late")
    conn.execute("ALTER TABLE tasks DROP COLUMN base_task_id")
    conn.execute("ALTER TABLE evidence_views DROP COLUMN base_task_id")
    for trigger in ("agent_runs_insert", "agent_runs_update", "agent_runs_removed",
                    "agent_run_tasks_insert"):   # (and what migration 11 made)
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("DROP TABLE agent_runs")
    conn.execute("DROP TABLE agent_run_tasks")
    conn.execute("ALTER TABLE heldout_sets DROP COLUMN test")           # (migration 12's)
    conn.execute("ALTER TABLE heldout_sets DROP COLUMN content_json")   # (migration 13's)
    conn.execute("ALTER TABLE gate_decisions DROP COLUMN reward_from_json")  # (15's)
    conn.execute("DELETE FROM schema_migrations WHERE version >= 9")
    db.conn.close()
    again = store.connect(tmp_path / "s.sqlite")
    assert fts_sizes.is_fresh(again) and fts_sizes.cached(again) == docsize_copy(again)


def test_several_files_in_one_import_refresh_the_copy_once(tmp_path, monkeypatch):
    """`t2e import a b c` passes over docsize once, after the last file, not after each."""
    from test_search_tf import with_calls
    from test_store_data import write_json

    from store.importers import import_paths

    db = store.open_db(tmp_path / "m.sqlite")
    files = [write_json(tmp_path / f"r{i}.json", with_calls(i)) for i in (1, 2, 3)]
    calls = []
    real = fts_sizes.refresh
    monkeypatch.setattr(fts_sizes, "refresh", lambda c: calls.append(1) or real(c))
    out = import_paths(db, files)
    assert len(out["imported"]) == 3 and calls == [1]
    conn = queries.conn_of(db)
    assert fts_sizes.cached(conn) == docsize_copy(conn)


def test_a_store_at_the_copys_version_still_gets_later_migrations(tmp_path, monkeypatch):
    """The reviewer's case: the check chained `before < 9 <= migrate(conn)`, so migrate ran
    only for stores older than 9; with a migration 10 added, a store at 9 would never have
    been migrated again."""
    from store import db as db_mod
    from store import migrations

    db, _ = build(tmp_path, (1,))
    db.conn.close()
    top = migrations.MIGRATIONS[-1][0] + 1
    later = [*migrations.MIGRATIONS, (top, "a later migration",
                                      "CREATE TABLE later_table (x INTEGER);")]
    monkeypatch.setattr(migrations, "MIGRATIONS", later)
    monkeypatch.setattr(db_mod, "MIGRATIONS", later)
    again = store.connect(tmp_path / "s.sqlite")
    assert again.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == top
    assert again.execute("SELECT count(*) FROM later_table").fetchone()[0] == 0
