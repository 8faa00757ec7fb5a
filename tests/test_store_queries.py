"""The read API: list_runs, resolve_run, load_episode, episode_index, search, views, edits."""

from __future__ import annotations

import pytest
from test_store_data import make_results, write_json

import store
from store import StoreError, queries
from store.importers import import_path
from store.migrations import MIGRATIONS, migrate


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "s.sqlite")


@pytest.fixture
def run(db, tmp_path):
    src = make_results(4)
    src["simulations"][2]["termination_reason"] = "infrastructure_error"
    src["simulations"][2]["reward_info"] = None
    return import_path(db, write_json(tmp_path / "base.json", src))["run_id"]


def test_migrations_from_empty_file_and_rerun_is_noop(tmp_path):
    conn = store.connect(tmp_path / "m.sqlite", migrate_schema=False)
    assert migrate(conn) == MIGRATIONS[-1][0]
    schema = conn.execute("SELECT group_concat(sql) FROM sqlite_master").fetchone()[0]
    assert migrate(conn) == MIGRATIONS[-1][0]
    assert conn.execute("SELECT group_concat(sql) FROM sqlite_master").fetchone()[0] == schema
    assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_new_store_is_migrated_without_an_fsync_per_migration(tmp_path, monkeypatch):
    """The migrations run at synchronous = NORMAL, as every later write does: at the default
    FULL each of the 11 migrations of a new store fsynced the WAL at its commit (~20 ms of a
    new store's ~40, on every command and test that makes one). NORMAL in WAL mode is still
    all or nothing: a power cut can only undo a migration, which the next open runs again."""
    from store import db as db_mod

    seen = []
    real = db_mod.migrate

    def spy(conn):
        seen.append(conn.execute("PRAGMA synchronous").fetchone()[0])
        return real(conn)

    monkeypatch.setattr(db_mod, "migrate", spy)
    conn = store.connect(tmp_path / "new.sqlite")
    assert seen == [1]  # NORMAL (FULL is 2)
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)


def test_list_runs_excludes_infrastructure_errors(db, run):
    (r,) = queries.list_runs(db)
    assert r["run_id"] == run and r["episodes"] == 4 and r["name"] == "base"
    # rewards 1, 1, (infra), 0 -> mean 2/3
    assert r["reward"] == pytest.approx(2 / 3) and r["pass_rate"] == pytest.approx(2 / 3)
    assert r["termination"] == {"user_stop": 3, "infrastructure_error": 1}
    assert r["infrastructure_errors"] == 1 and r["source"].endswith("base.json")
    assert r["world_id"].startswith("imp-")


def test_list_runs_oldest_first_and_rerun_source(db, run):
    from store import writer

    rid = writer.create_run(db, name="rerun-1")
    assert [r["run_id"] for r in queries.list_runs(db)] == [run, rid]
    assert queries.list_runs(db)[1]["source"] == "rerun"
    assert queries.list_runs(db)[1]["reward"] is None


def test_resolve_run(db, run, tmp_path):
    assert queries.resolve_run(db, run) == run
    assert queries.resolve_run(db, run[:3]) == run
    assert queries.resolve_run(db, "base") == run
    with pytest.raises(StoreError, match="no run matches 'nope'"):
        queries.resolve_run(db, "nope")
    other = import_path(db, write_json(tmp_path / "b2.json", make_results(1)), name="base")
    with pytest.raises(StoreError, match="ambiguous"):
        queries.resolve_run(db, "base")
    assert queries.resolve_run(db, other["run_id"]) == other["run_id"]


def test_load_episode_and_index(db, run):
    idx = queries.episode_index(db, run)
    assert [e["task_id"] for e in idx] == ["0", "1", "2", "0"]
    assert "content" not in idx[0] and "reward_info_json" not in idx[0]
    ep = queries.load_episode(db, idx[0]["episode_id"])
    assert [s["idx"] for s in ep["steps"]] == list(range(6))
    assert ep["messages"] == make_results(4)["simulations"][0]["messages"]
    assert ep["tool_calls"][0]["name"] == "get_user_details"
    assert {c["kind"] for c in ep["checks"]} == {"action", "communicate"}
    assert ep["run"]["name"] == "base"
    with pytest.raises(StoreError, match="no episode 999"):
        queries.load_episode(db, 999)


