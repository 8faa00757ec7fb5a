"""How a Harbor job's trials are scored (review s15-rev2 B1, S3, M1, M2).

B1: a trial that ended in an exception (AgentTimeoutError) has no verifier result. t2e kept it
unscored and left it out of every figure, so a candidate that timed out on 18 of 39 trials
gated SUPPORTED (reward 1.0). Harbor's own mean (harbor/metrics/mean.py) counts a trial
without a reward as 0: so does t2e now, and the gate sees those trials.
S3: one reward outside [0, 1] refused the whole job in tau2's words; Harbor allows any number.
M1/M2: a bad verifier_result or start time passed without a word; `t2e import .` in a trial
folder named the run "unnamed".
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

import store
from store.importers import ImportFailure, import_path
from t2e_tui.cli import cli

TIMEOUT = {"exception_type": "AgentTimeoutError",
           "exception_message": "Agent timed out after 600.0 seconds",
           "exception_traceback": "Traceback ...", "occurred_at": "2026-03-01T10:10:00"}


def _trial(job: Path, task: str, k: int, reward: object = None, exc: dict | None = None,
           **extra: object) -> Path:
    t = job / f"{task}__k{k}abcde"
    (t / "agent").mkdir(parents=True)
    res = {"task_name": task, "trial_name": t.name,
           "agent_info": {"name": "terminus-2", "model_info": {"name": "gpt-x"}},
           "agent_result": {"n_input_tokens": 1200, "n_output_tokens": 90, "cost_usd": 0.002},
           "verifier_result": None if reward is None else {"rewards": {"reward": reward}},
           "exception_info": exc, "started_at": "2026-03-01T10:00:00",
           "finished_at": "2026-03-01T10:01:40", **extra}
    (t / "result.json").write_text(json.dumps(res))
    return t


def _job(root: Path, name: str, plan) -> Path:
    """A Harbor job `name`: plan(task index, trial k) -> (reward or None, exception or None)
    for 13 tasks x 3 trials."""
    job = root / name
    job.mkdir()
    (job / "config.json").write_text(json.dumps({"job_name": name}))
    for i in range(13):
        for k in range(3):
            reward, exc = plan(i, k)
            _trial(job, f"task-{i:02d}", k, reward, exc)
    return job


def test_a_trial_that_timed_out_counts_0_as_harbor_counts_it(tmp_path):
    db = store.open_db(tmp_path / "s.sqlite")
    job = tmp_path / "j"
    _trial(job, "a", 0, 1.0)
    _trial(job, "a", 1, None, TIMEOUT)
    entry = import_path(db, job)
    rows = db.conn.execute("SELECT reward, success, termination_reason, reward_info_json FROM "
                           "episodes ORDER BY ord").fetchall()
    assert [r[:3] for r in rows] == [(1.0, 1, None), (0.0, 0, "AgentTimeoutError")]
    info = json.loads(rows[1][3])["info"]
    assert info["mapped_from"] == "verifier.reward"
    assert info["no_verifier_result"] == "AgentTimeoutError"
    said = " ".join(entry["warnings"])
    assert "1 trial(s) ended on an exception with no verifier reward (AgentTimeoutError)" \
        in said and "reward 0, as Harbor's own mean counts them" in said
    assert "stay unscored" not in said


def test_the_gate_sees_the_trials_that_timed_out(tmp_path):
    """The reviewer's jobP/jobQ: Harbor's mean 24/39 -> 21/39: never SUPPORTED."""
    p = _job(tmp_path, "jobP", lambda i, k: (1.0 if i < 8 else 0.0, None))
    q = _job(tmp_path, "jobQ", lambda i, k: (1.0, None) if i < 4 or k == 0
             else (None, TIMEOUT))
    s = str(tmp_path / "s.sqlite")
    r = CliRunner()
    for j in (p, q):
        assert r.invoke(cli, ["--store", s, "import", str(j), "--role", "heldout"]).exit_code \
            == 0
    res = r.invoke(cli, ["--store", s, "gate", "jobP", "jobQ", "--json"])
    doc = json.loads(res.output)
    assert res.exit_code != 4 and doc["verdict"] != "supported"
    assert abs(doc["metrics"]["candidate"]["reward"] - 21 / 39) < 1e-9
    assert abs(doc["metrics"]["baseline"]["reward"] - 24 / 39) < 1e-9
    assert doc["metrics"]["candidate"]["unscored"] == []


def test_a_reward_outside_0_1_leaves_the_jobs_rewards_unmapped(tmp_path):
    db = store.open_db(tmp_path / "s.sqlite")
    job = tmp_path / "j"
    _trial(job, "a", 0, 1.0)
    _trial(job, "a", 1, 2.0)
    _trial(job, "b", 0, None, TIMEOUT)
    entry = import_path(db, job)
    rows = db.conn.execute("SELECT reward, extra_json FROM episodes ORDER BY ord").fetchall()
    assert [r[0] for r in rows] == [None, None, None]
    assert json.loads(rows[1][1])["atif"]["attributes"]["verifier.reward"] == 2.0
    said = " ".join(entry["warnings"])
    assert "a__k1abcde" in said and "2.0" in said and "tau2" not in said
    assert "outside [0, 1]" in said and "all stay unmapped" in said
    assert "mapped from verifier.reward at the import" not in said


def test_a_verifier_result_of_another_type_is_refused_named(tmp_path):
    db = store.open_db(tmp_path / "s.sqlite")
    job = tmp_path / "j"
    t = _trial(job, "a", 0, 1.0)
    res = json.loads((t / "result.json").read_text())
    (t / "result.json").write_text(json.dumps(dict(res, verifier_result=[1.0])))
    try:
        import_path(db, job)
    except ImportFailure as exc:
        assert "a__k0abcde/result.json: field verifier_result should be an object, found a " \
               "list" in str(exc)
    else:
        raise AssertionError("a list verifier_result was imported")


def test_a_start_time_that_is_no_time_is_warned_and_left_out(tmp_path):
    db = store.open_db(tmp_path / "s.sqlite")
    job = tmp_path / "j"
    _trial(job, "a", 0, 1.0, started_at="yesterday")
    entry = import_path(db, job)
    assert db.conn.execute("SELECT start_time FROM episodes").fetchone() == (None,)
    said = " ".join(entry["warnings"])
    assert "a__k0abcde/result.json: started_at \"yesterday\" is no ISO 8601 time" in said


def test_a_folder_name_that_is_not_utf8_is_refused_named(tmp_path):
    job = tmp_path / "j"
    _trial(job, "a", 0, 1.0)
    bad = os.fsdecode(b"b\xff\xfe__k0abcde")
    os.rename(job / "a__k0abcde", job / bad)
    res = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), "import", str(job)])
    assert res.exit_code == 2, res.output
    assert "not UTF-8" in res.output and "UnicodeEncodeError" not in res.output
    assert "b\\xff\\xfe__k0abcde" in res.output


def test_import_dot_in_a_trial_folder_names_the_run_from_the_folder(tmp_path, monkeypatch):
    t = _trial(tmp_path / "j", "a", 0, 1.0)
    monkeypatch.chdir(t)
    s = str(tmp_path / "s.sqlite")
    res = CliRunner().invoke(cli, ["--store", s, "import", "."])
    assert res.exit_code == 0, res.output
    db = store.open_db(s)
    assert db.conn.execute("SELECT name FROM runs").fetchone() == ("a__k0abcde",)
    # (the source was stored as "." too, which says nothing once the shell has moved on: the
    # folder it stood for)
    assert db.conn.execute("SELECT path FROM sources").fetchone() == (str(t.resolve()),)


def test_the_words_say_the_rewards_are_harbors_verifiers(tmp_path):
    """C2: nobody passed --reward-attr: the gate, its report, `t2e runs` and `t2e show` said
    "mapped from outcome attribute verifier.reward (--reward-attr)", "no gold: `t2e gate
    --reward-attr NAME` maps an outcome" and "its rewards are the file's word"."""
    p = _job(tmp_path, "jobP", lambda i, k: (1.0 if i < 8 else 0.0, None))
    q = _job(tmp_path, "jobQ", lambda i, k: (1.0, None) if i < 4 or k == 0
             else (None, TIMEOUT))
    s = str(tmp_path / "s.sqlite")
    r = CliRunner()
    for j in (p, q):
        assert r.invoke(cli, ["--store", s, "import", str(j)]).exit_code == 0
    md = tmp_path / "r.md"
    res = r.invoke(cli, ["--store", s, "gate", "jobP", "jobQ", "--report", "markdown",
                         str(md)])
    said = res.output + md.read_text()
    assert "rewards: baseline and candidate from Harbor's verifier reward (verifier.reward, " \
           "mapped at import)" in res.output
    assert "--reward-attr" not in said and "the file's word" not in said
    assert "its rewards are Harbor's verifier's word" in said
    res = r.invoke(cli, ["--store", s, "runs", "--table"])
    assert "not re-scorable here (no gold: Harbor's verifier reward as given)" in res.output
    assert "--reward-attr" not in res.output
    res = r.invoke(cli, ["--store", s, "show", "jobP:task-00"])
    assert "the reward is Harbor's verifier reward, verifier.reward, mapped at import" in \
        " ".join(res.output.split())


def test_show_gives_the_trials_exception_usage_and_missing_trajectory(tmp_path):
    """C5: the exception message, token counts and cost were stored but shown nowhere; a
    trial without a trajectory was an empty episode with no note."""
    job = tmp_path / "j"
    _trial(job, "a", 0, None, TIMEOUT)
    s = str(tmp_path / "s.sqlite")
    r = CliRunner()
    assert r.invoke(cli, ["--store", s, "import", str(job), "--name", "j"]).exit_code == 0
    res = r.invoke(cli, ["--store", s, "show", "j:a"], terminal_width=200)
    assert "Harbor exception: AgentTimeoutError: Agent timed out after 600.0 seconds" \
        in res.output
    assert "Harbor agent terminus-2 gpt-x: input tokens 1200, output tokens 90, cost $0.002" \
        in res.output
    assert "no agent/trajectory.json (the agent wrote no ATIF trajectory)" in res.output
    doc = json.loads(r.invoke(cli, ["--store", s, "show", "j:a", "--json"]).output)
    assert doc["harbor"] == {
        "trial": "a__k0abcde", "agent": "terminus-2", "model": "gpt-x",
        "exception_type": "AgentTimeoutError",
        "exception_message": "Agent timed out after 600.0 seconds", "n_input_tokens": 1200,
        "n_cache_tokens": None, "n_output_tokens": 90, "cost_usd": 0.002,
        "trajectory": False}
    assert doc["agent_cost"] == 0.002  # (the episode's agent cost, as tau2's)


def test_a_job_of_several_agents_gives_advice_that_can_be_followed(tmp_path):
    """C3: "import each agent's job apart" cannot be done: Harbor writes one folder."""
    db = store.open_db(tmp_path / "s.sqlite")
    job = tmp_path / "j"
    _trial(job, "a", 0, 1.0)
    t = _trial(job, "a", 1, 0.0)
    res = json.loads((t / "result.json").read_text())
    res["agent_info"] = {"name": "claude-code", "model_info": {"name": "claude-x"}}
    (t / "result.json").write_text(json.dumps(res))
    said = " ".join(import_path(db, job)["warnings"])
    assert "import each agent's job apart" not in said
    assert "2 agent(s) (claude-code, terminus-2)" in said
    assert "run each agent as its own Harbor job" in said


def test_what_a_job_holds_but_t2e_does_not_read_is_named(tmp_path):
    """M1: a trial folder linked from outside the job was passed over without a word; a
    compressed trajectory was reported as "the agent wrote no ATIF trajectory"; a null
    reward was "found null null"."""
    db = store.open_db(tmp_path / "s.sqlite")
    job = tmp_path / "j"
    t = _trial(job, "a", 0, 1.0)
    (t / "agent" / "trajectory.json.gz").write_bytes(b"\x1f\x8b")
    elsewhere = _trial(tmp_path / "other", "b", 0, 1.0)
    (job / "b__linked1").symlink_to(elsewhere)
    said = " ".join(import_path(db, job)["warnings"])
    assert "b__linked1 links outside the job: skipped" in said
    assert "1 of them have it compressed (agent/trajectory.json.gz, ...): decompress it" \
        in said
    _trial(tmp_path / "n", "c", 0, None).joinpath("result.json").write_text(json.dumps(
        {"task_name": "c", "verifier_result": {"rewards": {"reward": None}}}))
    try:
        import_path(db, tmp_path / "n")
    except ImportFailure as exc:
        assert str(exc).endswith("field verifier_result.rewards.reward should be a number, "
                                 "found null")
    else:
        raise AssertionError("a null reward was imported")


def test_import_help_names_harbor_folders():
    res = CliRunner().invoke(cli, ["import", "--help"])
    assert "Harbor job and trial folders" in " ".join(res.output.split())
