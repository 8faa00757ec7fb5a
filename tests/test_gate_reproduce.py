"""A scoreboard row of scripted runs is reproducible from the manifests it carries: rerunning
them into a fresh store gives the same trajectories and the same verdict."""

from __future__ import annotations

import importlib.util
import json

import pytest
from click.testing import CliRunner

from t2e_tui.cli import cli

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("t2e_tui.engine.scripted_agent") is None,
    reason="the engine's scripted agent has not landed")


def _cli(store, *args):
    res = CliRunner().invoke(cli, ["--store", store, *args])
    return res.exit_code, res.output


def test_scoreboard_row_reproduces_from_its_manifests(tmp_path):
    import store
    from t2e_tui.candidates import Candidate, packaged_baseline
    from t2e_tui.engine.engine import execute_run
    from t2e_tui.engine.manifest import store_trajectory_hash
    from t2e_tui.engine.plan import plan_from_manifest

    fix = tmp_path / "fix.md"
    fix.write_text("---\nname: cross-order\nparent: baseline\n---\n" + packaged_baseline().body
                   + "\n- When the customer wants the same item as one they already received, "
                     "look up their delivered orders.\n")
    first = str(tmp_path / "first.sqlite")
    common = ["run", "--tasks", "heldout", "--noise", "0.1", "--json"]
    code, out = _cli(first, *common, "--seed", "21", "--name", "A")
    assert code == 0, out
    code, out = _cli(first, *common, "--seed", "22", "--name", "B", "--candidate", str(fix))
    assert code == 0, out
    gate_code, out = _cli(first, "gate", "A", "B", "--json")
    verdict = json.loads(out)
    row = json.loads(_cli(first, "scoreboard", "--json")[1])[0]
    assert row["source_sha256"] == []
    assert set(row["manifests"]) == {"baseline", "candidate"}
    # the row cites each manifest by hash; --manifests ROW gives the documents behind them
    code, out = _cli(first, "scoreboard", "--manifests", str(row["row"]))
    assert code == 0, out
    full = json.loads(out)
    for side in ("baseline", "candidate"):
        assert full[side]["sha256"] == row["manifests"][side]["sha256"]
        assert full[side]["run_id"] == row["manifests"][side]["run_id"]

    # rerun both sides from the row alone (plus candidate bodies, content-addressed)
    second = str(tmp_path / "second.sqlite")
    conn1 = store.connect(first)
    ids = {}
    for side in ("baseline", "candidate"):
        manifest = full[side]["manifest"]
        chash = manifest["candidate"]["hash"]
        name, body = conn1.execute("SELECT name, body FROM candidates WHERE candidate_hash = ?",
                                   (chash,)).fetchone()
        plan = plan_from_manifest(manifest, Candidate(name=name, body=body),
                                  run_name=f"repro-{side}", role="synthetic")
        summary = execute_run(plan, second)
        ids[side] = summary.run_id
        assert summary.trajectory_hash == store_trajectory_hash(
            conn1, full[side]["run_id"])
    conn1.close()
    code, out = _cli(second, "gate", ids["baseline"], ids["candidate"], "--json")
    again = json.loads(out)
    assert code == gate_code
    assert again["decision"] == verdict["decision"]
    assert again["stats"]["p_value"] == verdict["stats"]["p_value"]
    assert again["stats"]["fixes"] == verdict["stats"]["fixes"]
    assert again["stats"]["regressions"] == verdict["stats"]["regressions"]
    assert (again["stats"]["ci_low"], again["stats"]["ci_high"]) == (
        verdict["stats"]["ci_low"], verdict["stats"]["ci_high"])
