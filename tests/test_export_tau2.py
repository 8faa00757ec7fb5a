"""Export: tau2 files that re-import unchanged; atomic writes; datasette reads the store."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_store_data import make_results, write_json

import store
from store import StoreError
from store.exporters import export_dict, export_run
from store.importers import import_path


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "s.sqlite")


def test_shared_file_export_reimports_unchanged(db, tmp_path, shared_results):
    for path in shared_results:
        src = json.loads(path.read_text())
        rid = import_path(db, path)["run_id"]
        out = tmp_path / f"{path.stem}.export.json"
        assert export_run(db, rid, "tau2", out) == 40
        exported = json.loads(out.read_text())
        prov = exported.pop("t2e_provenance")   # where the evidence comes from (#10)
        assert prov["role"] == prov["created_role"] == "discovery" and prov["run_id"] == rid
        assert exported == src  # every key and value, numbers equal, message order
        for a, b in zip(exported["simulations"], src["simulations"]):
            assert [m.get("turn_idx") for m in a["messages"]] == \
                [m.get("turn_idx") for m in b["messages"]]
        db2 = store.open_db(tmp_path / f"{path.stem}.sqlite")
        again = import_path(db2, out)
        assert again["warnings"] == [] and again["duplicate"] is False
        assert export_dict(db2, again["run_id"]) == src


def test_rerun_exports_as_valid_tau2(db):
    """A run written by the engine API (no source file) exports with the tau2 top level."""
    from store import writer

    rid = writer.create_run(db, name="rerun", domain="mini-retail", agent_model="scripted",
                            user_model="scripted-user", num_trials=1, max_steps=30, seed=7)
    writer.put_tasks(db, rid, [{"id": "t1", "evaluation_criteria": {"actions": []}}])
    eid = writer.begin_episode(db, rid, episode_key="t1:0", task_id="t1", trial=0)
    names: dict = {}
    msgs = [{"role": "assistant", "content": "Hi!"},
            {"role": "user", "content": "cancel please", "turn_idx": 1},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "name": "get_order_details", "arguments": {"order_id": "#W1"},
                 "requestor": "assistant"}]},
            {"role": "tool", "id": "c1", "content": "{}", "error": False}]
    for i, m in enumerate(msgs):
        writer.append_step(db, eid, i, m, tool_names=names)
    writer.finish_episode(db, eid, termination_reason="user_stop",
                          reward_info={"reward": 1.0, "reward_basis": ["DB"]})
    unfinished = writer.begin_episode(db, rid, episode_key="t1:1", task_id="t1", trial=1)
    out = export_dict(db, rid)
    assert set(out) == {"timestamp", "info", "tasks", "simulations"}
    assert out["info"]["agent_info"]["llm"] == "scripted"
    assert out["info"]["environment_info"]["domain_name"] == "mini-retail"
    (sim,) = out["simulations"]  # the running episode is not exported
    assert unfinished and sim["messages"] == msgs
    assert sim["task_id"] == "t1" and sim["reward_info"]["reward"] == 1.0


def test_export_is_atomic_and_checks_target(db, tmp_path, monkeypatch):
    from store import exporters

    rid = import_path(db, write_json(tmp_path / "r.json", make_results(2)))["run_id"]
    target = tmp_path / "out.json"
    target.write_text("previous")

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(exporters, "simulation", boom)
    with pytest.raises(RuntimeError):
        export_run(db, rid, "tau2", target)
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    with pytest.raises(StoreError, match="is a directory"):
        export_run(db, rid, "jsonl", tmp_path)
    with pytest.raises(StoreError, match="unknown export format"):
        export_run(db, rid, "csv", target)


def test_export_into_a_missing_directory_is_refused(db, tmp_path):
    rid = import_path(db, write_json(tmp_path / "r.json", make_results(2)))["run_id"]
    missing = tmp_path / "nope" / "deeper" / "x.json"
    with pytest.raises(StoreError, match=r"directory .*nope.*deeper does not exist"):
        export_run(db, rid, "tau2", missing)
    assert not (tmp_path / "nope").exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="is not a directory"):
        export_run(db, rid, "tau2", blocker / "x.json")


def test_datasette_reads_the_store(db, tmp_path):
    exe = Path(sys.executable).with_name("datasette")
    if not exe.exists() and not shutil.which("datasette"):
        pytest.skip("datasette is not installed")
    import_path(db, write_json(tmp_path / "r.json", make_results(2)))
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    proc = subprocess.run([str(exe if exe.exists() else "datasette"), "inspect",
                           str(tmp_path / "s.sqlite")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    tables = json.loads(proc.stdout)["s"]["tables"]
    assert tables["episodes"]["count"] == 2 and tables["steps"]["count"] == 12
    assert {"runs", "tasks", "checks", "tool_calls", "evidence_views", "gate_decisions"} <= set(
        tables)
