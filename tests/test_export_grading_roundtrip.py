"""A foreign run (ATIF, Harbor, OpenTelemetry: no gold, graded 'foreign') exported as native
JSONL came back graded 'recorded': its rewards read as a results file's own, re-scorable word,
and the gate and every face stopped saying "no gold". The export's provenance carries the
grading, and the import keeps a run foreign (never the other way: a file cannot vouch for
itself)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import store
from store.exporters import export_run
from store.importers import import_path

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("source", [FIXTURES / "atif" / "support_v17.json",
                                    FIXTURES / "harbor" / "job_a"])
def test_a_foreign_run_stays_foreign_through_a_jsonl_export(tmp_path, source):
    db = store.open_db(tmp_path / "a.sqlite")
    rid = import_path(db, source)["run_id"]
    assert db.conn.execute("SELECT grading FROM runs WHERE run_id = ?", (rid,)).fetchone() \
        == ("foreign",)
    out = tmp_path / "run.jsonl"
    export_run(db, rid, "jsonl", out)
    again = store.open_db(tmp_path / "b.sqlite")
    rid2 = import_path(again, out)["run_id"]
    assert again.conn.execute("SELECT grading FROM runs WHERE run_id = ?", (rid2,)).fetchone() \
        == ("foreign",)


def test_a_file_cannot_raise_its_own_grading(tmp_path):
    """A header that says 'recorded' (or anything) grades nothing: only 'foreign' is kept."""
    lines = [{"type": "run", "name": "x", "domain": "retail",
              "t2e_provenance": {"grading": "scored_here"}},
             {"task_id": "1", "trial": 0, "reward": 1.0, "termination_reason": "user_stop",
              "messages": [{"role": "user", "content": "hi"}]}]
    p = tmp_path / "x.jsonl"
    p.write_text("".join(json.dumps(x) + "\n" for x in lines))
    db = store.open_db(tmp_path / "s.sqlite")
    rid = import_path(db, p)["run_id"]
    assert db.conn.execute("SELECT grading FROM runs WHERE run_id = ?", (rid,)).fetchone() \
        == ("recorded",)
