"""A reward is a number in [0, 1] (tau2's is a product of components in [0, 1]): a recorded
reward outside it is refused in every importer that reads one (tau2 files and directories,
tau2 1.x, JSON Lines, our OpenTelemetry export's `t2e.reward_info`), naming the file, the
record and the field, nothing written; `t2e gate --reward-attr` refuses a mapping whose value
lies outside it, naming the run, the episode and the value, and changes neither run.
(Before: a reward of 7 imported silently, `t2e runs` showed reward 5.000, and the gate
averaged it: "reward 1.0000 -> 3.0000, 1 task(s) up", reward_improved passed.)"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from otel_fixture import msgs, request, span, text
from test_store_data import make_results

from t2e_tui.cli.main import cli

FIX_1X = Path(__file__).parent / "fixtures" / "tau2_1x" / "voice_run"


def _import(st: Path, *paths: Path, name: str | None = None):
    args = ["--store", str(st), "import", "--json", *map(str, paths)]
    if name:
        args += ["--name", name]
    r = CliRunner().invoke(cli, args)
    return r, json.loads(r.stdout) if r.stdout.strip().startswith("{") else None


def _counts(st: Path) -> tuple:
    """Rows of a store the import may have made (a store it never made holds none)."""
    import store

    conn = store.connect(st)
    try:
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("runs", "sources", "episodes", "steps"))
    finally:
        conn.close()


@pytest.mark.parametrize("worker", ["0", "1"])
@pytest.mark.parametrize("bad", [7, -1, 1.0000001, -0.5])
def test_a_tau2_reward_outside_0_1_is_refused(tmp_path, monkeypatch, worker, bad):
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)  # in-process and the worker process
    data = make_results(3)
    sid = data["simulations"][1]["id"]
    data["simulations"][1]["reward_info"]["reward"] = bad
    f = tmp_path / "reward.json"
    f.write_text(json.dumps(data))
    st = tmp_path / "s.sqlite"
    r, out = _import(st, f)
    assert r.exit_code == 2, r.output
    (err,) = [e["error"] for e in out["rejected"]]
    assert err.startswith(f"{f}: simulation #1 (id {sid}): reward_info.reward {bad} is outside "
                          "[0, 1]"), err
    assert out["imported"] == [] and _counts(st) == (0, 0, 0, 0)


@pytest.mark.parametrize("worker", ["0", "1"])
def test_rewards_at_the_ends_of_the_range_import(tmp_path, monkeypatch, worker):
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    data = make_results(4)
    for sim, r in zip(data["simulations"], (0, 1, 0.0, 1.0)):
        sim["reward_info"]["reward"] = r
    f = tmp_path / "ok.json"
    f.write_text(json.dumps(data))
    st = tmp_path / "s.sqlite"
    r, out = _import(st, f)
    assert r.exit_code == 0, r.output
    conn = sqlite3.connect(st)
    assert [x for (x,) in conn.execute("SELECT reward FROM episodes ORDER BY ord")] == [0, 1, 0, 1]


@pytest.mark.parametrize("worker", ["0", "1"])
def test_a_tau2_1x_directory_reward_outside_0_1_is_refused(tmp_path, monkeypatch, worker):
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    d = tmp_path / "run"
    shutil.copytree(FIX_1X, d)
    sim_file = d / "simulations" / "sim-text-2.json"
    sim = json.loads(sim_file.read_text())
    sim["reward_info"]["reward"] = 3
    sim_file.write_text(json.dumps(sim))
    st = tmp_path / "s.sqlite"
    r, out = _import(st, d)
    assert r.exit_code == 2, r.output
    (err,) = [e["error"] for e in out["rejected"]]
    assert "(id sim-text-2): reward_info.reward 3 is outside [0, 1]" in err, err
    assert err.startswith(f"{d}: "), err
    assert _counts(st) == (0, 0, 0, 0)


def test_jsonl_reward_outside_0_1_is_refused_in_either_field(tmp_path):
    st = tmp_path / "s.sqlite"
    good = {"run": "x", "task_id": "7", "trial": 0, "messages": []}
    short = tmp_path / "short.jsonl"
    short.write_text(json.dumps({**good, "reward": 1}) + "\n"
                     + json.dumps({**good, "trial": 1, "reward": 5}) + "\n")
    full = tmp_path / "full.jsonl"
    full.write_text(json.dumps({**good, "reward_info": {"reward": -0.25}}) + "\n")
    r, out = _import(st, short, full)
    assert r.exit_code == 2, r.output
    errs = {e["path"]: e["error"] for e in out["rejected"]}
    assert errs[str(short)] == f"{short}: line 2: 'reward' 5 is outside [0, 1] (a tau2 " \
                               "reward is a product of components in [0, 1])"
    assert errs[str(full)].startswith(f"{full}: line 1: simulation #0: reward_info.reward -0.25 "
                                      "is outside [0, 1]"), errs[str(full)]
    assert _counts(st) == (0, 0, 0, 0)


def _otel_file(path: Path, reward_info: dict) -> Path:
    tr = "e" * 32
    spans = [span(tr, "r1", "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent",
                                                  "t2e.reward_info": json.dumps(reward_info)},
                  start=0, end=10),
             span(tr, "c1", "chat m", {"gen_ai.operation.name": "chat",
                                       "gen_ai.input.messages": msgs(text("user", "hi")),
                                       "gen_ai.output.messages": msgs(text("assistant", "ok"))},
                  parent="r1", start=1, end=2)]
    path.write_text(json.dumps(request(spans)) + "\n")
    return path


@pytest.mark.parametrize("worker", ["0", "1"])
def test_otel_t2e_reward_info_outside_0_1_is_refused(tmp_path, monkeypatch, worker):
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    st = tmp_path / "s.sqlite"
    f = _otel_file(tmp_path / "t.jsonl", {"reward": 7, "reward_basis": ["DB"]})
    r, out = _import(st, f)
    assert r.exit_code == 2, r.output
    (err,) = [e["error"] for e in out["rejected"]]
    assert err.startswith(f"{f}: episode #0 (trace {'e' * 32}), span r1 ('invoke_agent bot'): "
                          "t2e.reward_info: reward 7 is outside [0, 1]"), err
    assert _counts(st) == (0, 0, 0, 0)
    ok = _otel_file(tmp_path / "ok.jsonl", {"reward": 0.5})
    r, out = _import(st, ok)
    assert r.exit_code == 0, r.output
    assert sqlite3.connect(st).execute("SELECT reward FROM episodes").fetchall() == [(0.5,)]


def _scored(path: Path, scores: dict) -> Path:
    spans = []
    for i, (task, score) in enumerate(scores.items()):
        tr = f"{i:032x}"
        spans.append(span(tr, f"r{i}", "invoke_agent bot", {
            "gen_ai.operation.name": "invoke_agent", "task.id": task, "app.score": score},
            start=i * 10, end=i * 10 + 5))
        spans.append(span(tr, f"c{i}", "chat m", {
            "gen_ai.operation.name": "chat", "gen_ai.input.messages": msgs(text("user", task)),
            "gen_ai.output.messages": msgs(text("assistant", "done"))}, parent=f"r{i}",
            start=i * 10 + 1, end=i * 10 + 2))
    path.write_text(json.dumps(request(spans)) + "\n")
    return path


def test_reward_attr_outside_0_1_refuses_the_mapping(tmp_path):
    """A 1-10 rating mapped as the reward: refused (exit 2), naming the run, the episode and
    the value; neither run is changed, and no scoreboard row is made."""
    st = tmp_path / "s.sqlite"
    run = CliRunner().invoke
    for name, scores in (("base", {"t0": 1, "t1": 0.5, "t2": "pass"}),
                         ("cand", {"t0": 1, "t1": 7, "t2": 0})):
        r = run(cli, ["--store", str(st), "import", str(_scored(tmp_path / f"{name}.jsonl",
                                                                 scores)), "--name", name])
        assert r.exit_code == 0, r.output
    res = run(cli, ["--store", str(st), "gate", "base", "cand", "--reward-attr", "app.score"])
    assert res.exit_code == 2, res.output
    assert "run 'cand'" in res.output and f"episode {1:032x} (task t1)" in res.output, \
        res.output
    assert "app.score 7 is outside [0, 1]" in res.output, res.output
    conn = sqlite3.connect(st)
    assert conn.execute("SELECT count(*) FROM episodes WHERE reward IS NOT NULL OR "
                        "reward_info_json IS NOT NULL").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM gate_decisions").fetchone()[0] == 0
    # within the range (a fraction, a pass/fail word) the same runs map and gate
    r = run(cli, ["--store", str(st), "import", str(_scored(tmp_path / "c2.jsonl", {
        "t0": 1, "t1": 0.25, "t2": "fail"})), "--name", "cand2"])
    assert r.exit_code == 0, r.output
    res = run(cli, ["--store", str(st), "gate", "base", "cand2", "--reward-attr", "app.score",
                    "--json"])
    assert res.exit_code in (1, 3, 4), res.output
    doc = json.loads(res.stdout)
    assert doc["metrics"]["baseline"]["reward"] == pytest.approx(2.5 / 3)
    assert doc["metrics"]["candidate"]["reward"] == pytest.approx(1.25 / 3)
