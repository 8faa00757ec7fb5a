"""Harbor job and trial folders (review s15 S3).

Before: `t2e import JOB` refused the job's result.json and skipped its trial folders ("a
folder that is no tau2 results directory"), `t2e import TRIAL` refused config.json and
result.json, and the trials' agent/trajectory.json files, named one by one, were a run each,
all named "trajectory", without the verifier's reward: two Harbor jobs could not be gated.
Now a job is one run (named by its config's job_name), a trial one episode with its task and
its verifier reward (foreign evidence, stored as mapped from `verifier.reward`).

The fixture (tests/fixtures/harbor/job_a) is hand-made after Harbor's JobConfig, JobResult,
TrialConfig and TrialResult models: two trials of refund-order (rewards 1 and 0) and one of
track-parcel that timed out (no trajectory, no verifier result).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import store
from store.importers import ImportFailure, detect_format, folder_files, import_path
from t2e_tui.cli import cli

JOB = Path(__file__).parent / "fixtures" / "harbor" / "job_a"
T1 = "refund-order__Ab3dE5f"


def _episodes(db):
    return db.conn.execute(
        "SELECT task_id, trial, reward, termination_reason, n_steps FROM episodes "
        "ORDER BY ord").fetchall()


def test_a_job_is_one_run_of_its_trials(tmp_path):
    db = store.open_db(tmp_path / "s.sqlite")
    assert detect_format(JOB) == "harbor" and folder_files(JOB) == [JOB]
    entry = import_path(db, JOB)
    assert entry["episodes"] == 3
    assert db.conn.execute("SELECT name, grading, agent_model, domain FROM runs").fetchall() \
        == [("support-gpt-a", "foreign", "openai/model-a", "harbor")]
    assert _episodes(db) == [("refund-order", 0, 1.0, None, 4),
                             ("refund-order", 1, 0.0, None, 4),
                             ("track-parcel", None, 0.0, "AgentTimeoutError", 0)]
    (ri, extra), = db.conn.execute("SELECT reward_info_json, extra_json FROM episodes "
                                   "WHERE ord = 0").fetchall()
    assert json.loads(ri)["info"]["mapped_from"] == "verifier.reward"
    ex = json.loads(extra)
    assert ex["atif"]["attributes"]["verifier.reward"] == 1.0
    assert ex["harbor"]["result"]["trial_name"] == T1
    steps = db.conn.execute("SELECT role, content FROM steps s JOIN episodes e USING "
                            "(episode_id) WHERE e.ord = 0 ORDER BY idx").fetchall()
    assert steps[0] == ("user", "Please help with refund-order.")
    said = " ".join(entry["warnings"])
    assert "1 trial(s) have no agent/trajectory.json" in said
    assert "1 trial(s) ended on an exception with no verifier reward " \
           "(AgentTimeoutError): reward 0, as Harbor's own mean counts them" in said
    assert "not re-scorable here" in said


def test_a_trial_is_one_run_of_one_episode(tmp_path):
    db = store.open_db(tmp_path / "s.sqlite")
    assert detect_format(JOB / T1) == "harbor"
    entry = import_path(db, JOB / T1)
    assert entry["episodes"] == 1
    assert _episodes(db) == [("refund-order", None, 1.0, None, 4)]
    assert db.conn.execute("SELECT name FROM runs").fetchone() == (T1,)
    assert import_path(db, JOB / T1)["duplicate"]


def _job_b(tmp_path: Path, rewards: dict[str, object]) -> Path:
    """A copy of job_a named support-gpt-b whose trials' verifier rewards are `rewards`."""
    job = tmp_path / "job_b"
    shutil.copytree(JOB, job)
    cfg = json.loads((job / "config.json").read_text())
    (job / "config.json").write_text(json.dumps(dict(cfg, job_name="support-gpt-b")))
    for trial, reward in rewards.items():
        res = json.loads((job / trial / "result.json").read_text())
        res["verifier_result"] = {"rewards": {"reward": reward}}
        res["exception_info"] = None
        (job / trial / "result.json").write_text(json.dumps(res))
    return job


