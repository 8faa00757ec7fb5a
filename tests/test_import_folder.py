"""`t2e import FOLDER/` where the folder is not a tau2 1.x results directory (no results.json,
no simulations/) but holds results files, as tau2's own results folder does: each trace file
in it (.json, .jsonl, .ndjson; not hidden, not in subfolders, inside the folder) is imported
as its own run, one transaction each, in name order. A folder with none is refused, naming
what it should hold."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from store.db import open_db
from t2e_tui.cli import cli

SHARED = Path(os.environ.get("T2E_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))


def _jsonl(path: Path, task: str) -> None:
    path.write_text(json.dumps({"run": path.stem, "id": "s0", "task_id": task, "messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}) + "\n")


def t2e(store: Path, *args):
    return CliRunner().invoke(cli, ["--store", str(store), *args])


def test_a_folder_of_trace_files_imports_each_as_a_run(tmp_path):
    folder = tmp_path / "results"
    (folder / "sub").mkdir(parents=True)
    _jsonl(folder / "b.jsonl", "t-b")
    _jsonl(folder / "a.jsonl", "t-a")
    _jsonl(folder / ".hidden.jsonl", "t-h")
    _jsonl(folder / "sub" / "c.jsonl", "t-c")
    (folder / "notes.txt").write_text("not a trace")
    store = tmp_path / "s.sqlite"
    res = t2e(store, "import", str(folder), "--name", "batch", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [Path(e["path"]).name for e in doc["imported"]] == ["a.jsonl", "b.jsonl"]
    assert doc["rejected"] == []
    db = open_db(store)
    names = [r[0] for r in db.conn.execute("SELECT name FROM runs ORDER BY created_at, rowid")]
    tasks = sorted(r[0] for r in db.conn.execute("SELECT task_id FROM episodes"))
    assert names == ["batch-1", "batch-2"] and tasks == ["t-a", "t-b"]
    # the same folder again: each file is a duplicate, nothing new
    again = json.loads(t2e(store, "import", str(folder), "--json").stdout)
    assert [e["duplicate"] for e in again["imported"]] == [True, True]


def test_one_bad_file_in_the_folder_is_rejected_and_the_others_land(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    _jsonl(folder / "a.jsonl", "t-a")
    (folder / "b.json").write_text("{not json")
    res = t2e(tmp_path / "s.sqlite", "import", str(folder))
    assert res.exit_code == 2
    assert "a.jsonl: imported as run" in res.output
    assert "rejected: " in res.output and "b.json" in res.output


def test_a_folder_without_trace_files_is_refused_naming_what_it_should_hold(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("x")
    res = t2e(tmp_path / "s.sqlite", "import", str(folder))
    assert res.exit_code == 2
    assert "no results.json" in res.output and ".jsonl" in res.output, res.output


def test_a_broken_tau2_directory_is_not_read_as_a_folder_of_files(tmp_path):
    """simulations/ without results.json is a tau2 1.x directory missing its results file: it
    is refused as before, not imported file by file."""
    folder = tmp_path / "run"
    (folder / "simulations").mkdir(parents=True)
    _jsonl(folder / "a.jsonl", "t-a")
    res = t2e(tmp_path / "s.sqlite", "import", str(folder))
    assert res.exit_code == 2 and "without results.json" in res.output, res.output


@pytest.mark.skipif(not (SHARED / "tau2" / "results").is_dir(), reason="needs ../shared")
def test_tau2s_own_results_folder(tmp_path):
    folder = SHARED / "tau2" / "results"
    res = t2e(tmp_path / "s.sqlite", "import", str(folder) + "/", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert sorted(Path(e["path"]).name for e in doc["imported"]) == \
        sorted(p.name for p in folder.glob("*.json"))


def test_entries_that_cannot_be_read_are_named_not_skipped(tmp_path):
    """A FIFO, a link that loops, a link to nothing and a link out of the folder: each is
    rejected with its reason (they were skipped in silence, exit 0)."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    _jsonl(folder / "a.jsonl", "t-a")
    os.mkfifo(folder / "fifo.jsonl")
    (folder / "loop.json").symlink_to(folder / "loop.json")
    (folder / "dangling.json").symlink_to(tmp_path / "nowhere.json")
    outside = tmp_path / "outside.jsonl"
    _jsonl(outside, "t-o")
    (folder / "out.jsonl").symlink_to(outside)
    res = t2e(tmp_path / "s.sqlite", "import", str(folder), "--json")
    assert res.exit_code == 2, res.output
    doc = json.loads(res.stdout)
    assert [Path(e["path"]).name for e in doc["imported"]] == ["a.jsonl"]
    why = {Path(r["path"]).name: r["error"] for r in doc["rejected"]}
    assert set(why) == {"fifo.jsonl", "loop.json", "dangling.json", "out.jsonl"}
    assert "loops" in why["loop.json"] and "does not exist" in why["dangling.json"]
    assert "links outside the folder" in why["out.jsonl"]
    assert "regular file" in why["fifo.jsonl"], why["fifo.jsonl"]


