"""`t2e candidate save|diff|log`: immutable versions in the store and files in candidates/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from store import connect
from t2e_tui.candidate_versions import get_version, sparkline

BASE = ("---\nname: baseline\nparent: null\nhypothesis: minimal\n---\n"
        "You are a helpful customer support agent.\n")


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "candidates").mkdir()
    (tmp_path / "candidates" / "baseline.md").write_text(BASE)
    return tmp_path


def run(*args):
    """The real console entry point (exit codes and one-line errors are the contract)."""
    p = subprocess.run([sys.executable, "-m", "t2e_tui.cli", *args], capture_output=True,
                       text=True, env=os.environ.copy())
    return p.returncode, p.stdout, p.stderr


def draft(ws: Path, body: str, name="cross-order", parent="baseline") -> Path:
    p = ws / "draft.md"
    p.write_text(f"---\nname: {name}\nparent: {parent}\n---\n{body}\n")
    return p


def test_save_records_version_and_writes_file(ws):
    p = draft(ws, "You are a helpful customer support agent.\n- Look up delivered orders.")
    code, out, err = run("candidate", "save", str(p), "--hypothesis", "cross-order", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["name"] == "cross-order" and not data["duplicate"]
    assert data["parent"] == "baseline"
    f = ws / "candidates" / "cross-order.md"
    assert f.exists() and "hypothesis: cross-order" in f.read_text()
    conn = connect(os.environ["T2E_STORE"])
    v = get_version(conn, "cross-order")
    base = get_version(conn, "baseline")
    assert v.hash == data["hash"] and v.parent_hash == base.hash
    # the parent file was never saved: it is recorded with its file time, before the child
    assert base.saved_at <= v.saved_at


def test_same_body_is_a_noop_and_new_body_gets_new_name(ws):
    p = draft(ws, "Body one.")
    assert run("candidate", "save", str(p), "-m", "h1")[0] == 0
    code, out, _ = run("candidate", "save", str(p), "-m", "h2", "--json")
    assert code == 0 and json.loads(out)["duplicate"] is True
    p = draft(ws, "Body two.")
    code, out, _ = run("candidate", "save", str(p), "-m", "h3", "--json")
    d = json.loads(out)
    assert d["name"] == "cross-order-v2" and not d["duplicate"]
    # the first file is untouched: versions are immutable
    assert "Body one." in (ws / "candidates" / "cross-order.md").read_text()
    conn = connect(os.environ["T2E_STORE"])
    assert conn.execute("SELECT count(*) FROM candidates").fetchone()[0] == 3


@pytest.mark.parametrize("text,args,msg", [
    ("---\nname: x\n---\n\n", ["-m", "h"], "body is empty"),
    ("---\nname: x\n---\nBody\n", [], "hypothesis note is required"),
    ("---\nname: x\nparent: nosuch\n---\nBody\n", ["-m", "h"], "nosuch: no such candidate"),
    ("---\nname: bad name!\n---\nBody\n", ["-m", "h"], "bad candidate name"),
    ("---\nname: x\nBody\n", ["-m", "h"], "never closed"),
])
def test_bad_input_is_refused_with_nothing_written(ws, text, args, msg):
    p = ws / "bad.md"
    p.write_text(text)
    code, out, err = run("candidate", "save", str(p), *args)
    assert code == 2 and msg in err and "Traceback" not in err
    assert "bad.md" in err or "nosuch" in err
    assert sorted(x.name for x in (ws / "candidates").iterdir()) == ["baseline.md"]


def test_identical_to_parent_is_refused(ws):
    p = draft(ws, "You are a helpful customer support agent.", name="same")
    code, _, err = run("candidate", "save", str(p), "-m", "h")
    assert code == 2 and "identical to its parent" in err


def test_diff_unified_side_by_side_and_json(ws):
    run("candidate", "save", str(draft(ws, "You are a helpful customer support agent.\n"
                                           "- Confirm before writes.")), "-m", "h")
    code, out, _ = run("candidate", "diff", "baseline", "cross-order")
    assert code == 0
    assert "+- Confirm before writes." in out.splitlines()
    code, out, _ = run("candidate", "diff", "cross-order")  # against its parent
    assert "+- Confirm before writes." in out.splitlines()
    code, out, _ = run("candidate", "diff", "baseline", "cross-order", "--side-by-side",
                       "--width", "80")
    assert any(ln.rstrip().endswith("- Confirm before writes.") and " > " in ln
               for ln in out.splitlines())
    code, out, _ = run("candidate", "diff", "baseline", "cross-order", "--json")
    d = json.loads(out)
    assert d["added"] == 1 and d["removed"] == 0 and d["rows"][1]["kind"] == "insert"
    code, _, err = run("candidate", "diff", "baseline", "nope")
    assert code == 2 and "nope" in err


def test_log_lists_lineage_with_gate_results(ws):
    run("candidate", "save", str(draft(ws, "B1")), "-m", "first")
    run("candidate", "save", str(draft(ws, "B2", name="child", parent="cross-order")), "-m", "2")
    conn = connect(os.environ["T2E_STORE"])
    child = get_version(conn, "child")
    conn.execute(
        "INSERT INTO gate_decisions (created_at, baseline_run_id, candidate_run_id, "
        "candidate_hash, tasks_json, evidence_role, decision) VALUES "
        "('2026-01-01', 'r1', 'r2', ?, '[]', 'heldout', 'discard')", (child.hash,))
    code, out, _ = run("candidate", "log", "--json")
    d = json.loads(out)
    names = [(v["name"], v["depth"]) for v in d["versions"]]
    assert names == [("baseline", 0), ("cross-order", 1), ("child", 2)]
    assert d["versions"][2]["gate"]["decision"] == "discard"
    code, out, _ = run("candidate", "log")
    assert "gate #1 discard (heldout)" in out and "reward by version" in out


def test_sparkline_scale():
    assert sparkline([0.0, 0.5, 1.0, None]) == "▁▅█·"
