"""Scripted runs end to end: reproducible, candidate-sensitive, resumable, exportable."""

from __future__ import annotations

import sqlite3
import threading

from t2e_tui.engine.engine import execute_run, resume_run
from t2e_tui.engine.manifest import episode_seed
from t2e_tui.engine.plan import plan_run

CROSS_ORDER = ("You are a helpful customer support agent. Follow the policy above and use the "
               "tools to help the customer.\n"
               "- When the customer says it is the same as the one they received, look up "
               "their delivered orders to find that item.\n")


def scripted(tmp_path, name="s", **kw):
    args = dict(domain="mini-retail", tasks="dev", trials=2, concurrency=4,
                grade="db-communicate")
    args.update(kw)
    return execute_run(plan_run(**args), str(tmp_path / f"{name}.sqlite"))


def test_scripted_runs_reproduce_exactly(tmp_path):
    a = scripted(tmp_path, "a")
    b = scripted(tmp_path, "b", concurrency=1)
    assert a.episodes == 80 and a.status == "complete"
    assert a.trajectory_hash == b.trajectory_hash
    assert (a.reward, a.pass_rate) == (b.reward, b.pass_rate)
    assert 0 < a.reward < 1       # the baseline solves some tasks, not all
    conn_a = sqlite3.connect(tmp_path / "a.sqlite")
    conn_b = sqlite3.connect(tmp_path / "b.sqlite")
    q = ("SELECT e.episode_key, s.idx, s.role, s.content, s.tool_calls, s.error FROM steps s "
         "JOIN episodes e USING (episode_id) ORDER BY e.episode_key, s.idx")
    assert conn_a.execute(q).fetchall() == conn_b.execute(q).fetchall()


def test_episode_seeds_come_from_run_seed_task_and_trial(tmp_path):
    s = scripted(tmp_path, tasks="auth-01", trials=3, seed=11)
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    seeds = dict(conn.execute("SELECT trial, seed FROM episodes"))
    assert seeds == {k: episode_seed(11, "auth-01", k) for k in range(3)}
    assert len(set(seeds.values())) == 3 and s.episodes == 3


def test_noise_gives_trials_reproducible_variance(tmp_path):
    a = scripted(tmp_path, "a", noise=0.3, trials=3)
    b = scripted(tmp_path, "b", noise=0.3, trials=3)
    quiet = scripted(tmp_path, "q", trials=3)
    assert a.trajectory_hash == b.trajectory_hash
    assert a.trajectory_hash != quiet.trajectory_hash
    conn = sqlite3.connect(tmp_path / "a.sqlite")
    # some task's trials disagree with each other (real variance for the statistics)
    mixed = conn.execute("SELECT count(*) FROM (SELECT task_id FROM episodes GROUP BY task_id "
                         "HAVING min(success) != max(success))").fetchone()[0]
    assert mixed > 0


def test_a_rule_phrase_in_the_candidate_changes_trajectories(tmp_path):
    cand = tmp_path / "cross.md"
    cand.write_text(f"---\nname: cross-order\nparent: baseline\n---\n{CROSS_ORDER}")
    base = scripted(tmp_path, "base", tasks="heldout", trials=1)
    cross = scripted(tmp_path, "cross", tasks="heldout", trials=1, candidate=str(cand))
    assert base.trajectory_hash != cross.trajectory_hash
    conn = sqlite3.connect(tmp_path / "cross.sqlite")
    assert conn.execute("SELECT name FROM candidates").fetchone()[0].startswith("cross-order")
    prompt_hash = conn.execute("SELECT candidate_hash FROM runs").fetchone()[0]
    assert conn.execute("SELECT count(*) FROM candidates WHERE candidate_hash = ?",
                        (prompt_hash,)).fetchone()[0] == 1


def test_cancel_then_resume_gives_the_uninterrupted_hash(tmp_path):
    full = scripted(tmp_path, "full", tasks="all", trials=1)
    cancel = threading.Event()
    db = tmp_path / "cut.sqlite"
    cut = execute_run(plan_run(domain="mini-retail", tasks="all", trials=1, concurrency=4,
                               grade="db-communicate"), str(db),
                      on_episode=lambda ev: ev.done >= 30 and cancel.set(), cancel=cancel)
    assert cut.status == "interrupted" and 30 <= cut.episodes < 128
    resumed = resume_run(str(db), cut.run_id)
    assert resumed.episodes == 128 and resumed.trajectory_hash == full.trajectory_hash


