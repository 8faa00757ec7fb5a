"""A trajectory hash is evidence of a re-import only when the trajectory carries content
(review s15-2 S1).

Before, every Harbor trial without agent/trajectory.json hashed the same (no step), and so did
every OpenTelemetry conversation recorded with content capture off (every message "(content
not captured)"): a brand-new heldout job was taken for a re-import of another job, its role
counted as "raised after the fact", the other job's views were copied onto it and its trials
were called "the same conversation graded differently". Re-importing a job that grew paired a
trial with another trial of the same messages. Now an episode without steps or with a message
whose content was not captured matches nothing by hash, and two Harbor runs' trials match by
Harbor's trial name (unique) alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from otel_fixture import span, write_spans
from test_foreign_identity import assert_no_copy
from test_store_data import make_results, write_json

import store
from store import provenance
from store.importers import import_path


def _job(root: Path, name: str, trials: list[tuple[str, float, str | None]]) -> Path:
    """A Harbor job folder `root/name`: each trial (trial name `<task>__<id>`, verifier
    reward, what the user says in its trajectory, None: no agent/trajectory.json)."""
    job = root / name
    job.mkdir(parents=True)
    (job / "config.json").write_text(json.dumps({"job_name": name}))
    for trial, reward, said in trials:
        d = job / trial
        (d / "verifier").mkdir(parents=True)
        (d / "result.json").write_text(json.dumps({
            "task_name": trial.split("__")[0], "trial_name": trial,
            "verifier_result": {"rewards": {"reward": reward}}, "exception_info": None}))
        if said is not None:
            (d / "agent").mkdir()
            (d / "agent" / "trajectory.json").write_text(json.dumps({
                "schema_version": "ATIF-v1.6", "session_id": f"s-{trial}",
                "agent": {"name": "a", "version": "1"},
                "steps": [{"step_id": 1, "source": "user", "message": said},
                          {"step_id": 2, "source": "agent", "message": "Done."}]}))
    return job


def _nocap(path: Path, base: int, tasks=("t0", "t1")) -> Path:
    """One conversation per task, recorded with GenAI content capture off: the chat spans
    carry no input or output messages (trace and conversation ids differ by `base`)."""
    spans = []
    for i, task in enumerate(tasks):
        tr = f"{base + i:032x}"
        spans.append(span(tr, f"{base + i:016x}", "invoke_agent bot", {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.conversation.id": f"conv-{base}-{i}", "task.id": task,
            "eval.score": base % 2}, start=i * 10, end=i * 10 + 5))
        spans.append(span(tr, f"{base + i + 1:016x}", "chat m", {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "m"},
            parent=f"{base + i:016x}", start=i * 10 + 1, end=i * 10 + 2))
    return write_spans(path, spans)


def _empty_tau2(path: Path, prefix: str) -> Path:
    """A tau2 results file whose simulations have no message (ids of their own)."""
    doc = make_results(3)
    for s in doc["simulations"]:
        s["id"] = f"{prefix}-{s['id']}"
        s["messages"] = []
    return write_json(path, doc)


def _view_all(db, run_id: str) -> None:
    db.conn.execute("INSERT INTO evidence_views (episode_id, run_id, domain, task_id, "
                    "viewed_at, via) SELECT episode_id, run_id, 'd', task_id, '2026-01-01', "
                    "'show' FROM episodes WHERE run_id = ?", (run_id,))


@pytest.mark.parametrize("kind", ["harbor-no-trajectory", "otel-capture-off", "tau2-empty"])
def test_episodes_without_content_are_no_copies_of_each_other(tmp_path, kind):
    db = store.open_db(tmp_path / "s.sqlite")
    if kind == "harbor-no-trajectory":
        a = _job(tmp_path, "jobC", [("t0__RokJZpg", 0.0, None), ("t1__V2B58Tg", 0.0, None)])
        b = _job(tmp_path, "jobD", [("t0__RVGxbgK", 1.0, None), ("t1__B6s4S4T", 1.0, None)])
    elif kind == "otel-capture-off":
        a, b = _nocap(tmp_path / "a.jsonl", 3000), _nocap(tmp_path / "b.jsonl", 4001)
    else:
        a, b = _empty_tau2(tmp_path / "a.json", "a"), _empty_tau2(tmp_path / "b.json", "b")
    first = import_path(db, a, role="discovery")
    assert db.conn.execute("SELECT count(*) FROM episodes").fetchone()[0] >= 2
    _view_all(db, first["run_id"])
    later = import_path(db, b, role="heldout")
    assert_no_copy(db, first, later)


def test_a_grown_job_pairs_each_trial_with_itself(tmp_path):
    """Its trials say the same words; the one already imported keeps its reward."""
    db = store.open_db(tmp_path / "s.sqlite")
    trials = [("t0__Jn74zES", 0.0, "Help"), ("t0__4QoGWBB", 1.0, "Help")]
    first = import_path(db, _job(tmp_path / "1", "jobA", trials))
    grown = import_path(db, _job(tmp_path / "2", "jobA", [*trials, ("t0__PGhB6ad", 0.0,
                                                                     "Help")]))
    said = " ".join(grown["warnings"])
    assert "graded differently" not in said, said
    assert "2 episode(s) re-import episodes already in the store" in said, said
    eid = {(r, s): e for e, r, s in db.conn.execute(
        "SELECT episode_id, run_id, sim_id FROM episodes")}
    got = provenance._matches(db.conn, grown["run_id"])
    assert got == {eid[grown["run_id"], t]: eid[first["run_id"], t]
                   for t in ("t0__Jn74zES", "t0__4QoGWBB")}


def test_a_copied_job_is_still_a_reimport_by_trial_name(tmp_path):
    """The control: the same trials (names) under another job name, a trial without a
    trajectory among them, are the same evidence: a heldout claim on them is raised after
    the fact and the views come along."""
    db = store.open_db(tmp_path / "s.sqlite")
    trials = [("t0__Jn74zES", 0.0, "Help"), ("t1__4QoGWBB", 1.0, None)]
    first = import_path(db, _job(tmp_path / "1", "jobA", trials), role="discovery")
    _view_all(db, first["run_id"])
    later = import_path(db, _job(tmp_path / "2", "jobA2", trials), role="heldout")
    assert any("raised after the fact" in w for w in later["warnings"]), later["warnings"]
    assert len(provenance._matches(db.conn, later["run_id"])) == 2
    assert db.conn.execute("SELECT count(*) FROM evidence_views WHERE run_id = ?",
                           (later["run_id"],)).fetchone() == (2,)


def test_a_trials_trajectory_imported_alone_still_matches_by_content(tmp_path):
    """Across formats (an ATIF file, the Harbor job it came from) the content decides."""
    db = store.open_db(tmp_path / "s.sqlite")
    job = _job(tmp_path, "jobA", [("t0__Jn74zES", 1.0, "My parcel is late")])
    traj = json.loads((job / "t0__Jn74zES" / "agent" / "trajectory.json").read_text())
    traj["extra"] = {"task_id": "t0"}
    atif = write_json(tmp_path / "alone.json", traj)
    import_path(db, atif, role="discovery")
    later = import_path(db, job, role="heldout")
    assert any("raised after the fact" in w for w in later["warnings"]), later["warnings"]