@pytest.mark.parametrize("q, words", [
    ('"', ""), ("-", ""), (":", ""), ("(", ""), ("*", ""), ("^", ""),
    ("a:b", "a b"), ("NOT", "not"), ("AND", "and"), ('x" OR "y', "x or y"),
    ('"cancelled"', "cancelled"), ("-cancelled", "cancelled"), ("cancelled:", "cancelled"),
    ("(cancelled", "cancelled"), ("NOT cancelled", "not cancelled")])
def test_search_sanitises_user_queries(db, run, q, words):
    """FTS syntax in a user's text is just text: the hits are those of its plain words
    (none without a word), never an error or an operator's meaning."""
    hits = queries.search(db, q)
    assert hits == (queries.search(db, words) if words else [])
    if words == "cancelled":
        assert len(hits) == 4 and all("\u00abcancelled\u00bb" in h["snippet"] for h in hits)


def test_search_hits_text_arguments_and_results(db, run):
    hits = queries.search(db, "cancelled")
    assert len(hits) == 4 and {h["role"] for h in hits} == {"assistant"}
    assert "\u00abcancelled\u00bb" in hits[0]["snippet"]
    assert set(hits[0]) >= {"episode_id", "idx", "run_id", "task_id", "role", "snippet"}
    args = queries.search(db, "bo_kim_2")  # user text, tool arguments and tool results
    assert {h["role"] for h in args} == {"user", "assistant", "tool"}
    ranked = queries.search(db, "order cancelled", rank=True)
    assert len(ranked) == 4
    assert queries.search(db, "cancelled", limit=2, offset=3) == hits[3:4]
    assert queries.search(db, "cancel*")  # prefix search kept
    assert queries.search(db, "cancelled", run_id="nope") == []


def test_record_view(db, run):
    eid = queries.episode_index(db, run)[1]["episode_id"]
    vid = queries.record_view(db, eid, "cli", drafting_candidate="cand-1")
    row = db.conn.execute("SELECT episode_id, run_id, domain, task_id, via, drafting_candidate "
                          "FROM evidence_views WHERE view_id = ?", (vid,)).fetchone()
    assert row == (eid, run, "retail", "1", "cli", "cand-1")


def test_rename_and_role(db, run):
    queries.rename_run(db, run, "better name")
    queries.set_role(db, "better name", "heldout")
    assert db.conn.execute("SELECT name, role FROM runs").fetchone() == ("better name",
                                                                         "heldout")
    with pytest.raises(StoreError, match="unknown evidence role"):
        queries.set_role(db, run, "final")
    with pytest.raises(StoreError, match="empty"):
        queries.rename_run(db, run, "  ")


def test_delete_run_keeps_gate_rows_marked(db, run, tmp_path):
    keep = import_path(db, write_json(tmp_path / "keep.json", make_results(2)))["run_id"]
    for b, c in ((run, keep), (keep, keep)):
        db.conn.execute(
            "INSERT INTO gate_decisions (created_at, baseline_run_id, candidate_run_id, "
            "tasks_json, evidence_role, decision) VALUES ('t', ?, ?, '[]', 'heldout', "
            "'discard')", (b, c))
    eid = queries.episode_index(db, run)[0]["episode_id"]
    queries.record_view(db, eid, "cli")
    res = queries.delete_run(db, run)
    assert res == {"run_id": run, "episodes": 4, "messages": 24, "gate_decisions_marked": 1}
    c = db.conn
    assert c.execute("SELECT count(*) FROM episodes WHERE run_id = ?", (run,)).fetchone() == (0,)
    assert c.execute("SELECT count(*) FROM steps").fetchone() == (12,)  # keep's 2 x 6
    assert c.execute("SELECT count(*) FROM tasks WHERE run_id = ?", (run,)).fetchone() == (0,)
    assert c.execute("SELECT cites_deleted_run FROM gate_decisions ORDER BY row_id"
                     ).fetchall() == [(1,), (0,)]
    assert c.execute("SELECT count(*) FROM evidence_views").fetchone() == (1,)
    # FTS rows went with the steps: only the kept run's hits remain, and the index is sound
    assert len(queries.search(db, "cancelled")) == 2
    c.execute("INSERT INTO steps_fts (steps_fts) VALUES ('integrity-check')")
    # the source row went too, so the same file can be imported again
    again = import_path(db, tmp_path / "base.json")
    assert again["duplicate"] is False


def test_store_errors_for_bad_store_path(tmp_path):
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(StoreError, match="is a directory"):
        store.open_db(tmp_path / "dir.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a usable t2e store"):
        store.open_db(junk)