def test_an_internal_error_stops_the_run_resumably(tmp_path, monkeypatch):
    import pytest

    import world.scoring
    real = world.scoring.score_episode
    calls = []

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("scorer bug")
        return real(*a, **kw)
    monkeypatch.setattr(world.scoring, "score_episode", flaky)
    db = tmp_path / "s.sqlite"
    with pytest.raises(RuntimeError, match="scorer bug"):
        execute_run(plan_run(tasks="dev", trials=1, concurrency=1, grade="db-communicate"),
                    str(db))
    conn = sqlite3.connect(db)
    run_id, status = conn.execute("SELECT run_id, status FROM runs").fetchone()
    assert status == "interrupted"
    assert conn.execute("SELECT count(*) FROM episodes WHERE status = 'running'"
                        ).fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM episodes").fetchone()[0] == 4
    monkeypatch.setattr(world.scoring, "score_episode", real)
    assert resume_run(str(db), run_id).episodes == 40


def test_group_commit_writes_the_same_rows_as_per_step_commits(tmp_path, monkeypatch):
    import t2e_tui.engine.engine as engine_mod
    from t2e_tui.engine.sink import StepSink
    batched = scripted(tmp_path, "batched", trials=1)
    monkeypatch.setattr(engine_mod, "StepSink",
                        lambda conn, batch: StepSink(conn, batch=False))
    single = scripted(tmp_path, "single", trials=1)
    assert batched.trajectory_hash == single.trajectory_hash
    q = {"steps": "SELECT e.episode_key, s.idx, s.role, s.content, s.tool_calls, s.tool_call_id, "
                  "s.tool_name, s.error, s.huge FROM steps s JOIN episodes e USING (episode_id) "
                  "ORDER BY 1, 2",
         "calls": "SELECT e.episode_key, t.pos, t.name, t.arguments, t.kind FROM tool_calls t "
                  "JOIN episodes e USING (episode_id) ORDER BY 1, t.step_id, 2",
         "fts": "SELECT count(*) FROM steps_fts WHERE steps_fts MATCH 'order'"}
    a = sqlite3.connect(tmp_path / "batched.sqlite")
    b = sqlite3.connect(tmp_path / "single.sqlite")
    for name, sql in q.items():
        assert a.execute(sql).fetchall() == b.execute(sql).fetchall(), name
    assert a.execute(q["fts"]).fetchone()[0] > 0


def test_a_scripted_episode_is_written_in_one_transaction(tmp_path, monkeypatch):
    """With the group commit an episode took three: its row (an INSERT on its own), its
    steps, and its close (finish_episode); each commit writes the pages it touched and FTS5
    flushes a segment. Now its row, steps and close are one transaction (the steps of an
    episode longer than the commit delay are still committed on the way)."""
    import store

    statements: list[str] = []
    real = store.connect

    def traced(*a, **kw):
        conn = real(*a, **kw)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(store, "connect", traced)
    summary = execute_run(plan_run(tasks="dev", trials=1, concurrency=2), str(tmp_path / "s.sqlite"),
                          commit_delay=600)
    txns, current = [], None
    for sql in statements:
        head = sql.lstrip().split(None, 1)[0].upper()
        if head == "BEGIN":
            current = []
        elif head in ("COMMIT", "ROLLBACK"):
            txns.append(current)
            current = None
        elif current is not None:
            current.append(sql)
        else:
            assert not sql.startswith(("INSERT INTO episodes", "INSERT INTO steps")), sql
    episodes = [t for t in txns if any(s.startswith("INSERT INTO episodes") for s in t)]
    assert len(episodes) == summary.episodes > 1
    for t in episodes:
        # (the trace repeats a statement for each trigger it fires: one episode, one text)
        assert len({s for s in t if s.startswith("INSERT INTO episodes")}) == 1
        assert any(s.startswith("INSERT INTO steps") for s in t)
        assert any(s.startswith("UPDATE episodes SET status = 'done'") for s in t)


def test_a_scripted_run_does_not_load_the_openai_package(tmp_path):
    """`import openai` is ~0.9 s of CPU (pydantic models for the whole API); a run with the
    scripted stand-in never calls a model, and every `t2e run`/`t2e demo` paid it at start."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = ("import atexit, sys; from t2e_tui.cli import cli; "
            "atexit.register(lambda: print('openai' in sys.modules)); "
            "cli.main(['--store', sys.argv[1], 'run', '--model', 'scripted', '--tasks', "
            "'crossorder-01', '--json'])")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.sqlite")],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    *out, loaded = proc.stdout.split("\n")[:-1]
    assert json.loads("\n".join(out))["episodes"] == 1
    assert loaded == "False"
