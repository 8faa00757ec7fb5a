"""`t2e demo`: a real store built by the engine and the gate (scripted stand-in)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from store import connect
from t2e_tui.demo import build_demo


def test_demo_store_holds_a_promoted_and_a_discarded_candidate(tmp_path):
    s = build_demo(tmp_path / "demo.sqlite")
    by = {c["name"]: c for c in s["candidates"]}
    fix, harm = by["cross-order-v1"], by["skip-confirm-v1"]
    assert fix["decision"] == "promote" and fix["human"] == "promote"
    assert fix["fixes"] >= 6 and fix["regressions"] == 0 and fix["evidence_role"] == "heldout"
    assert harm["decision"] == "discard" and harm["human"] == "discard"
    assert harm["regressions"] >= 1
    conn = connect(tmp_path / "demo.sqlite")
    rows = conn.execute("SELECT g.candidate_name, g.decision, h.decision FROM gate_decisions g "
                        "JOIN human_decisions h USING (row_id) ORDER BY g.row_id").fetchall()
    assert [(r[1], r[2]) for r in rows] == [("promote", "promote"), ("discard", "discard")]
    assert conn.execute("SELECT count(*) FROM candidates").fetchone()[0] == 3
    assert conn.execute("SELECT count(DISTINCT run_id) FROM runs").fetchone()[0] == 4


def test_demo_cli_rebuilds_default_store_and_labels_stand_in(tmp_path):
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "t2e_tui.cli", "demo", "--no-open"]
    p1 = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert p1.returncode == 0, p1.stderr
    assert "STAND-IN" in p1.stdout
    path = p1.stdout.splitlines()[0].split(": ", 1)[1]
    assert path.startswith(str(tmp_path / "xdg-data"))  # the default demo store, not T2E_STORE
    p2 = subprocess.run(cmd + ["--json"], capture_output=True, text=True, env=env)
    d = json.loads(p2.stdout)
    assert d["store"] == path
    conn = connect(path)  # rebuilt, not appended to
    assert conn.execute("SELECT count(*) FROM gate_decisions").fetchone()[0] == 2


def test_demo_refuses_an_existing_explicit_store(tmp_path):
    target = tmp_path / "mine.sqlite"
    target.write_bytes(b"")
    p = subprocess.run([sys.executable, "-m", "t2e_tui.cli", "--store", str(target), "demo",
                        "--no-open"], capture_output=True, text=True)
    assert p.returncode == 2 and "already exists" in p.stderr
