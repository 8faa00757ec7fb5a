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


def _keyed(job: Path, k: int) -> None:
    t = _trial(job, "a", k, None)
    res = json.loads((t / "result.json").read_text())
    res["verifier_result"] = {"rewards": {"accuracy": 1.0, "format": 0.0}}
    (t / "result.json").write_text(json.dumps(res))


def test_an_unmapped_job_is_not_said_to_be_mapped(tmp_path):
    """C1: a reward outside [0, 1] (nothing mapped): `show` said "mapped at import", `runs`
    "Harbor's verifier reward as given", the --reward-attr refusal "a tau2 reward"; several
    rewards and none named `reward`: the import said "stay unscored" then "mapped from"."""
    big, keyed = tmp_path / "big", tmp_path / "keyed"
    _trial(big, "a", 0, 2.0)
    _trial(big, "a", 1, 1.0)
    _keyed(keyed, 0)
    _keyed(keyed, 1)
    s = str(tmp_path / "s.sqlite")
    r = CliRunner()
    res = r.invoke(cli, ["--store", s, "import", str(big), "--name", "big"])
    assert res.exit_code == 0 and "mapped" not in res.output.replace("unmapped", "")
    res = r.invoke(cli, ["--store", s, "import", str(keyed), "--name", "keyed"])
    said = " ".join(res.output.split())
    assert res.exit_code == 0 and "stay unscored" in said and "mapped from" not in said
    res = r.invoke(cli, ["--store", s, "show", "big:a"], terminal_width=200)
    said = " ".join(res.output.split())
    assert "mapped at import" not in said
    assert "verifier.reward 2.0 (outside [0, 1]: left unmapped" in said
    res = r.invoke(cli, ["--store", s, "show", "keyed:a"], terminal_width=200)
    said = " ".join(res.output.split())
    assert "the reward is Harbor's verifier reward" not in said
    assert "(no reward was mapped at import; `t2e gate --reward-attr NAME` maps one" in said
    res = r.invoke(cli, ["--store", s, "runs", "--table"], terminal_width=200)
    assert "as given" not in res.output
    res = r.invoke(cli, ["--store", s, "gate", "big", "keyed", "--reward-attr",
                         "verifier.reward"])
    assert res.exit_code != 0 and "tau2" not in res.output
    assert "outside [0, 1] as a reward (the gate compares rewards in [0, 1]" in \
        " ".join(res.output.split())


def test_one_model_has_one_name_whether_the_trial_finished_or_not(tmp_path):
    """C3: a finished trial's model was result.json's model_info.name (gpt-a), an unfinished
    one's the config's model_name (openai/gpt-a): a false "2 model(s)" mixing warning."""
    job = tmp_path / "j"
    config = {"task": {"name": "a"}, "agent": {"name": "terminus-2",
                                               "model_name": "openai/gpt-a"}}
    done = _trial(job, "a", 0, 1.0)
    res = json.loads((done / "result.json").read_text())
    res["agent_info"]["model_info"] = {"name": "gpt-a", "provider": "openai"}
    (done / "result.json").write_text(json.dumps(res))
    running = job / "a__k1abcde"
    (running / "agent").mkdir(parents=True)
    for t in (done, running):
        (t / "config.json").write_text(json.dumps(config))
    alone = _trial(tmp_path / "alone", "b", 0, 1.0)  # (result.json only: provider/name)
    (alone / "result.json").write_text(json.dumps({**res, "task_name": "b"}))
    db = store.open_db(tmp_path / "s.sqlite")
    said = " ".join(import_path(db, job)["warnings"])
    assert "model(s)" not in said
    import_path(db, alone)
    assert [m for (m,) in db.conn.execute(
        "SELECT agent_model FROM runs ORDER BY created_at, rowid")] == ["openai/gpt-a"] * 2
    s = str(tmp_path / "s.sqlite")
    for ref in ("j:a:0", "j:a:1"):
        doc = json.loads(CliRunner().invoke(cli, ["--store", s, "show", ref, "--json"]).output)
        assert (doc["harbor"]["agent"], doc["harbor"]["model"]) == ("terminus-2",
                                                                    "openai/gpt-a"), ref


def test_an_otel_export_of_a_harbor_job_says_its_rewards_are_there(tmp_path):
    """M1: re-importing a Harbor job's OTel export said "foreign traces carry no gold (map an
    outcome attribute with `t2e gate --reward-attr NAME`)" though its rewards came along."""
    job = tmp_path / "j"
    _trial(job, "a", 0, 1.0)
    _trial(job, "a", 1, 0.0)
    s, s2, out = (str(tmp_path / n) for n in ("s.sqlite", "s2.sqlite", "j.otel.json"))
    r = CliRunner()
    assert r.invoke(cli, ["--store", s, "import", str(job), "--name", "j"]).exit_code == 0
    res = r.invoke(cli, ["--store", s, "export", "j", "--format", "otel", "-o", out])
    assert res.exit_code == 0, res.output
    res = r.invoke(cli, ["--store", s2, "import", out, "--name", "viao"])
    said = " ".join(res.output.split())
    assert res.exit_code == 0, said
    assert "--reward-attr NAME" not in said
    assert "2 episode(s) have a reward mapped from verifier.reward (their reward_info): " \
        "kept, no --reward-attr needed" in said


def test_a_trial_graded_differently_on_reimport_gets_advice_for_harbor(tmp_path):
    """M3: the warning suggested `t2e score FILE --data DIR`, which does not apply to a
    Harbor job (no gold: its rewards are its verifier's)."""
    db = store.open_db(tmp_path / "s.sqlite")
    for name, reward in (("j", 1.0), ("j2", 0.0)):
        _trial(tmp_path / name, "a", 0, reward)
        _trial(tmp_path / name, "b", 0, 1.0)
    import_path(db, tmp_path / "j")
    said = " ".join(import_path(db, tmp_path / "j2")["warnings"])
    assert "a__k0abcde: reward 1.0 there, 0.0 here" in said
    assert "t2e score" not in said and "the gate re-scores" not in said
    assert "the rewards are Harbor's verifier's word, which t2e cannot re-score: compare " \
        "the trial's verifier output (verifier/) in each job" in said