def test_role_history_records_a_role_raised_after_creation(db, run, tmp_path):
    h = queries.role_history(db, run)
    assert (h["role"], h["created_role"], h["set_at_creation"]) == ("discovery", "discovery",
                                                                     True)
    assert h["role_set_at"] == h["created_at"] and h["changes"] == []
    queries.set_role(db, run, "discovery")  # the same role is not a change
    assert queries.role_history(db, run)["changes"] == []
    queries.set_role(db, run, "heldout")
    h = queries.role_history(db, run)
    assert h["role"] == "heldout" and h["created_role"] == "discovery"
    assert h["set_at_creation"] is False
    (c,) = h["changes"]
    assert (c["from"], c["to"]) == ("discovery", "heldout")
    assert h["raised_to_clean_at"] == c["at"] == h["role_set_at"] > h["created_at"]
    # any write path is recorded, not only set_role (a trigger keeps the history)
    db.conn.execute("UPDATE runs SET role = 'development' WHERE run_id = ?", (run,))
    h = queries.role_history(db, run)
    assert [x["to"] for x in h["changes"]] == ["heldout", "development"]
    assert h["raised_to_clean_at"] is None and h["created_role"] == "discovery"
    # the same content re-imported as heldout inherits the history of what it re-imports
    held = import_path(db, write_json(tmp_path / "h.json", make_results(2)),
                       role="heldout")["run_id"]
    h = queries.role_history(db, held)
    assert h["created_role"] == "discovery" and h["raised_to_clean_at"] is not None
    # created heldout, content new to the store: clean from the start
    import store as store_mod

    fresh = store_mod.open_db(tmp_path / "fresh.sqlite")
    held2 = import_path(fresh, write_json(tmp_path / "h2.json", make_results(2)),
                        role="heldout")["run_id"]
    h = queries.role_history(fresh, held2)
    assert (h["set_at_creation"], h["raised_to_clean_at"]) == (True, None)
    # deleting a run drops its history with it
    queries.delete_run(db, run)
    assert db.conn.execute("SELECT count(*) FROM run_role_changes WHERE run_id = ?",
                           (run,)).fetchone() == (0,)


def test_role_history_of_a_run_from_before_migration_3_is_unknown(tmp_path):
    conn = store.connect(tmp_path / "old.sqlite", migrate_schema=False)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                 "description TEXT NOT NULL, applied_at TEXT NOT NULL)")
    for number, description, sql in MIGRATIONS[:2]:
        conn.executescript(sql)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')",
                     (number, description))
    conn.execute("INSERT INTO runs (run_id, name, role, created_at) "
                 "VALUES ('old1', 'old', 'heldout', '2026-01-01T00:00:00+00:00')")
    conn.commit()
    assert migrate(conn) == MIGRATIONS[-1][0]
    h = queries.role_history(conn, "old1")
    assert (h["role_set_at"], h["set_at_creation"]) == (None, None)


def test_rename_refuses_control_characters(db, run):
    """Listings strip them, so a run so named could not be named back (`t2e gate NAME`)."""
    for bad in ("a\x1b[31mb", "a\tb", "a\x9bb"):
        with pytest.raises(StoreError, match="control characters"):
            queries.rename_run(db, run, bad)
    assert db.conn.execute("SELECT name FROM runs").fetchone()[0] != "a\tb"


def test_run_names_refuse_what_listings_strip(tmp_path):
    """Bidi overrides too (listings strip them, so the name could not be typed back), in
    import --name, runs rename and run --name; an empty --name still means the file's name."""
    from click.testing import CliRunner

    from t2e_tui.cli import cli
    st = str(tmp_path / "s.sqlite")
    src = write_json(tmp_path / "r.json", make_results(2))
    run = CliRunner().invoke
    for args in (["import", str(src), "--name", "a\u202eb"], ["run", "--name", "a\u2066b"]):
        res = run(cli, ["--store", st, *args])
        assert res.exit_code == 2 and "bidi overrides" in res.output, res.output
    res = run(cli, ["--store", st, "import", str(src), "--name", "", "--json"])
    assert res.exit_code == 0, res.output
    import json as _json
    rid = _json.loads(res.output)["imported"][0]["run_id"]
    res = run(cli, ["--store", st, "runs", "rename", rid, "x\u202ey"])
    assert res.exit_code == 2 and "bidi overrides" in res.output
    conn = store.connect(st)
    assert conn.execute("SELECT name FROM runs").fetchone() == ("r",)
    conn.close()
