"""What a Harbor job's import says about outcomes it did not get (review s15-rev3 S1, C1, C3,
M1, M3).

S1: a job whose verifier gave nothing (verifier.disable, or no reward written) on trials that
ended on no exception was scored 0 on every trial, and the gate discarded on those zeros.
C1: an unmapped job was still said to have its reward "mapped at import".
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from test_import_harbor_scoring import TIMEOUT, _trial

import store
from store.importers import import_path
from t2e_tui.cli import cli


def _disable(t: Path) -> None:
    (t / "config.json").write_text(json.dumps({"task": {"name": "a"},
                                               "verifier": {"disable": True}}))


def test_a_trial_the_verifier_gave_nothing_stays_unscored(tmp_path):
    db = store.open_db(tmp_path / "s.sqlite")
    job = tmp_path / "j"
    _disable(_trial(job, "a", 0, None))
    _disable(_trial(job, "a", 1, None))
    _trial(job, "b", 0, None, TIMEOUT)
    said = " ".join(import_path(db, job)["warnings"])
    rows = db.conn.execute("SELECT reward, termination_reason FROM episodes ORDER BY ord")
    assert rows.fetchall() == [(None, None), (None, None), (0.0, "AgentTimeoutError")]
    assert "2 trial(s) ended on no exception and their verifier gave no reward (the trial " \
        "config disables the verifier: verifier.disable): they stay unscored" in said
    assert "1 trial(s) ended on an exception with no verifier reward (AgentTimeoutError): " \
        "reward 0" in said


def test_a_job_whose_verifier_gave_nothing_is_not_gated_on_zeros(tmp_path):
    job = tmp_path / "j"
    for k in range(3):
        _trial(job, "a", k, None)
    s = str(tmp_path / "s.sqlite")
    r = CliRunner()
    res = r.invoke(cli, ["--store", s, "import", str(job), "--name", "j"])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "reward 0" not in said and "exception type" not in said
    assert "3 trial(s) ended on no exception and their verifier gave no reward (the " \
        "verifier was not run or wrote nothing): they stay unscored" in said
    assert "mapped from verifier.reward" not in said
