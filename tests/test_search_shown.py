"""Search finds what is shown. A message holding `\\x1b[31mREFUND\\x1b[0m` shows REFUND (every
display removes escape sequences whole), but the index held the raw text, where the word is
`31mrefund`: searching for what the screen showed found nothing. The index reads the shown
text (steps_search: steps_shown where a message has hidden characters; migration 10)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from store.db import open_db
from store.migrations import MIGRATIONS, migrate
from store.queries import delete_run, search
from t2e_tui.cli.main import cli

RED = "Your \x1b[31mREFUND\x1b[0m is on its way; case\x07LOST\x1b]0;title\x07 closed"
CALLS = '[{"name": "note", "arguments": {"text": "\\u001b[1mEXPEDITE\\u001b[0m"}}]'


def _jsonl(path, content=RED):
    path.write_text(json.dumps({"id": "s1", "task_id": "t1", "messages": [
        {"role": "user", "content": "where is my money"},
        {"role": "assistant", "content": content},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "name": "note", "arguments": {"text": "\x1b[1mEXPEDITE\x1b[0m"}}]},
    ]}) + "\n")
    return path


def _integrity(conn) -> None:
    conn.execute("INSERT INTO steps_fts (steps_fts, rank) VALUES ('integrity-check', 1)")


@pytest.fixture
def st(tmp_path):
    path = tmp_path / "s.sqlite"
    res = CliRunner().invoke(cli, ["--store", str(path), "import",
                                   str(_jsonl(tmp_path / "red.jsonl")), "--json"])
    assert res.exit_code == 0, res.output
    return path


@pytest.mark.parametrize("rank", [False, True])
@pytest.mark.parametrize("word", ["REFUND", "caseLOST", "EXPEDITE", "closed"])
def test_what_is_shown_is_found(st, rank, word):
    db = open_db(st)
    hits = search(db, word, rank=rank)
    assert len(hits) == 1, (word, hits)
    assert "\x1b" not in hits[0]["snippet"] and "«" in hits[0]["snippet"], hits
    _integrity(db.conn)  # the index agrees with the text it reads


def test_the_raw_escape_remnants_are_not_words(st):
    db = open_db(st)
    assert search(db, "31mREFUND") == [] and search(db, "title") == []


def test_the_cli_finds_it_and_shows_it_clean(st):
    res = CliRunner().invoke(cli, ["--store", str(st), "search", "REFUND"])
    assert res.exit_code == 0 and "«REFUND»" in res.output and "\\u001b" not in res.output, \
        res.output


def test_deleting_the_run_leaves_a_sound_index(st, tmp_path):
    db = open_db(st)
    rid = db.conn.execute("SELECT run_id FROM runs").fetchone()[0]
    delete_run(db, rid)
    _integrity(db.conn)
    assert db.conn.execute("SELECT count(*) FROM steps_shown").fetchone()[0] == 0
    assert search(db, "REFUND") == []


def test_an_engine_step_is_indexed_as_shown(st):
    """The engine's writer (writer.append_step) indexes the shown text too."""
    from store import writer

    db = open_db(st)
    eid, n = db.conn.execute("SELECT episode_id, n_steps FROM episodes").fetchone()
    writer.append_step(db, eid, n, {"role": "assistant",
                                    "content": "now \x1b[32mWIRED\x1b[0m back"})
    assert [h["episode_id"] for h in search(db, "WIRED")] == [eid]
    _integrity(db.conn)


def test_a_store_made_before_migration_10_is_indexed_as_shown(tmp_path):
    """Migration 10 fills steps_shown for the messages already stored and indexes again."""
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    import store.migrations as m

    old = [x for x in MIGRATIONS if x[0] < 10]
    saved = m.MIGRATIONS
    m.MIGRATIONS = old
    try:
        migrate(conn)
    finally:
        m.MIGRATIONS = saved
    conn.execute("INSERT INTO runs (run_id, name, role, created_at) VALUES ('r', 'r', "
                 "'discovery', 'x')")
    conn.execute("INSERT INTO episodes (episode_id, run_id, episode_key, ord, task_id, status)"
                 " VALUES (1, 'r', 'k', 0, 't', 'done')")
    conn.execute("INSERT INTO steps (step_id, episode_id, idx, role, content) VALUES "
                 "(1, 1, 0, 'assistant', ?)", (RED,))
    conn.execute("INSERT INTO steps_fts (rowid, content, tool_calls) VALUES (1, ?, NULL)", (RED,))
    assert conn.execute("SELECT count(*) FROM steps_fts WHERE steps_fts MATCH 'REFUND'"
                        ).fetchone()[0] == 0   # the defect, as it was
    conn.close()
    db = open_db(path)  # migrates
    assert [h["step_id"] for h in search(db, "REFUND")] == [1]
    _integrity(db.conn)
