"""A rerun exports as a tau2 results file and our importer reads it back unchanged."""

from __future__ import annotations

import json
import sqlite3

from click.testing import CliRunner
from stub_openai import StubOpenAI
from test_engine_crash import agent

from t2e_tui.cli import cli
from t2e_tui.engine.engine import execute_run
from t2e_tui.engine.manifest import store_trajectory_hash
from t2e_tui.engine.plan import plan_run


def _invoke(store, *args):
    res = CliRunner().invoke(cli, ["--store", str(store), *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def roundtrip(tmp_path, run_id, store):
    out = tmp_path / "export.json"
    _invoke(store, "export", run_id, "--format", "tau2", "-o", str(out))
    data = json.loads(out.read_text())
    assert {"info", "tasks", "simulations"} <= set(data)
    imported = json.loads(_invoke(store, "import", str(out), "--json"))["imported"][0]["run_id"]
    conn = sqlite3.connect(store)
    cols = "task_id, trial, termination_reason, reward, db_match, n_steps, n_tool_calls"
    a = conn.execute(f"SELECT {cols} FROM episodes WHERE run_id = ? ORDER BY ord",
                     (run_id,)).fetchall()
    b = conn.execute(f"SELECT {cols} FROM episodes WHERE run_id = ? ORDER BY ord",
                     (imported,)).fetchall()
    assert a == b and len(a) > 0
    assert store_trajectory_hash(conn, run_id) == store_trajectory_hash(conn, imported)
    return data


def test_openai_rerun_exports_as_tau2_and_reimports_unchanged(tmp_path):
    store = tmp_path / "s.sqlite"
    with StubOpenAI(responder=agent) as stub:
        p = plan_run(tasks="heldout", num_tasks=3, trials=2, model="openai:a",
                     base_url=stub.base_url, api_key_env="", max_steps=12)
        s = execute_run(p, str(store))
    data = roundtrip(tmp_path, s.run_id, store)
    sims = data["simulations"]
    assert len(sims) == 6 and len({x["id"] for x in sims}) == 6
    assert sims[0]["messages"][0]["content"] == "Hi! How can I help you today?"
    from world.domains import load_domain
    assert data["info"]["environment_info"]["policy"] == load_domain("mini-retail").policy
    assert data["info"]["agent_info"]["llm"] == "openai:a"


def test_scripted_rerun_exports_as_tau2_and_reimports_unchanged(tmp_path):
    store = tmp_path / "s.sqlite"
    s = execute_run(plan_run(tasks="dev", trials=2, grade="db-communicate"), str(store))
    data = roundtrip(tmp_path, s.run_id, store)
    assert len(data["simulations"]) == 80
    conn = sqlite3.connect(store)
    rewards = conn.execute("SELECT reward FROM episodes").fetchall()
    assert any(r[0] == 1.0 for r in rewards) and any(r[0] == 0.0 for r in rewards)
