"""A run directory's own results file names the directory (review s15 C2).

Before: `t2e import RUN_DIR/results.json` of a tau2 1.x directory was refused ("found a JSON
object with keys [timestamp, info, tasks, simulation_index] and no 'simulations' list"),
while tau2's own loader reads the directory when a `simulations/` folder sits beside the
file. Now that file stands for its directory, as a Harbor job's or trial's result.json or
config.json stands for its folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from test_store_data import make_results

import store
from store.importers import import_path, import_paths

FIX = Path(__file__).parent / "fixtures"


def test_results_json_of_a_1x_directory_imports_the_directory(tmp_path):
    run = tmp_path / "vr2"
    shutil.copytree(FIX / "tau2_1x" / "voice_run", run)
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, run / "results.json")
    assert entry["episodes"] == 2 and not entry["duplicate"]
    assert entry["path"] == str(run)
    assert db.conn.execute("SELECT name FROM runs").fetchone() == ("vr2",)
    # the same content: the directory named itself is a re-import
    assert import_path(db, run)["duplicate"]


def test_a_harbor_result_json_imports_its_folder(tmp_path):
    job = tmp_path / "job"
    shutil.copytree(FIX / "harbor" / "job_a", job)
    db = store.open_db(tmp_path / "s.sqlite")
    out = import_paths(db, [job / "result.json", job / "refund-order__Ab3dE5f" / "config.json"])
    assert not out["rejected"], out
    assert [e["episodes"] for e in out["imported"]] == [3, 1]


def test_a_results_file_without_a_simulations_folder_is_read_as_a_file(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(make_results(2)))
    (tmp_path / "simulations.txt").write_text("not a folder")
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, tmp_path / "results.json")
    assert entry["path"] == str(tmp_path / "results.json") and entry["episodes"] == 2
