"""A new store gets the squashed schema (store/squash.py, store/schema_squashed.py) in one
transaction instead of every migration in turn: it must be the very store the migrations make,
stay up to date with them, and be as safe to make from several threads and processes at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

import pytest

import store
from store import migrations, squash
from store.migrations import MIGRATIONS, migrate


def _everything(conn: sqlite3.Connection) -> dict:
    """What makes two stores the same: every object's SQL in order, every row of every table
    (FTS5's own tables included; when each migration ran aside), the pragmas a file keeps."""
    objects = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                           "ORDER BY rowid").fetchall()
    rows = {}
    for kind, name, _, sql in objects:
        if kind != "table" or (sql or "").upper().startswith("CREATE VIRTUAL TABLE"):
            continue
        cols = "version, description" if name == "schema_migrations" else "*"
        rows[name] = sorted(conn.execute(f'SELECT {cols} FROM "{name}"').fetchall(), key=repr)
    pragmas = {p: conn.execute(f"PRAGMA {p}").fetchone()[0]
               for p in ("user_version", "application_id", "page_size", "journal_mode",
                         "encoding", "auto_vacuum", "integrity_check")}
    return {"objects": objects, "rows": rows, "pragmas": pragmas}


def _step_by_step(path) -> sqlite3.Connection:
    """A new store made as before the squashed schema: connect's setup, each migration alone."""
    conn = store.connect(path, migrate_schema=False)
    assert migrate(conn, squashed=False) == MIGRATIONS[-1][0]
    return conn


def test_a_new_store_is_the_one_the_migrations_make_step_by_step(tmp_path):
    new = store.connect(tmp_path / "new.sqlite")
    ref = _step_by_step(tmp_path / "ref.sqlite")
    got, want = _everything(new), _everything(ref)
    assert got["objects"] == want["objects"]
    assert got["rows"] == want["rows"]
    assert got["pragmas"] == want["pragmas"]
    assert got["pragmas"]["journal_mode"] == "wal" and got["pragmas"]["page_size"] == 16_384
    assert got["rows"]["store_clock"] == [(1, 0)]
    assert got["rows"]["steps_fts_config"] == [("version", 4)]
    assert got["rows"]["schema_migrations"] == sorted(((n, d) for n, d, _ in MIGRATIONS), key=repr)
    # made in one transaction: every migration recorded at one time (step by step: one each)
    stamps = {r[0] for r in new.execute("SELECT applied_at FROM schema_migrations")}
    assert len(stamps) == 1
    assert len({r[0] for r in ref.execute("SELECT applied_at FROM schema_migrations")}) > 1
    # and it works as one: search, the triggers, the clock
    new.execute("INSERT INTO runs (run_id, name, role, created_at) VALUES "
                "('r', 'r', 'discovery', '2026-01-01T00:00:00+00:00')")
    assert new.execute("SELECT run_id FROM agent_runs").fetchall() == [("r",)]


def test_the_squashed_schema_is_todays(tmp_path):
    assert squash.stale() is None


def test_a_migration_added_without_squashing_again_is_caught_and_still_applied(tmp_path,
                                                                              monkeypatch):
    top = MIGRATIONS[-1][0] + 1
    later = [*MIGRATIONS, (top, "a later migration", "CREATE TABLE later_table (x INTEGER);")]
    monkeypatch.setattr(migrations, "MIGRATIONS", later)
    why = squash.stale()
    assert why is not None and "run `python -m store.squash`" in why
    # a new store still gets it: the squashed schema, then the migrations after it
    conn = store.connect(tmp_path / "s.sqlite")
    assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == top
    assert conn.execute("SELECT count(*) FROM later_table").fetchone()[0] == 0


def test_fewer_migrations_or_a_file_holding_tables_migrate_step_by_step(tmp_path, monkeypatch):
    monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in MIGRATIONS if m[0] < 12])
    old = sqlite3.connect(tmp_path / "old.sqlite", isolation_level=None)
    assert migrate(old) == 11   # an older store, as tests of later migrations make them
    assert "test" not in {r[1] for r in old.execute("PRAGMA table_info(heldout_sets)")}
    monkeypatch.undo()
    other = sqlite3.connect(tmp_path / "other.sqlite")
    other.execute("CREATE TABLE mine (x)")
    other.commit()
    other.close()
    conn = store.connect(tmp_path / "other.sqlite")
    assert conn.execute("SELECT count(DISTINCT applied_at) FROM schema_migrations"
                        ).fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("SELECT count(*) FROM mine").fetchone()[0] == 0


def _same_as_reference(path, tmp_path):
    conn = store.connect(path)
    got = _everything(conn)
    want = _everything(_step_by_step(tmp_path / "ref.sqlite"))
    assert got["objects"] == want["objects"] and got["rows"] == want["rows"]
    assert got["pragmas"] == want["pragmas"]


def test_threads_making_one_new_store_at_once(tmp_path):
    path = tmp_path / "s.sqlite"
    start = threading.Barrier(6)
    errors = []

    def make():
        start.wait()
        try:
            store.connect(path).execute("SELECT count(*) FROM runs").fetchone()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=make) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    _same_as_reference(path, tmp_path)


def test_processes_making_one_new_store_at_once(tmp_path):
    path = tmp_path / "s.sqlite"
    go = tmp_path / "go"
    code = ("import os, sys, time\n"
            "import store\n"
            "while not os.path.exists(sys.argv[2]): time.sleep(0.001)\n"
            "store.connect(sys.argv[1]).execute('SELECT count(*) FROM runs').fetchone()\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), str(go)],
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    go.write_text("")
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errs
    _same_as_reference(path, tmp_path)


@pytest.mark.parametrize("squashed", [True, False])
def test_a_new_store_made_either_way_passes_the_integrity_check(tmp_path, squashed):
    conn = store.connect(tmp_path / "s.sqlite", migrate_schema=False)
    migrate(conn, squashed=squashed)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.execute("INSERT INTO steps_fts (steps_fts) VALUES ('integrity-check')")  # raises if not
