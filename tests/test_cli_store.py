"""`t2e import/runs/show/search/export`: JSON contract shapes and exit codes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_store_data import make_results, write_json

import store
from t2e_tui.cli import cli


def run_cli(tmp_path, *args):
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), *args])
    return r.exit_code, r.output


def imported(tmp_path, name="r.json", n=4, *extra):
    p = write_json(tmp_path / name, make_results(n))
    code, out = run_cli(tmp_path, "import", str(p), "--json", *extra)
    assert code == 0, out
    return json.loads(out)["imported"][0]


def test_import_json_contract(tmp_path):
    good = write_json(tmp_path / "good.json", make_results(2))
    bad = tmp_path / "bad.json"
    bad.write_text("{\"simulations\": [")
    code, out = run_cli(tmp_path, "import", str(good), str(bad), "--json", "--role", "heldout",
                        "--name", "b")
    assert code == 2
    doc = json.loads(out)
    # skipped: a folder's entries that are no trace file (none here: files named one by one)
    assert set(doc) == {"imported", "rejected", "skipped"} and doc["skipped"] == []
    (e,) = doc["imported"]
    assert set(e) == {"path", "run_id", "episodes", "messages", "duplicate", "warnings"}
    assert isinstance(e["run_id"], str) and isinstance(e["warnings"], list)
    assert (e["episodes"], e["messages"], e["duplicate"]) == (2, 12, False)
    (r,) = doc["rejected"]
    assert set(r) == {"path", "error"} and r["path"] == str(bad)
    # duplicates: exit 0, listed under imported
    code, out = run_cli(tmp_path, "import", str(good), "--json")
    assert code == 0 and json.loads(out)["imported"][0]["duplicate"] is True
    runs = json.loads(run_cli(tmp_path, "runs", "--json")[1])
    assert [(x["name"], x["role"]) for x in runs] == [("b-1", "heldout")]


def test_import_bad_role_is_usage_error(tmp_path):
    p = write_json(tmp_path / "r.json", make_results(1))
    code, out = run_cli(tmp_path, "import", str(p), "--role", "final", "--json")
    assert code == 2 and "error" in json.loads(out)


def test_runs_json_shape_and_edits(tmp_path):
    e = imported(tmp_path)
    code, out = run_cli(tmp_path, "runs", "--json")
    assert code == 0
    (r,) = json.loads(out)
    assert list(r) == ["run_id", "name", "role", "source", "world_id", "episodes", "scored",
                       "running", "infrastructure_errors", "reward", "pass_rate", "termination",
                       "agent_model", "stand_in", "rescorable"]
    assert r["rescorable"] is True  # (a retail file)
    assert r["run_id"] == e["run_id"] and r["source"] == str(tmp_path / "r.json")
    assert r["termination"] == {"user_stop": 4} and r["reward"] == 0.75
    assert run_cli(tmp_path, "runs", "rename", e["run_id"][:4], "base")[0] == 0
    assert run_cli(tmp_path, "runs", "role", "base", "development")[0] == 0
    (r,) = json.loads(run_cli(tmp_path, "runs", "--json")[1])
    assert (r["name"], r["role"]) == ("base", "development")
    code, out = run_cli(tmp_path, "runs", "role", "base", "final")
    assert code == 2
    code, out = run_cli(tmp_path, "runs", "rm", "nope", "--json")
    assert code == 2 and "no run matches" in json.loads(out)["error"]
    code, out = run_cli(tmp_path, "runs", "rm", "base", "--json")
    assert code == 0 and json.loads(out)["episodes"] == 4
    assert json.loads(run_cli(tmp_path, "runs", "--json")[1]) == []


def test_runs_human_table(tmp_path):
    imported(tmp_path)
    code, out = run_cli(tmp_path, "runs")
    assert code == 0 and "r.json" in out and "user_stop 4" in out


def test_show_json_and_records_view(tmp_path):
    imported(tmp_path)
    code, out = run_cli(tmp_path, "show", "1", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["episode_id"] == 1 and len(doc["steps"]) == 6
    assert doc["steps"][2]["message"]["tool_calls"][0]["name"] == "get_user_details"
    assert doc["reward_info"]["reward"] == 1.0
    db = store.open_db(tmp_path / "s.sqlite")
    assert db.conn.execute("SELECT episode_id, via FROM evidence_views").fetchall() == [(1, "cli")]


def test_show_human_escapes_untrusted_text(tmp_path):
    src = make_results(1)
    src["simulations"][0]["messages"][1]["content"] = "evil \x1b[31mred\x1b[0m [bold]x[/bold]"
    p = write_json(tmp_path / "evil.json", src)
    assert run_cli(tmp_path, "import", str(p))[0] == 0
    code, out = run_cli(tmp_path, "show", "1")
    assert code == 0
    assert "\x1b" not in out and "[bold]x[/bold]" in out
    assert "get_user_details" in out and "cancelled" in out


def test_show_errors(tmp_path):
    imported(tmp_path)
    code, out = run_cli(tmp_path, "show", "77", "--json")
    assert code == 2 and "no episode 77" in json.loads(out)["error"]
    code, out = run_cli(tmp_path, "show", "abc")
    assert code == 2


def test_show_vs_delegates_or_explains(tmp_path):
    imported(tmp_path)
    code, out = run_cli(tmp_path, "show", "1", "--vs", "4", "--json")
    assert code == 0, out
    assert json.loads(out)


def test_search_json(tmp_path):
    imported(tmp_path)
    code, out = run_cli(tmp_path, "search", "cancelled", "--json", "--limit", "3")
    assert code == 0
    hits = json.loads(out)
    assert len(hits) == 3
    assert set(hits[0]) >= {"episode_id", "idx", "run_id", "task_id", "role", "snippet"}
    code, out = run_cli(tmp_path, "search", 'a"b -c: NEAR(', "--json", "--rank")
    assert code == 0 and json.loads(out) == []
    code, out = run_cli(tmp_path, "search", "cancelled", "--table")
    # each hit names the episode the way `t2e show` takes it
    assert code == 0 and f"{hits[0]['run_id'][:8]}:" in out and "step 4 (ep 1)" in out


def test_export_both_formats_reimport_unchanged(tmp_path):
    src = make_results(3)
    p = write_json(tmp_path / "r.json", src)
    rid = json.loads(run_cli(tmp_path, "import", str(p), "--json")[1])["imported"][0]["run_id"]
    out_json = tmp_path / "out" / "r.tau2.json"
    code, out = run_cli(tmp_path, "export", rid, "-o", str(out_json), "--json")
    assert code == 2 and "does not exist" in json.loads(out)["error"]  # no surprise mkdir
    assert not out_json.parent.exists()
    out_json.parent.mkdir()
    code, out = run_cli(tmp_path, "export", rid, "--format", "tau2", "-o", str(out_json),
                        "--json")
    assert code == 0 and json.loads(out)["episodes"] == 3
    exported = json.loads(out_json.read_text())
    assert exported.pop("t2e_provenance")["role"] == "discovery"
    assert exported == src
    out_jl = tmp_path / "r.jsonl"
    assert run_cli(tmp_path, "export", "r", "--format", "jsonl", "-o", str(out_jl))[0] == 0
    assert len(out_jl.read_text().splitlines()) == 4
    code, out = run_cli(tmp_path, "export", "r", "--format", "csv")
    assert code == 2
    code, out = run_cli(tmp_path, "export", "r")  # stdout
    doc = json.loads(out)
    assert code == 0 and doc.pop("t2e_provenance")["run_id"] == rid and doc == src


def test_subprocess_exit_code_and_one_line_error(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_bytes(b"\xff\xfe garbage")
    proc = subprocess.run([sys.executable, "-m", "t2e_tui.cli", "--store",
                           str(tmp_path / "s.sqlite"), "import", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "invalid UTF-8" in proc.stderr


@pytest.mark.parametrize("args", [["runs", "--json"], ["search", "x", "--json"]])
def test_empty_store_commands(tmp_path, args):
    store.open_db(tmp_path / "s.sqlite").conn.close()  # an empty store (a missing one is refused)
    code, out = run_cli(tmp_path, *args)
    assert code == 0 and json.loads(out) == []


def test_show_takes_run_task_trial_references(tmp_path):
    e = imported(tmp_path)  # sims 0..3: tasks 0, 1, 2, 0 (trial 0 each: one per sim)
    rid = e["run_id"]
    code, out = run_cli(tmp_path, "episodes", rid, "--json")
    assert code == 0, out
    eps = json.loads(out)
    assert [x["episode_id"] for x in eps] == [1, 2, 3, 4]
    # the fixture repeats task 0 trial 0: those two are listed by id, the label is ambiguous
    assert [x["ref"] for x in eps] == ["1", f"{rid[:8]}:1/t0", f"{rid[:8]}:2/t0", "4"]
    code, out = run_cli(tmp_path, "show", f"{rid}:0/t0", "--json")
    assert code == 2 and "ambiguous: episodes 1, 4" in json.loads(out)["error"]
    assert {"ref", "episode_id", "task_id", "trial", "reward", "termination_reason"} <= set(eps[0])
    for ep in eps:  # every listed ref shows exactly that episode
        code, out = run_cli(tmp_path, "show", ep["ref"], "--json")
        assert code == 0, out
        assert json.loads(out)["episode_id"] == ep["episode_id"]
    task, trial = eps[1]["task_id"], eps[1]["trial"]
    for ref in (f"{rid}:{task}", f"{rid[:6]}:{task}:{trial}", f"{rid[:8]}:{task}/t{trial}",
                f"r:{task}"):
        code, out = run_cli(tmp_path, "show", ref, "--json")
        assert code == 0, (ref, out)
        assert json.loads(out)["episode_id"] == 2
    code, out = run_cli(tmp_path, "show", f"{rid}:nosuch/t0", "--json")
    assert code == 2 and "no task 'nosuch'" in json.loads(out)["error"]
    code, out = run_cli(tmp_path, "show", f"{rid}:{task}/t9", "--json")
    assert code == 2 and "no trial 9" in json.loads(out)["error"]
    code, out = run_cli(tmp_path, "show", "zzz:1", "--json")
    assert code == 2 and "no run matches 'zzz'" in json.loads(out)["error"]


def test_episodes_human_lists_ids_and_refs(tmp_path):
    e = imported(tmp_path)
    code, out = run_cli(tmp_path, "episodes", "r", "--table")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["id", "ref"] and len(lines) == 5
    assert lines[2].split()[:2] == ["2", f"{e['run_id'][:8]}:1/t0"]
    code, out = run_cli(tmp_path, "episodes", "r", "--failed", "--json")
    assert [x["episode_id"] for x in json.loads(out)] == [4]
    db = store.open_db(tmp_path / "s.sqlite")  # a listing is not a trajectory view
    assert db.conn.execute("SELECT count(*) FROM evidence_views").fetchone() == (0,)


def test_show_vs_across_domains_warns(tmp_path):
    imported(tmp_path)
    code, out = run_cli(tmp_path, "run", "--num-tasks", "1", "--name", "mini", "--json")
    assert code == 0, out
    mini = json.loads(out)["run_id"]
    r = CliRunner().invoke(
        cli, ["--store", str(tmp_path / "s.sqlite"), "show", "1", "--vs", f"{mini}:", "--json"])
    assert r.exit_code == 2  # a run with no task named '' is refused
    first = json.loads(run_cli(tmp_path, "episodes", mini, "--json")[1])[0]["ref"]
    r = CliRunner().invoke(
        cli, ["--store", str(tmp_path / "s.sqlite"), "show", "1", "--vs", first, "--json"])
    assert r.exit_code == 0, r.output
    assert "compares different worlds" in r.stderr and "different tasks" in r.stderr
    json.loads(r.stdout)
    r = CliRunner().invoke(
        cli, ["--store", str(tmp_path / "s.sqlite"), "show", "1", "--vs", "4", "--json"])
    assert r.exit_code == 0 and r.stderr == ""


@pytest.mark.parametrize("text", ["", "   ", ":: \"\" ()"])
def test_search_without_words_is_bad_input(tmp_path, text):
    imported(tmp_path)
    code, out = run_cli(tmp_path, "search", text, "--json")
    assert code == 2 and "no words to look for" in json.loads(out)["error"]


def test_runs_role_records_the_change_and_says_it_is_not_clean(tmp_path):
    imported(tmp_path)
    code, out = run_cli(tmp_path, "runs", "role", "r", "heldout", "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["role"] == "heldout" and doc["created_role"] == "discovery"
    assert "does not make clean heldout evidence" in doc["note"] and doc["role_set_at"]
    db = store.open_db(tmp_path / "s.sqlite")
    assert db.conn.execute("SELECT old_role, new_role FROM run_role_changes").fetchall() == [
        ("discovery", "heldout")]
    code, out = run_cli(tmp_path, "runs", "role", "r", "development", "--json")
    assert json.loads(out)["note"] is None


def test_import_loads_neither_sqlite_utils_nor_numpy(tmp_path):
    """`t2e import` writes through a plain connection: sqlite-utils' import loads numpy, 0.1 s
    of every import's start-up that the import never used."""
    src = tmp_path / "r.json"
    write_json(src, make_results(n_sims=2))
    code = ("import atexit, sys; from t2e_tui.cli import cli; "
            "atexit.register(lambda: print('sqlite_utils' in sys.modules, "
            "'numpy' in sys.modules)); cli.main(['--store', sys.argv[1], 'import', sys.argv[2]])")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.sqlite"), str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-2:] == ["False", "False"]
    assert store.connect(tmp_path / "s.sqlite").execute(
        "SELECT count(*) FROM episodes").fetchone()[0] == 2


