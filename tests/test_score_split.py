"""`t2e score --jobs N` (#18): a file read and scored in parts by several processes gives the
serial report entry for entry, and the serial error word for word when anything is amiss."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_world_tools import make_data

import world.score_split as split
from t2e_tui.cli import cli
from world.db import RetailDB
from world.errors import WorldError
from world.rescore import rescore, stream_results

CANCEL = {"name": "cancel_pending_order", "arguments": {"order_id": "#W1",
                                                        "reason": "no longer needed"}}


def _task(tid, actions):
    return {"id": tid, "user_scenario": {"instructions": "x"},
            "evaluation_criteria": {"actions": [dict(a, action_id=f"{tid}_{i}")
                                                for i, a in enumerate(actions)],
                                    "communicate_info": [], "nl_assertions": [],
                                    "reward_basis": ["DB"]}}


def _sim(i):
    """Simulation #i: agreeing, disagreeing, malformed, unlabelled, relabelled, odd ends."""
    calls = [{"role": "assistant", "content": None,
              "tool_calls": [dict(CANCEL, id=f"c{i}", requestor="assistant")]},
             {"role": "tool", "id": f"c{i}", "content": "", "error": False}]
    sim = {"id": f"s{i}", "task_id": "t1", "termination_reason": "user_stop",
           "messages": calls, "reward_info": {"reward": 1.0}, "pad": "x" * 200}
    kind = i % 9
    if kind == 1:
        sim["reward_info"]["reward"] = 0.0          # disagrees
    elif kind == 2:
        return f"garbage {i}"                       # malformed: not an object
    elif kind == 3:
        sim["messages"] = None                      # malformed: no messages list
    elif kind == 4:
        sim["task_id"] = "nope"                     # not embedded
    elif kind == 5:
        sim["task_id"] = "t2"                       # the recorded checks are t1's: relabelled
        sim["reward_info"]["action_checks"] = [{"action": CANCEL, "action_match": True}]
    elif kind == 6:
        sim["termination_reason"] = {"odd": True}   # not text: zeroed, never a crash
    elif kind == 7:
        sim["messages"] = []                        # nothing done: DB differs
    return sim


@pytest.fixture
def results(tmp_path, monkeypatch):
    """A retail results file laid out as tau2 writes it (indent=2), and its data dir."""
    doc = {"timestamp": "t", "info": {"environment_info": {"domain_name": "retail"}},
           "tasks": [_task("t1", [CANCEL]), _task("t2", [])],
           "simulations": [_sim(i) for i in range(400)]}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc, indent=2))
    (tmp_path / "db.json").write_text(json.dumps(make_data()))
    monkeypatch.setattr(split, "MIN_PART", 0)  # split even a small file
    monkeypatch.delenv("T2E_SCORE_JOBS", raising=False)
    return path


def _db():
    return RetailDB.from_dict(make_data(), "test-db")


def _spy(monkeypatch):
    calls = []
    real = split.score_split

    def spy(*a, **k):
        out = real(*a, **k)
        calls.append(out is not None)
        return out
    monkeypatch.setattr(split, "score_split", spy)
    return calls


@pytest.mark.parametrize("jobs", [2, 3])
def test_parts_give_the_serial_report(results, monkeypatch, jobs):
    calls = _spy(monkeypatch)
    serial = rescore(stream_results(results), _db(), source=str(results))
    parts = rescore(stream_results(results), _db(), source=str(results), jobs=jobs)
    assert calls == [True]  # it was split (not a silent serial fallback)
    assert parts == serial
    assert serial["simulations"] == 400 and serial["agree"] and serial["relabelled"]
    malformed = [d["reason"] for d in serial["disagree"] if "malformed" in d["reason"]]
    assert "simulation #398 is malformed (no messages list)" in malformed  # numbered in file order


def test_cli_output_is_byte_identical(results, monkeypatch):
    _spy(monkeypatch)
    for fmt in ([], ["--json"]):
        outs = [CliRunner().invoke(cli, ["score", str(results), "--data", str(results.parent),
                                         "--jobs", j, *fmt]) for j in ("1", "2")]
        assert [o.exit_code for o in outs] == [0, 0], outs[0].output
        assert outs[0].output == outs[1].output


def test_a_wrong_guess_falls_back_to_the_serial_read(results, monkeypatch):
    text = results.read_text()
    inside = text.index('"id": "s250"')  # inside an item, not at its start
    monkeypatch.setattr(split, "split_points", lambda *a: [len(text[:inside].encode())])
    calls = _spy(monkeypatch)
    serial = rescore(stream_results(results), _db(), source=str(results))
    assert rescore(stream_results(results), _db(), source=str(results), jobs=2) == serial
    assert calls == [False]


def test_an_error_in_a_later_part_is_the_serial_error(results, monkeypatch):
    text = results.read_text()
    at = text.index('"id": "s300"')
    results.write_text(text[:at] + '"id": ]' + text[at + 12:])  # malformed in part 2
    with pytest.raises(WorldError) as serial:
        rescore(stream_results(results), _db(), source=str(results))
    calls = _spy(monkeypatch)
    with pytest.raises(WorldError) as parts:
        rescore(stream_results(results), _db(), source=str(results), jobs=2)
    assert str(parts.value) == str(serial.value) and str(results) in str(serial.value)
    assert calls == [False]
    r = CliRunner().invoke(cli, ["score", str(results), "--data", str(results.parent),
                                 "--jobs", "2"])
    assert r.exit_code == 2 and str(serial.value) in r.output


def test_compact_json_is_not_split(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"info": {}, "tasks": [], "simulations": [{"id": 1}] * 10}))
    assert split.split_points(p, stream_results(p)["simulations"].at, 2) == []


def test_workers_ignore_a_world_package_in_the_current_directory(results, tmp_path,
                                                                 monkeypatch):
    """`python -m` put the current directory first on the module path, so a `world/` folder
    where `t2e score --jobs` ran was imported as the scoring worker's code (the import
    workers had the fix; world.subproc now starts all three)."""
    fake = tmp_path / "cwd" / "world"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "score_worker.py").write_text("import sys\nsys.exit(3)\n")
    monkeypatch.chdir(tmp_path / "cwd")
    calls = _spy(monkeypatch)
    serial = rescore(stream_results(results), _db(), source=str(results))
    assert rescore(stream_results(results), _db(), source=str(results), jobs=2) == serial
    assert calls == [True]  # the parts came from the real workers, not the serial fallback