def test_two_jobs_gate_on_the_verifier_reward(tmp_path):
    job_b = _job_b(tmp_path, {"refund-order__Zy9xW8v": 1.0, "track-parcel__Qw2eR4t": 1.0})
    s = str(tmp_path / "s.sqlite")
    res = CliRunner().invoke(cli, ["--store", s, "import", str(JOB), str(job_b)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["--store", s, "gate", "support-gpt-a", "support-gpt-b",
                                   "--json"])
    assert res.exit_code in (1, 3, 4), res.output
    doc = json.loads(res.stdout)
    assert abs(doc["metrics"]["baseline"]["reward"] - 1 / 3) < 1e-9  # (the timeout: 0)
    assert doc["metrics"]["candidate"]["reward"] == 1.0


def test_a_folder_of_jobs_is_a_run_per_job(tmp_path):
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    shutil.copytree(JOB, jobs / "a")
    _job_b(tmp_path, {}).rename(jobs / "b")
    db = store.open_db(tmp_path / "s.sqlite")
    from store.importers import import_paths

    out = import_paths(db, [jobs])
    assert not out["rejected"] and not out["skipped"], out
    assert sorted(r for (r,) in db.conn.execute("SELECT name FROM runs")) == [
        "support-gpt-a", "support-gpt-b"]


@pytest.mark.parametrize("value, said", [
    ("1.0", r"refund-order__Ab3dE5f/result\.json: field verifier_result\.rewards\.reward "
            r"should be a number, found text \"1\.0\""),
    ("NaN", r"refund-order__Ab3dE5f/verifier/reward\.txt: the reward should be a finite "
            r"number, found nan"),
], ids=["text", "nan"])
def test_a_bad_reward_names_the_file_and_field(tmp_path, value, said):
    job = _job_b(tmp_path, {T1: value})
    if value == "NaN":  # (JSON has no NaN: the verifier's reward.txt may say it)
        res = json.loads((job / T1 / "result.json").read_text())
        (job / T1 / "result.json").write_text(json.dumps(dict(res, verifier_result=None)))
        (job / T1 / "verifier" / "reward.txt").write_text("nan\n")
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure, match=said):
        import_path(db, job)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_bad_json_and_bad_trajectories_name_the_file(tmp_path):
    job = _job_b(tmp_path, {})
    (job / T1 / "result.json").write_text('{"task_name": "x",\n "verifier_result": NaN}')
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure, match=r"refund-order__Ab3dE5f/result\.json: .*NaN"):
        import_path(db, job)
    shutil.copy(JOB / T1 / "result.json", job / T1 / "result.json")
    traj = json.loads((job / T1 / "agent" / "trajectory.json").read_text())
    traj["steps"][2]["source"] = "robot"
    (job / T1 / "agent" / "trajectory.json").write_text(json.dumps(traj))
    with pytest.raises(ImportFailure, match=r"refund-order__Ab3dE5f/agent/trajectory\.json, "
                                            r"step #2 \(step_id 3\): 'source' should be"):
        import_path(db, job)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_reward_read_from_verifier_files_without_a_result(tmp_path):
    job = _job_b(tmp_path, {})
    (job / T1 / "result.json").unlink()
    (job / T1 / "verifier" / "reward.txt").write_text("0.25\n")
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, job)
    assert _episodes(db)[0][:3] == ("refund-order", 0, 0.25)
    assert any("1 trial(s) have no result.json" in w for w in entry["warnings"])


@pytest.mark.parametrize("src", [JOB, Path(__file__).parent / "fixtures" / "atif"
                                  / "support_v17.json"], ids=["harbor", "atif"])
def test_a_jsonl_export_of_an_atif_or_harbor_run_imports_again(tmp_path, src):
    """Its episodes carry the ATIF schema_version in their atif blocks: the export was sniffed
    as an ATIF file and refused ("invalid JSON at character 870 (line 1): extra data")."""
    s, s2 = str(tmp_path / "s.sqlite"), str(tmp_path / "s2.sqlite")
    out = tmp_path / "x.jsonl"
    res = CliRunner().invoke(cli, ["--store", s, "import", str(src), "--name", "r"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["--store", s, "export", "r", "--format", "jsonl", "-o",
                                   str(out)])
    assert res.exit_code == 0, res.output
    assert detect_format(out) == "t2e-jsonl"
    res = CliRunner().invoke(cli, ["--store", s2, "import", str(out)])
    assert res.exit_code == 0, res.output
    a, b = store.open_db(s), store.open_db(s2)
    q = "SELECT task_id, reward, n_steps FROM episodes ORDER BY ord"
    assert a.conn.execute(q).fetchall() == b.conn.execute(q).fetchall()


@pytest.mark.parametrize("target, said", [
    ("outside", r"refund-order__Ab3dE5f/agent/trajectory\.json links outside the folder"),
    ("nowhere", r"refund-order__Ab3dE5f/agent/trajectory\.json is a symbolic link to a file "
                r"that does not exist"),
], ids=["out", "dangling"])
def test_only_files_inside_the_job_are_read(tmp_path, target, said):
    job = _job_b(tmp_path, {})
    traj = job / T1 / "agent" / "trajectory.json"
    outside = tmp_path / "elsewhere.json"
    if target == "outside":
        shutil.copy(traj, outside)
    traj.unlink()
    traj.symlink_to(outside)
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure, match=said):
        import_path(db, job)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
