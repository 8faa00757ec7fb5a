"""kill -9 a `t2e run` subprocess mid-run, resume it, and check nothing was lost or doubled."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stub_openai import StubOpenAI, call, text, tool_calls

T2E = str(Path(sys.executable).with_name("t2e"))


def agent(body: dict) -> dict:
    """A deterministic agent with a little latency, so the run is still going when killed."""
    n_tool = sum(1 for m in body["messages"] if m["role"] == "tool")
    if n_tool == 0:
        return tool_calls(call("find_user_id_by_email", {"email": "nobody@example.com"}),
                          delay=0.02)
    last_user = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    return text(f"I hear you ({len(last_user)} chars). Anything else?", delay=0.02)


def run_args(stub, store, *extra):
    return [T2E, "--store", str(store), "run", "--json", "--tasks", "heldout", "--num-tasks",
            "8", "--trials", "2", "--concurrency", "2", "--max-steps", "12",
            "--model", "openai:a", "--base-url", stub.base_url, "--api-key-env", "",
            *extra]


def check_store(path) -> None:
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    dup = conn.execute("SELECT episode_key, count(*) FROM episodes GROUP BY run_id, "
                       "episode_key HAVING count(*) > 1").fetchall()
    assert dup == []
    for eid, n_steps in conn.execute("SELECT episode_id, n_steps FROM episodes "
                                     "WHERE status = 'done'"):
        idx = [r[0] for r in conn.execute("SELECT idx FROM steps WHERE episode_id = ? "
                                          "ORDER BY idx", (eid,))]
        assert idx == list(range(n_steps))
    conn.close()


@pytest.mark.slow
def test_kill_9_then_resume_loses_and_duplicates_nothing(tmp_path):
    env = {**os.environ, "T2E_CONFIG": str(tmp_path / "none.toml")}
    with StubOpenAI(responder=agent) as stub:
        full = subprocess.run(run_args(stub, tmp_path / "full.sqlite"), env=env,
                              capture_output=True, text=True, timeout=300)
        assert full.returncode == 0, full.stderr
        expected = json.loads(full.stdout)
        assert expected["episodes"] == 16

        store = tmp_path / "cut.sqlite"
        proc = subprocess.Popen(run_args(stub, store), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        done_before = []
        deadline = time.time() + 120
        while time.time() < deadline:
            time.sleep(0.02)
            if not store.exists():
                continue
            try:
                conn = sqlite3.connect(store, timeout=0.2)  # (a 5 s wait let the run finish)
                done_before = [r[0] for r in conn.execute(
                    "SELECT episode_key FROM episodes WHERE status = 'done'")]
                running = conn.execute("SELECT count(*) FROM episodes WHERE status = 'running'"
                                       ).fetchone()[0]
                conn.close()
            except sqlite3.OperationalError:
                continue  # schema not there yet
            if len(done_before) >= 5 and running:
                break
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        check_store(store)
        conn = sqlite3.connect(store)
        run_id, status = conn.execute("SELECT run_id, status FROM runs").fetchone()
        kept = {r[0] for r in conn.execute(
            "SELECT episode_key FROM episodes WHERE status = 'done'")}
        conn.close()
        assert status == "running"                    # nobody could mark it
        assert set(done_before) <= kept               # every finished episode survived
        assert len(kept) < 16

        resumed = subprocess.run([T2E, "--store", str(store), "run", "--json", "--resume",
                                  run_id], env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    check_store(store)
    assert out["run_id"] == run_id and out["episodes"] == 16 and out["status"] == "complete"
    assert out["trajectory_hash"] == expected["trajectory_hash"]
    conn = sqlite3.connect(store)
    assert conn.execute("SELECT count(*) FROM episodes").fetchone()[0] == 16
    assert conn.execute("SELECT count(*) FROM steps_fts").fetchone()[0] == conn.execute(
        "SELECT count(*) FROM steps").fetchone()[0]


@pytest.mark.slow
def test_sigint_marks_the_run_interrupted_and_keeps_finished_episodes(tmp_path):
    import threading

    env = {**os.environ, "T2E_CONFIG": str(tmp_path / "none.toml")}
    store = tmp_path / "s.sqlite"
    # once 3 episodes are done the agent turns slow, so the run is surely still going when
    # the signal comes
    slow = threading.Event()

    def slowing_agent(body: dict) -> dict:
        if slow.is_set():
            time.sleep(0.5)
        return agent(body)

    with StubOpenAI(responder=slowing_agent) as stub:
        # SIGINT at its default in the run, as from a terminal: a test runner started in the
        # background (`cmd &`, nohup: SIGINT ignored, and inherited) made the run ignore the
        # signal and finish (exit 0)
        proc = subprocess.Popen(run_args(stub, store), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.time() + 120
        n = 0
        while time.time() < deadline and n < 3:
            time.sleep(0.05)
            try:
                conn = sqlite3.connect(store, timeout=0.2)
                n = conn.execute("SELECT count(*) FROM episodes WHERE status = 'done'"
                                 ).fetchone()[0]
                conn.close()
            except sqlite3.OperationalError:
                continue
        assert n >= 3, "the run never finished 3 episodes"
        slow.set()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "--resume" in err
    summary = json.loads(out)
    assert summary["status"] == "interrupted" and summary["episodes"] >= 3
    conn = sqlite3.connect(store)
    assert conn.execute("SELECT status FROM runs").fetchone()[0] == "interrupted"
    assert conn.execute("SELECT count(*) FROM episodes WHERE status = 'running'"
                        ).fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM episodes").fetchone()[0] >= 3


@pytest.mark.slow
def test_kill_9_scripted_run_then_resume_reproduces_the_uninterrupted_hash(tmp_path):
    env = {**os.environ, "T2E_CONFIG": str(tmp_path / "none.toml")}
    args = ["run", "--json", "--tasks", "all", "--trials", "4", "--concurrency", "4",
            "--grade", "db-communicate", "--noise", "0.1"]
    full = subprocess.run([T2E, "--store", str(tmp_path / "full.sqlite"), *args], env=env,
                          capture_output=True, text=True, timeout=300)
    assert full.returncode == 0, full.stderr
    expected = json.loads(full.stdout)
    store = tmp_path / "cut.sqlite"
    proc = subprocess.Popen([T2E, "--store", str(store), *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    n = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            conn = sqlite3.connect(store, timeout=0.2)  # (a 5 s wait let the run finish)
            n = conn.execute("SELECT count(*) FROM episodes WHERE status = 'done'").fetchone()[0]
            conn.close()
        except sqlite3.OperationalError:
            pass
        if n >= 40:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    check_store(store)
    conn = sqlite3.connect(store)
    run_id = conn.execute("SELECT run_id FROM runs").fetchone()[0]
    kept = conn.execute("SELECT count(*) FROM episodes WHERE status = 'done'").fetchone()[0]
    conn.close()
    assert n <= kept < 512
    resumed = subprocess.run([T2E, "--store", str(store), "run", "--json", "--resume", run_id],
                             env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    check_store(store)
    assert out["episodes"] == 512 == expected["episodes"]
    assert out["trajectory_hash"] == expected["trajectory_hash"]
    assert (out["reward"], out["pass_rate"]) == (expected["reward"], expected["pass_rate"])
