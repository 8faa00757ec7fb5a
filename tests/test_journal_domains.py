"""A task is its domain and its id: `t2e journal` and `t2e note --task` keep tasks of two
domains that share an id apart, refuse an ambiguous id in one line, and print the domain."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from tui_fixture import GOLD, _episode, _task, build_store, trajectory

from store import writer
from store.db import open_db
from t2e_tui.cli.main import cli


@pytest.fixture
def two_domains(tmp_path):
    """The fixture store (retail, tasks 1-4) plus an airline run that also has a task "2"."""
    path = tmp_path / "s.sqlite"
    ids = build_store(path, live=False)
    db = open_db(path)
    with writer.transaction(db):
        writer.ensure_world(db, "w-air", kind="import", domain="airline")
        rid = writer.create_run(db, name="airline-run", world_id="w-air", domain="airline",
                                agent_model="gpt-4.1", num_trials=1, run_id="runair")
        writer.put_tasks(db, rid, [_task("2", GOLD["2"])])
    msgs, ok, found = trajectory("2", "base")
    ids["air"] = _episode(db, rid, "2", 0, 0, msgs, ok, found)
    db.conn.close()
    return path, ids


def t2e(path, *args):
    return CliRunner().invoke(cli, ["--store", str(path), *args])


def _notes(path) -> list:
    import sqlite3
    c = sqlite3.connect(path)
    try:
        return c.execute("SELECT target_kind, target_id, text FROM notes").fetchall()
    finally:
        c.close()


def test_an_id_in_two_domains_is_refused_in_one_line_naming_them(two_domains, tmp_path):
    path, _ = two_domains
    out = tmp_path / "j.md"
    for args in (("journal", "2", "-o", str(out)), ("note", "--task", "2", "a note")):
        r = t2e(path, *args)
        assert r.exit_code == 2, r.output
        line = r.output.strip()
        assert "\n" not in line
        assert "tau2-airline" in line and "tau2-retail" in line and "--domain" in line
    assert not out.exists() and _notes(path) == []


def test_a_task_note_and_the_journal_keep_to_the_domain(two_domains):
    path, ids = two_domains
    r = t2e(path, "note", "--task", "2", "retail finding", "--domain", "retail")
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "note 1 on task 2 (tau2-retail)"
    r = t2e(path, "note", "--task", "2", "airline finding", "--domain", "tau2-airline", "--json")
    doc = json.loads(r.output)
    assert doc["domain"] == "tau2-airline" and doc["task_id"] == "2" and doc["note_id"] == 2

    r = t2e(path, "journal", "2", "--domain", "tau2-retail", "-o", "-")
    assert r.exit_code == 0, r.output
    text = r.output
    assert text.startswith("# Journal: task 2 (tau2-retail)")
    assert "retail finding" in text and "airline finding" not in text
    assert "runbase:2" in text and "runcand:2" in text and "runair" not in text

    # a run names its domain: no --domain needed
    r = t2e(path, "journal", "2", "--run", "runair", "-o", "-")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("# Journal: task 2 (tau2-airline)")
    assert "airline finding" in r.output and "retail finding" not in r.output
    assert "runbase" not in r.output


def test_an_unambiguous_id_needs_no_domain_and_still_shows_it(two_domains):
    path, _ = two_domains
    r = t2e(path, "note", "--task", "3", "only retail has 3")
    assert r.exit_code == 0 and r.output.strip() == "note 1 on task 3 (tau2-retail)"
    r = t2e(path, "journal", "3", "-o", "-")
    assert r.exit_code == 0 and r.output.startswith("# Journal: task 3 (tau2-retail)")
    assert "only retail has 3" in r.output


def test_a_domain_or_task_the_store_lacks_is_refused(two_domains):
    path, _ = two_domains
    r = t2e(path, "note", "--task", "3", "x", "--domain", "airline")
    assert r.exit_code == 2 and "task '3'" in r.output and "tau2-retail" in r.output
    r = t2e(path, "note", "--task", "nope", "x")
    assert r.exit_code == 2 and "task 'nope'" in r.output
    r = t2e(path, "journal", "2", "--run", "runair", "--domain", "retail", "-o", "-")
    assert r.exit_code == 2 and "tau2-airline" in r.output
    r = t2e(path, "note", "runbase:2", "x", "--domain", "retail")
    assert r.exit_code == 2 and "--task" in r.output
    assert _notes(path) == []


def test_a_task_note_written_without_a_domain_is_shown_as_such(two_domains):
    """Notes from before the domain was recorded carry the bare id: the journal of either
    domain shows them, saying the domain is not known."""
    from store.notes import add_note
    path, _ = two_domains
    db = open_db(path)
    add_note(db, "task", "2", "old note")
    db.conn.close()
    for dom in ("retail", "airline"):
        r = t2e(path, "journal", "2", "--domain", dom, "-o", "-")
        assert "**task (no domain recorded)**" in r.output and "old note" in r.output


def test_an_infrastructure_error_reads_reward_n_a_in_the_journal(two_domains, tmp_path):
    """The journal printed the reward stored with an infrastructure error (0) and a ✗, while
    `t2e show`, `t2e runs` and the app say n/a: nothing was measured."""
    import sqlite3
    path, ids = two_domains
    c = sqlite3.connect(path)
    c.execute("UPDATE episodes SET termination_reason = 'infrastructure_error', reward = 0, "
              "success = 0 WHERE episode_id = ?", (ids["air"],))
    c.commit()
    c.close()
    out = tmp_path / "j.md"
    res = t2e(path, "journal", "2", "--domain", "airline", "-o", str(out))
    assert res.exit_code == 0, res.output
    (row,) = [ln for ln in out.read_text().splitlines() if f"({ids['air']})" in ln]
    cells = [c.strip() for c in row.split("|")]
    assert cells[4:6] == ["–", "n/a"] and cells[6].startswith("infrastructure"), cells
