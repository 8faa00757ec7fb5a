"""`t2e import` refuses a tau2 tasks file (task definitions, an input of tau2, no results),
detected by shape where every file's format is decided (detect_format)."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner
from test_store_data import TASKS, make_results, write_json

from store.importers import detect_format
from t2e_tui.cli import cli


def run_cli(tmp_path, *args):
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), *args])
    return r.exit_code, r.output


def _tasks_file(tmp_path, name="tasks.json"):
    # the shape of a tau2 domain's tasks.json: task definitions, no simulation keys
    return write_json(tmp_path / name, [
        {"id": t["id"], "description": {"purpose": None},
         "user_scenario": {"instructions": {"task_instructions": "x"}},
         "evaluation_criteria": {"actions": []}} for t in TASKS])


def test_tasks_file_is_detected_by_shape(tmp_path):
    assert detect_format(_tasks_file(tmp_path, "anything.json")) == "tau2-tasks"
    sims = write_json(tmp_path / "sims.json", make_results(2)["simulations"])
    assert detect_format(sims) == "tau2"  # a bare list of simulations is still imported


def test_import_refuses_a_tasks_file_and_writes_nothing(tmp_path):
    p = _tasks_file(tmp_path)
    code, out = run_cli(tmp_path, "import", str(p))
    assert code == 2, out
    assert "a tau2 tasks file" in out and "not results" in out
    assert "Import a results file" in out and "--data" in out
    assert "imported as run" not in out
    assert not os.path.exists(tmp_path / "s.sqlite")  # no store made for nothing
    # beside a good file: the good one lands, the tasks file is rejected by name
    good = write_json(tmp_path / "r.json", make_results(2))
    code, out = run_cli(tmp_path, "import", str(good), str(p), "--json")
    doc = json.loads(out)
    assert code == 2 and len(doc["imported"]) == 1
    assert [r["path"] for r in doc["rejected"]] == [str(p)]
    runs = json.loads(run_cli(tmp_path, "runs", "--json")[1])
    assert [r["name"] for r in runs] == ["r"]


def test_import_refuses_the_real_tasks_files(tmp_path, tau2_dir):
    for f in ("retail/tasks.json", "airline/tasks.json", "retail/tasks_pre_v1.json"):
        code, out = run_cli(tmp_path, "import", str(tau2_dir / f))
        assert code == 2 and "a tau2 tasks file" in out, (f, out)