def test_reading_commands_load_neither_sqlite_utils_nor_numpy(tmp_path):
    """Every command opens its store through open_db (cli/common.open_store), which made a
    sqlite-utils Database: its import loads numpy, ~0.18 s of CPU at the start of `t2e runs`,
    `show`, `episodes`, `search`... none of which used it. It is made on first use now."""
    src = tmp_path / "r.json"
    write_json(src, make_results(n_sims=2))
    from store.importers import import_path

    import_path(store.open_db(tmp_path / "s.sqlite"), src)
    code = ("import atexit, sys; from t2e_tui.cli import cli; "
            "atexit.register(lambda: print('sqlite_utils' in sys.modules, "
            "'numpy' in sys.modules)); cli.main(['--store', sys.argv[1], *sys.argv[2:]])")
    for args in (["runs", "--json"], ["search", "order", "--json"]):
        proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.sqlite"), *args],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split()[-2:] == ["False", "False"], (args, proc.stdout[-300:])
        assert '"run_id"' in proc.stdout or '"episode_id"' in proc.stdout, proc.stdout[:300]


def test_open_db_is_still_a_sqlite_utils_database_when_used_as_one(tmp_path):
    db = store.open_db(tmp_path / "s.sqlite")
    assert db.conn.execute("PRAGMA recursive_triggers").fetchone()[0] == 1   # as it set it
    assert "runs" in db.table_names() and db["runs"].count == 0
    db["notes_extra"].insert({"id": 1, "text": "x"}, pk="id")
    assert db.execute("SELECT text FROM notes_extra").fetchall() == [("x",)]
    with db:
        pass
    with pytest.raises(sqlite3.ProgrammingError):   # closed with the context
        db.conn.execute("SELECT 1")


def test_a_search_in_storage_order_does_not_load_numpy(tmp_path):
    """numpy is for ranking (store/search_tf.py, loaded inside the ranked path): importing
    store.search, or searching in storage order, does not load it (it did, ~0.1 s)."""
    src = tmp_path / "r.json"
    write_json(src, make_results(n_sims=2))
    db = store.open_db(tmp_path / "s.sqlite")
    from store.importers import import_path

    import_path(db, src)
    code = ("import sys, store; from store import queries; "
            "c = store.connect(sys.argv[1]); hits = queries.search(c, 'order', limit=5); "
            "print(len(hits) > 0, 'numpy' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.sqlite")],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "False"]
