"""`t2e score`: JSON output, where tau2's records come from (--data, TAU2_DATA_DIR, the
built-in worlds), t2e's own exports, folders, v1-shaped files, and the files it refuses."""

from __future__ import annotations

import json

import pytest
from test_world_scoring import run_cli
from test_world_tools import make_data


def _exported_run(tmp_path, n, *paths) -> None:
    """A scripted run of `n` mini-retail heldout tasks, exported to each of `paths`."""
    store = str(tmp_path / "s.sqlite")
    code, out = run_cli("--store", store, "run", "--tasks", "heldout", "--num-tasks", str(n),
                        "--json")
    assert code == 0, out
    for path in paths:
        code, out2 = run_cli("--store", store, "export", json.loads(out)["run_id"], "-o",
                             str(path))
        assert code == 0, out2


def test_cli_score_json(tau2_dir, shared_results):
    code, out = run_cli("score", str(shared_results[0]), "--data", str(tau2_dir), "--json")
    assert code == 0, out
    (rep,) = json.loads(out)["files"]   # one shape for one file or many
    assert rep["file"] == str(shared_results[0])
    assert {k: rep[k] for k in ("simulations", "agree", "disagree", "relabelled", "ambiguous",
                                "judge_dependent")} \
        == {"simulations": 40, "agree": 40, "disagree": [], "relabelled": [], "ambiguous": [],
            "judge_dependent": 0}


def test_cli_score_needs_a_data_dir(shared_results, monkeypatch):
    monkeypatch.delenv("TAU2_DATA_DIR", raising=False)
    code, out = run_cli("score", str(shared_results[0]), "--json")
    assert code == 2 and "no tau2 data directory" in json.loads(out)["error"]


def test_cli_score_grades_a_mini_retail_export_on_the_built_in_world(tmp_path, monkeypatch):
    monkeypatch.delenv("TAU2_DATA_DIR", raising=False)
    export = tmp_path / "mini.json"
    _exported_run(tmp_path, 6, export)
    code, out = run_cli("score", str(export), "--json")  # no --data: the built-in world
    assert code == 0, out
    rep = json.loads(out)["files"][0]
    assert rep["simulations"] == 6 and rep["agree"] == 6 and rep["disagree"] == []
    # it really re-scores: a recorded reward flipped is caught
    data = json.loads(export.read_text())
    sim = data["simulations"][0]
    sim["reward_info"]["reward"] = 1.0 - sim["reward_info"]["reward"]
    export.write_text(json.dumps(data))
    rep = json.loads(run_cli("score", str(export), "--json")[1])["files"][0]
    assert rep["agree"] == 5 and [d["sim_id"] for d in rep["disagree"]] == [sim["id"]]


def test_cli_score_takes_t2e_tau2_retail_exports(tau2_dir, shared_results, tmp_path):
    data = json.loads(shared_results[0].read_text())
    data["info"]["environment_info"]["domain_name"] = "tau2-retail"  # as `t2e export` writes
    path = tmp_path / "t2e-export.json"
    path.write_text(json.dumps(data))
    code, out = run_cli("score", str(path), "--data", str(tau2_dir), "--json")
    assert code == 0 and json.loads(out)["files"][0]["agree"] == 40, out


def test_cli_score_uses_env_data_dir(tau2_dir, shared_results, monkeypatch):
    monkeypatch.setenv("TAU2_DATA_DIR", str(tau2_dir / "retail"))
    code, out = run_cli("score", str(shared_results[1]), "--json")
    assert code == 0 and json.loads(out)["files"][0]["agree"] == 40


def test_cli_score_takes_a_folder_as_import_does(tmp_path, monkeypatch):
    """`t2e import FOLDER` takes a folder of results files; `t2e score FOLDER` said
    'FOLDER/results.json: no such file'. It scores the folder's .json files (and 1.x results
    directories) by name; a folder with none of them is refused in one line (exit 2)."""
    monkeypatch.delenv("TAU2_DATA_DIR", raising=False)
    folder = tmp_path / "results"
    folder.mkdir()
    _exported_run(tmp_path, 3, folder / "b.json", folder / "a.json")
    (folder / "notes.txt").write_text("not a results file")
    code, out = run_cli("score", str(folder), "--json")
    assert code == 0, out
    reps = json.loads(out)["files"]
    assert [r["file"] for r in reps] == [str(folder / "a.json"), str(folder / "b.json")]
    assert all(r["agree"] == 3 for r in reps)
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out = run_cli("score", str(empty))
    assert code == 2 and "a folder with no results.json" in out


def test_v1_shaped_file_flags_judge_dependence(tau2_dir, shared_results, tmp_path):
    """A file graded on [DB, NL_ASSERTION]: verdicts come from the file, flagged."""
    data = json.loads(shared_results[0].read_text())
    v1_tasks = {t["id"]: t for t in json.loads((tau2_dir / "retail" / "tasks.json").read_text())}
    data["tasks"] = [v1_tasks[t["id"]] for t in data["tasks"]]
    data["simulation_index"] = None
    with_nl = 0
    for sim in data["simulations"]:
        nl = v1_tasks[sim["task_id"]]["evaluation_criteria"].get("nl_assertions") or []
        ri = sim["reward_info"]
        ri["nl_assertions"] = [{"nl_assertion": a, "met": True, "justification": ""} for a in nl]
        ri["reward_basis"] = v1_tasks[sim["task_id"]]["evaluation_criteria"]["reward_basis"]
        with_nl += bool(nl)
        ri["action_checks"] = []  # v1 gold actions differ for some tasks; relabel must not fire
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(data))
    code, text = run_cli("score", str(path), "--data", str(tau2_dir), "--json")
    rep = json.loads(text)["files"][0]
    assert rep["judge_dependent"] == with_nl > 0
    # Changed gold actions (v1 tasks 12, 18, ...) may change the DB verdict; each says why.
    assert all(d["reason"] for d in rep["disagree"])


# -- refusing bad files ------------------------------------------------------------------------

def test_refuses_other_domains_per_file(tau2_dir, shared_results, tmp_path):
    data = json.loads(shared_results[0].read_text())
    data["info"]["environment_info"]["domain_name"] = "telecom"
    air = tmp_path / "telecom.json"
    air.write_text(json.dumps(data))
    code, text = run_cli("score", str(air), str(shared_results[0]), "--data", str(tau2_dir), "--json")
    files = json.loads(text)["files"]
    assert code == 2
    assert "domain 'telecom' is not supported" in files[0]["error"]
    assert files[1]["agree"] == 40


@pytest.mark.parametrize("content, message", [
    ('{"tasks": [], "simulations": [', "truncated JSON: the file ends at character 30"),
    ('{"tasks": [], "simulations": [{"id": "ab', "the file ends inside a string that starts "
                                                "at character 37 (line 1)"),
    ('{"tasks": [] "x": 1}', "invalid JSON at character 13 (line 1): expected ',' or '}' after a value"),
    ("", "the file is empty; expected a tau2 results file"),
    (" \n ", "the file is empty; expected a tau2 results file"),
    ('[{"id": "x"}]', "a bare list, not a tau2 results file"),
    ('{"domain": "retail", "simulations": []}', "missing tasks"),
    ('"hello"', "top level is str"),
])
def test_refuses_non_tau2_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    (tmp_path / "db.json").write_text(json.dumps(make_data()))
    code, text = run_cli("score", str(path), "--data", str(tmp_path), "--json")
    error = json.loads(text)["error"]
    assert code == 2 and str(path) in error and message in error
