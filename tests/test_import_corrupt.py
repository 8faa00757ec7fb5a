"""Corrupt variants of a hand-made results file: each is a per-file rejection naming the file,
the record and the field (never exit 70); good files around them still import (issue 11)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_store_data import make_results

from t2e_tui.cli.main import cli

GOOD = json.dumps(make_results(2))


def _variant(name: str) -> str:
    s = json.loads(GOOD)
    sim = s["simulations"][0]
    if name == "lone-surrogate":
        return GOOD.replace('"Please cancel', '"\\ud800 Please cancel', 1)
    if name == "trial-10**30":
        sim["trial"] = 10 ** 30
    elif name == "5000-digits":
        return GOOD.replace('"trial": 0', '"trial": ' + "7" * 5000, 1)
    elif name == "nesting-10k":
        return GOOD.replace('"info": {"note": null}', '"info": ' + "[" * 10_000 + "]" * 10_000, 1)
    elif name == "dict-in-checks":
        sim["reward_info"]["communicate_checks"][0]["info"] = {"a": 1}
    elif name == "dict-in-nl":
        sim["reward_info"]["nl_assertions"] = [{"nl_assertion": {"x": 1}, "met": True}]
    elif name == "string-usage":
        sim["messages"][1]["usage"] = {"prompt_tokens": "many", "completion_tokens": 5}
    elif name == "dup-simulations":
        return GOOD[:-1] + ', "simulations": []}'
    elif name == "infinity-reward":
        return GOOD.replace('"reward": 1.0', '"reward": Infinity', 1)
    elif name == "nan-reward":
        return GOOD.replace('"reward": 1.0', '"reward": NaN', 1)
    elif name == "1e999-cost":
        return GOOD.replace('"agent_cost": 0.004', '"agent_cost": 1e999', 1)
    elif name == "seed-2**70":
        sim["seed"] = 2 ** 70
    return json.dumps(s)


# variant -> what the rejection must name (the field, or the problem)
CASES = {
    "lone-surrogate": "messages[1].content: a lone surrogate",
    "trial-10**30": "field trial: a 31-digit integer",
    "5000-digits": "field trial: a 5000-digit integer",
    "nesting-10k": "nesting too deep",
    "dict-in-checks": "reward_info.communicate_checks[0].info should be a string",
    "dict-in-nl": "reward_info.nl_assertions[0].nl_assertion should be a string",
    "string-usage": "message #1: usage.prompt_tokens should be an integer",
    "dup-simulations": "top-level key 'simulations' appears twice",
    "infinity-reward": "field reward_info.reward: Infinity",
    "nan-reward": "field reward_info.reward: NaN",
    "1e999-cost": "field agent_cost: the number 1e999",
    "seed-2**70": "field seed: ",
}


@pytest.mark.parametrize("worker", ["0", "1"])
def test_every_corrupt_variant_is_its_own_rejection(tmp_path, monkeypatch, worker):
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)  # in-process and the worker process
    files = []
    good1 = tmp_path / "good-first.json"
    good1.write_text(GOOD)
    files.append(good1)
    for name in CASES:
        f = tmp_path / f"{name}.json"
        f.write_text(_variant(name))
        files.append(f)
    good2 = tmp_path / "good-last.json"
    good2.write_text(json.dumps(make_results(3)))
    files.append(good2)
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), "import", "--json",
                                 *map(str, files)])
    assert r.exit_code == 2, r.output
    out = json.loads(r.stdout)
    assert [e["path"] for e in out["imported"]] == [str(good1), str(good2)]
    rejected = {e["path"]: e["error"] for e in out["rejected"]}
    assert len(rejected) == len(CASES)
    for name, expected in CASES.items():
        err = rejected[str(tmp_path / f"{name}.json")]
        assert err.startswith(f"{tmp_path / name}.json: "), err
        assert expected in err, (name, err)
        if name not in ("dup-simulations",):
            assert "simulation #0" in err, (name, err)  # the record
        assert "internal" not in err and "cannot be imported (" not in err, err
    import store
    db = store.open_db(tmp_path / "s.sqlite")
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 2
    assert db.conn.execute("SELECT count(*) FROM episodes").fetchone()[0] == 5


def test_jsonl_lines_get_the_same_limits(tmp_path):
    lines = [json.dumps({"type": "episode", "task_id": "0", "messages": [], "trial": 1}),
             '{"type": "episode", "task_id": "1", "messages": [], "trial": ' + "9" * 30 + "}"]
    f = tmp_path / "r.jsonl"
    f.write_text("\n".join(lines) + "\n")
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), "import", str(f)])
    assert r.exit_code == 2
    assert "line 2: field trial: a 30-digit integer" in r.stderr


def test_score_refuses_the_same_inputs_cleanly(tmp_path):
    """`t2e score` reads results files too: never exit 70, never a file outside, never a hang."""
    import os
    import subprocess
    import sys

    cases = {}
    for name in ("nesting-10k", "5000-digits"):
        f = tmp_path / f"{name}.json"
        f.write_text(_variant(name))
        cases[name] = f
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    d = tmp_path / "dir"
    (d / "simulations").mkdir(parents=True)
    head = json.loads(GOOD)
    head.pop("simulations")
    head["simulation_index"] = [{"id": "../../outside"}]
    (d / "results.json").write_text(json.dumps(head))
    for path, expected in ((cases["nesting-10k"], "nesting too deep"),
                           (cases["5000-digits"], "field trial: a 5000-digit integer"),  # streamed (#18)
                           (fifo, "not a regular file"),
                           (d, "names a file outside simulations/")):
        r = subprocess.run([sys.executable, "-m", "t2e_tui.cli", "score", str(path), "--data",
                            str(tmp_path)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, r.stderr
        assert expected in r.stderr, r.stderr