FIX_1X = Path(__file__).parent / "fixtures" / "tau2_1x" / "voice_run"


def test_tau2_1x_run_directories_in_the_folder_are_runs_too(tmp_path):
    """tau2 1.x's own layout: a results folder holding one directory per run (results.json +
    simulations/). With a results file beside it, only the file was imported and the
    directory was not named; a folder of only such directories was refused ("a directory
    with no results.json and no trace files")."""
    import shutil

    from test_store_data import make_results, write_json

    folder = tmp_path / "results"
    folder.mkdir()
    write_json(folder / "run_old.json", make_results(3))
    shutil.copytree(FIX_1X, folder / "run_1x")
    store = tmp_path / "s.sqlite"
    res = t2e(store, "import", str(folder), "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [Path(e["path"]).name for e in doc["imported"]] == ["run_1x", "run_old.json"]
    assert [e["episodes"] for e in doc["imported"]] == [2, 3]
    assert doc["rejected"] == [] and doc["skipped"] == []
    # a folder of only run directories, given with its trailing slash as tau2 prints it
    only = tmp_path / "only"
    only.mkdir()
    shutil.copytree(FIX_1X, only / "a")
    shutil.copytree(FIX_1X, only / "b")
    (only / "b" / "results.json").write_text(
        (only / "b" / "results.json").read_text().replace('"timestamp": "', '"timestamp": "x'))
    res = t2e(tmp_path / "o.sqlite", "import", str(only) + "/")
    assert res.exit_code == 0, res.output
    assert res.output.count("imported as run") == 2, res.output


def test_what_the_folder_import_skips_is_said(tmp_path):
    """A subfolder that is no tau2 results directory and a file that is no trace file are
    skipped, and said so (stderr; `skipped` in --json), not in silence; exit 0. Hidden
    entries are skipped without a word."""
    import shutil

    folder = tmp_path / "results"
    (folder / "logs").mkdir(parents=True)
    (folder / ".cache").mkdir()
    _jsonl(folder / "logs" / "c.jsonl", "t-c")
    _jsonl(folder / "a.jsonl", "t-a")
    (folder / "notes.txt").write_text("x")
    shutil.copytree(FIX_1X, folder / "run")
    (folder / "broken").mkdir()
    (folder / "broken" / "simulations").mkdir()  # a run directory without its results.json
    res = t2e(tmp_path / "s.sqlite", "import", str(folder), "--json")
    assert res.exit_code == 2, res.output  # (the broken run directory)
    doc = json.loads(res.stdout)
    assert [Path(e["path"]).name for e in doc["imported"]] == ["a.jsonl", "run"]
    assert [(Path(r["path"]).name, "without results.json" in r["error"])
            for r in doc["rejected"]] == [("broken", True)]
    skipped = {Path(s["path"]).name: s["reason"] for s in doc["skipped"]}
    assert set(skipped) == {"logs", "notes.txt"}, skipped
    assert "no tau2 results directory" in skipped["logs"]
    assert ".jsonl" in skipped["notes.txt"]
    text = t2e(tmp_path / "s2.sqlite", "import", str(folder))
    assert "skipped: " in text.stderr and "logs" in text.stderr and "notes.txt" in text.stderr
    assert "skipped" not in text.stdout


def test_a_run_directory_linked_from_outside_the_folder_is_refused(tmp_path):
    import shutil

    folder = tmp_path / "results"
    folder.mkdir()
    shutil.copytree(FIX_1X, tmp_path / "elsewhere")
    (folder / "run").symlink_to(tmp_path / "elsewhere")
    _jsonl(folder / "a.jsonl", "t-a")
    doc = json.loads(t2e(tmp_path / "s.sqlite", "import", str(folder), "--json").stdout)
    assert [Path(e["path"]).name for e in doc["imported"]] == ["a.jsonl"]
    assert [Path(r["path"]).name for r in doc["rejected"]] == ["run"]
    assert "links outside the folder" in doc["rejected"][0]["error"]
