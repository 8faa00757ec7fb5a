"""Runs through the store: manifest, streaming, bad input, infrastructure errors, cancel/resume.

The agent and user here are models behind the stub server, answering deterministically from
the request, so trajectories (and hashes) are reproducible without the scripted backend.
"""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
from click.testing import CliRunner
from stub_openai import StubOpenAI, call, error, text, tool_calls

from t2e_tui.cli import cli
from t2e_tui.engine.engine import execute_run, resume_run, run_summary
from t2e_tui.engine.plan import plan_run

SECRET = "sk-very-secret-value-42"


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("T2E_STUB_KEY", SECRET)


def customer_and_agent(body: dict) -> dict:
    """Deterministic: the reply depends only on the request's content."""
    system = body["messages"][0]["content"]
    if "role-playing a customer" in system:
        turns = sum(1 for m in body["messages"] if m["role"] == "assistant")
        if turns == 0:
            return text("Hi, I need help with an order. My email is nobody@example.com.")
        return text("###STOP###") if turns >= 2 else text("It's the one I received last week.")
    n_tool = sum(1 for m in body["messages"] if m["role"] == "tool")
    if n_tool == 0:
        return tool_calls(call("find_user_id_by_email", {"email": "nobody@example.com"}))
    return text(f"I could not find that account ({n_tool} lookups).")


def plan(stub, **kw):
    args = dict(domain="mini-retail", tasks="heldout", num_tasks=3, trials=2, concurrency=3,
                model="openai:agent-m", user="openai:user-m", base_url=stub.base_url,
                api_key_env="T2E_STUB_KEY", grade="db-communicate", max_retries=1,
                backoff=0.01, name="stub run", role="development")
    args.update(kw)
    return plan_run(**args)


def test_run_streams_every_episode_with_manifest_and_candidate(tmp_path):
    db = tmp_path / "s.sqlite"
    seen = []
    with StubOpenAI(responder=customer_and_agent) as stub:
        s = execute_run(plan(stub), str(db), on_episode=seen.append)
    assert s.status == "complete" and s.episodes == 6
    assert sorted((e.task_id, e.trial) for e in seen) == sorted(
        (t, k) for t in {e.task_id for e in seen} for k in (0, 1))
    assert seen[-1].done == 6 and seen[-1].total == 6
    conn = sqlite3.connect(db)
    run = conn.execute("SELECT name, role, status, agent_model, user_model, candidate_hash, "
                       "grading, num_trials, max_steps, max_errors, seed, manifest_json, world_id "
                       "FROM runs").fetchone()
    assert run[:8] == ("stub run", "development", "complete", "openai:agent-m",
                       "openai:user-m", run[5], "db-communicate", 2)
    m = json.loads(run[11])
    assert m["world_hash"] == run[12] and m["candidate"]["hash"] == run[5]
    assert m["agent"]["model"] == "agent-m" and m["user"]["model"] == "user-m"
    assert m["agent"]["endpoint"]["api_key_env"] == "T2E_STUB_KEY"
    assert m["max_steps"] == 200 and m["seed"] == 300 and m["code"]["t2e"]
    assert conn.execute("SELECT body FROM candidates WHERE candidate_hash = ?",
                        (run[5],)).fetchone()[0].strip()
    assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 3
    keys = [r[0] for r in conn.execute("SELECT episode_key FROM episodes ORDER BY ord")]
    assert len(keys) == 6 and len(set(keys)) == 6 and keys[0].endswith(":0")
    ep = conn.execute("SELECT episode_id, termination_reason, n_steps, n_tool_calls, "
                      "n_tool_errors, tokens_in, status, seed FROM episodes LIMIT 1").fetchone()
    assert ep[1] == "user_stop" and ep[3] == 1 and ep[4] == 1 and ep[6] == "done"
    steps = conn.execute("SELECT idx, role, latency_ms, tokens_in, tool_name, error FROM steps "
                         "WHERE episode_id = ? ORDER BY idx", (ep[0],)).fetchall()
    assert [r[0] for r in steps] == list(range(ep[2]))
    assert steps[0][1] == "assistant" and steps[1][1] == "user"
    assert any(r[4] == "find_user_id_by_email" and r[5] == 1 for r in steps)
    assert all(r[2] is not None for r in steps[1:])       # latency on every step but the greeting
    assert ep[5] == sum(r[3] or 0 for r in steps)
    # the key itself is never written anywhere in the store (only the variable's name)
    conn.close()
    assert SECRET.encode() not in db.read_bytes()
    for side in db.parent.glob("s.sqlite*"):
        assert SECRET.encode() not in side.read_bytes()


def test_prices_from_config_give_step_costs(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[prices."agent-m"]\ninput = 2.0\noutput = 8.0\n')
    monkeypatch.setenv("T2E_CONFIG", str(cfg))
    with StubOpenAI(responder=customer_and_agent) as stub:
        s = execute_run(plan(stub, trials=1, num_tasks=1), str(tmp_path / "s.sqlite"))
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    costs = conn.execute("SELECT role, cost FROM steps WHERE idx > 0").fetchall()
    assert all(c == pytest.approx((100 * 2 + 20 * 8) / 1e6) for r, c in costs if r == "assistant")
    assert all(c is None for r, c in costs if r == "user")   # no price for user-m
    agent_cost, user_cost = conn.execute("SELECT agent_cost, user_cost FROM episodes").fetchone()
    assert agent_cost == pytest.approx(sum(c for r, c in costs if r == "assistant"))
    assert user_cost is None and s.episodes == 1


def test_same_manifest_same_trajectory_hash(tmp_path):
    with StubOpenAI(responder=customer_and_agent) as stub:
        a = execute_run(plan(stub), str(tmp_path / "a.sqlite"))
        b = execute_run(plan(stub, concurrency=1), str(tmp_path / "b.sqlite"))
        c = execute_run(plan(stub, trials=1), str(tmp_path / "c.sqlite"))
    assert a.trajectory_hash == b.trajectory_hash
    assert a.trajectory_hash != c.trajectory_hash


def test_cancel_keeps_finished_episodes_and_resume_matches_uninterrupted(tmp_path):
    cancel = threading.Event()

    def stop_after_two(ev):
        if ev.done >= 2:
            cancel.set()
    with StubOpenAI(responder=customer_and_agent) as stub:
        full = execute_run(plan(stub), str(tmp_path / "full.sqlite"))
        db = str(tmp_path / "cut.sqlite")
        cut = execute_run(plan(stub, concurrency=1), db, on_episode=stop_after_two,
                          cancel=cancel)
        assert cut.status == "interrupted" and 2 <= cut.episodes < 6
        conn = sqlite3.connect(db)
        assert conn.execute("SELECT count(*) FROM episodes WHERE status = 'running'"
                            ).fetchone()[0] == 0
        conn.close()
        resumed = resume_run(db, cut.run_id)
    assert resumed.status == "complete" and resumed.episodes == 6
    assert resumed.trajectory_hash == full.trajectory_hash


def test_500s_end_episodes_as_infrastructure_error_and_resume_retries_them(tmp_path):
    db = str(tmp_path / "s.sqlite")
    with StubOpenAI(responder=lambda body: error(503, "overloaded")) as stub:
        s = execute_run(plan(stub), db)
        url = stub.base_url
    assert s.episodes == 6 and s.infrastructure_errors == 6
    assert s.reward is None and s.pass_rate is None     # excluded, not counted as failures
    assert s.status == "infrastructure_error"           # nothing measured: not "complete"
    conn = sqlite3.connect(db)
    reasons = {r[0] for r in conn.execute("SELECT termination_reason FROM episodes")}
    assert reasons == {"infrastructure_error"}
    extra = json.loads(conn.execute("SELECT extra_json FROM episodes").fetchone()[0])
    assert "503" in extra["error"] and SECRET not in extra["error"]
    conn.close()
    # the same endpoint, healthy again, on the same port is not guaranteed: point the stored
    # manifest at a new stub by resuming against a healthy server on the manifest's URL
    with StubOpenAI(responder=customer_and_agent) as healthy:
        conn = sqlite3.connect(db)
        m = conn.execute("SELECT manifest_json FROM runs").fetchone()[0].replace(url,
                                                                              healthy.base_url)
        conn.execute("UPDATE runs SET manifest_json = ?", (m,))
        conn.commit()
        conn.close()
        r = resume_run(db, s.run_id)
    assert r.infrastructure_errors == 0 and r.episodes == 6 and r.reward is not None
    assert r.status == "complete"


def test_cli_run_where_every_episode_is_infrastructure_error_exits_75(tmp_path):
    store = tmp_path / "s.sqlite"
    with StubOpenAI(responder=lambda body: error(503, "overloaded")) as stub:
        res = CliRunner().invoke(cli, [
            "--store", str(store), "run", "--json", "--tasks", "auth-01,auth-02",
            "--model", "openai:a", "--user", "openai:u", "--base-url", stub.base_url,
            "--api-key-env", "T2E_STUB_KEY", "--max-retries", "0"])
    assert res.exit_code == 75, res.output
    out = json.loads(res.stdout)
    assert out["status"] == "infrastructure_error" and out["infrastructure_errors"] == 2
    (line,) = res.stderr.strip().splitlines()
    assert "all 2 episode(s) ended infrastructure_error" in line and "--resume" in line
    # one episode that reached the model makes the run a (partial) measurement again
    conn = sqlite3.connect(store)
    conn.execute("UPDATE episodes SET termination_reason = 'user_stop', reward = 0, "
                 "success = 0 WHERE episode_id = (SELECT min(episode_id) FROM episodes)")
    conn.commit()
    s = run_summary(conn, out["run_id"])
    assert s.status == "complete" and s.infrastructure_errors == 1
    assert "75" in CliRunner().invoke(cli, ["run", "--help"]).output


def _invoke(args, store):
    return CliRunner().invoke(cli, ["--store", str(store), *args], catch_exceptions=False)


@pytest.mark.parametrize("args, message", [
    (["--tasks", "no-such-task,auth-01"], "no-such-task"),
    (["--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1",
      "--api-key-env", "T2E_UNSET_KEY_VAR"], "T2E_UNSET_KEY_VAR"),
    (["--model", "openai:m"], "no endpoint"),
    (["--model", "gpt-4"], "expected 'scripted' or 'openai:MODEL'"),
    (["--trials", "0"], "--trials"),
    (["--role", "boss"], "--role"),
])
def test_bad_input_exits_2_before_anything_is_written(tmp_path, monkeypatch, args, message):
    monkeypatch.delenv("T2E_UNSET_KEY_VAR", raising=False)
    store = tmp_path / "s.sqlite"
    res = _invoke(["run", "--json", *args], store)
    assert res.exit_code == 2, res.output
    assert message in json.loads(res.output)["error"]
    if store.exists():
        conn = sqlite3.connect(store)
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM candidates").fetchone()[0] == 0


def test_empty_candidate_is_refused(tmp_path):
    empty = tmp_path / "empty.md"
    empty.write_text("---\nname: empty\nparent: baseline\n---\n\n   \n")
    store = tmp_path / "s.sqlite"
    res = _invoke(["run", "--json", "--candidate", str(empty)], store)
    assert res.exit_code == 2
    assert "empty" in json.loads(res.output)["error"]
    assert sqlite3.connect(store).execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_cli_run_prints_the_summary_json(tmp_path):
    store = tmp_path / "s.sqlite"
    with StubOpenAI(responder=customer_and_agent) as stub:
        res = _invoke(["run", "--json", "--tasks", "auth-01,auth-02", "--trials", "1",
                       "--model", "openai:a", "--user", "openai:u", "--base-url", stub.base_url,
                       "--api-key-env", "T2E_STUB_KEY", "--temperature", "0",
                       "--param", "top_k=5", "--name", "cli run", "--role", "heldout"], store)
        assert res.exit_code == 0, res.output
        sent = stub.requests[0]
    out = json.loads(res.output)
    assert {"run_id", "episodes", "reward", "pass_rate", "trajectory_hash"} <= set(out)
    assert out["episodes"] == 2 and out["infrastructure_errors"] == 0
    assert sent["temperature"] == 0 and sent["top_k"] == 5
    conn = sqlite3.connect(store)
    assert conn.execute("SELECT name, role FROM runs").fetchone() == ("cli run", "heldout")
    assert {r[0] for r in conn.execute("SELECT termination_reason FROM episodes")} == {
        "user_stop"}
    assert run_summary(conn, out["run_id"]).trajectory_hash == out["trajectory_hash"]


def test_locate_prints_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("T2E_CONFIG", str(tmp_path / "c.toml"))
    res = _invoke(["locate", "config"], tmp_path / "s.sqlite")
    assert res.output.strip() == str(tmp_path / "c.toml")
    res = _invoke(["locate", "store", "--json"], tmp_path / "s.sqlite")
    assert json.loads(res.output) == {"store": str(tmp_path / "s.sqlite")}
    res = _invoke(["locate", "candidates", "--candidates", str(tmp_path)], tmp_path / "x")
    assert res.output.strip() == str(tmp_path)


def tau2_responder(verdict: bool):
    def respond(body: dict) -> dict:
        system = body["messages"][0]["content"]
        if system.startswith("You grade"):
            n = body["messages"][1]["content"].count("\n", body["messages"][1]["content"]
                                                     .index("<assertions>"))
            verdicts = [{"n": i + 1, "met": verdict, "justification": "stub"}
                        for i in range(n - 1)]
            return text(json.dumps({"verdicts": verdicts}))
        if "role-playing a customer" in system:
            turns = sum(1 for m in body["messages"] if m["role"] == "assistant")
            return text("How many t-shirt options are there?") if turns == 0 else \
                text("###STOP###")
        return text("There are 10 t-shirt options available.")
    return respond


def test_llm_judge_grades_nl_assertions_and_the_store_flags_them(tmp_path, tau2_dir):
    db = str(tmp_path / "s.sqlite")
    with StubOpenAI(responder=tau2_responder(True)) as stub:
        p = plan(stub, domain="tau2-retail", data_dir=str(tau2_dir / "retail"), tasks="2",
                 num_tasks=None, trials=1, grade="judge", user="openai:user-m")
        assert p.judge is not None and p.judge.model == "user-m"
        s = execute_run(p, db)
        judged = [r for r in stub.requests if r["messages"][0]["content"].startswith("You grade")]
    assert len(judged) == 1 and judged[0]["temperature"] == 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT grading FROM runs").fetchone()[0] == "judge"
    jd, nl = conn.execute("SELECT judge_dependent, nl_reward FROM episodes").fetchone()
    assert jd == 1 and nl == 1.0
    checks = conn.execute("SELECT met, judge_dependent FROM checks WHERE kind = 'nl_assertion'"
                          ).fetchall()
    assert checks and all(c == (1, 1) for c in checks)
    assert s.episodes == 1


def test_db_communicate_grading_never_calls_a_judge(tmp_path, tau2_dir):
    db = str(tmp_path / "s.sqlite")
    with StubOpenAI(responder=tau2_responder(False)) as stub:
        p = plan(stub, domain="tau2-retail", data_dir=str(tau2_dir / "retail"), tasks="2",
                 num_tasks=None, trials=1, grade="db-communicate")
        assert p.judge is None
        execute_run(p, db)
        judged = [r for r in stub.requests if r["messages"][0]["content"].startswith("You grade")]
    assert judged == []
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT grading FROM runs").fetchone()[0] == "db-communicate"
    assert conn.execute("SELECT judge_dependent FROM episodes").fetchone()[0] == 0


def test_tau2_tasks_need_an_llm_user_and_nl_tasks_a_judge(tmp_path, tau2_dir):
    data = str(tau2_dir / "retail")
    res = _invoke(["run", "--json", "--domain", "tau2-retail", "--data", data, "--tasks", "2",
                   "--grade", "db-communicate"], tmp_path / "s.sqlite")
    assert res.exit_code == 2 and "LLM user" in json.loads(res.output)["error"]
    res = _invoke(["run", "--json", "--domain", "tau2-retail", "--data", data, "--tasks", "2"],
                  tmp_path / "s.sqlite")
    assert res.exit_code == 2
    assert "need an LLM judge" in json.loads(res.output)["error"]


def test_steps_are_visible_to_a_reader_while_the_episode_runs(tmp_path):
    db = tmp_path / "s.sqlite"
    seen = []

    def spy(body):
        if "role-playing a customer" not in body["messages"][0]["content"] and any(
                m["role"] == "tool" for m in body["messages"]):
            # the agent's second request: its tool call and result must already be stored
            conn = sqlite3.connect(db)
            seen.append(conn.execute(
                "SELECT s.role FROM steps s JOIN episodes e USING (episode_id) "
                "WHERE e.status = 'running' ORDER BY s.idx").fetchall())
            conn.close()
        return customer_and_agent(body)
    with StubOpenAI(responder=spy) as stub:
        execute_run(plan(stub, trials=1, num_tasks=1, concurrency=1), str(db))
    assert seen and [r[0] for r in seen[0]] == ["assistant", "user", "assistant", "tool"]


def test_world_verify_accepts_a_rerun(tmp_path):
    store = tmp_path / "s.sqlite"
    s = execute_run(plan_run(tasks="auth-01", grade="db-communicate"), str(store))
    conn = sqlite3.connect(store)
    detail = json.loads(conn.execute("SELECT detail_json FROM worlds").fetchone()[0])
    assert {"data", "code"} <= set(detail)
    res = CliRunner().invoke(cli, ["--store", str(store), "world", "verify", s.run_id, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["changed"] is False


def test_a_key_reflected_by_the_server_is_never_stored_exported_or_printed(tmp_path):
    """A 401 whose body echoes the Authorization header: the key is redacted from the stored
    error, both exports and everything printed (issue 11, security 3)."""
    store = tmp_path / "s.sqlite"

    def echo_auth(body):
        return error(401, f"invalid credentials: {stub.headers[-1].get('authorization')} "
                          "(also sk-another-key-shaped-thing)")

    with StubOpenAI(responder=echo_auth) as stub:
        res = CliRunner().invoke(cli, [
            "--store", str(store), "run", "--tasks", "auth-01",
            "--model", "openai:a", "--user", "openai:u", "--base-url", stub.base_url,
            "--api-key-env", "T2E_STUB_KEY", "--max-retries", "0"])
    assert res.exit_code == 75, res.output
    assert stub.headers[-1]["authorization"] == f"Bearer {SECRET}"  # the server did see it
    conn = sqlite3.connect(store)
    (extra,) = conn.execute("SELECT extra_json FROM episodes").fetchone()
    (rid,) = conn.execute("SELECT run_id FROM runs").fetchone()
    assert "invalid credentials: Bearer [redacted]" in extra and "[redacted]" in extra
    outputs = [res.stdout + res.stderr, extra]
    for fmt in ("tau2", "jsonl"):
        r = CliRunner().invoke(cli, ["--store", str(store), "export", rid, "--format", fmt])
        assert r.exit_code == 0
        outputs.append(r.stdout)
    for args in (["show", f"{rid}:auth-01"], ["show", f"{rid}:auth-01", "--json"],
                 ["episodes", rid, "--json"]):
        outputs.append(CliRunner().invoke(cli, ["--store", str(store), *args]).output)
    for out in outputs:
        assert SECRET not in out and "sk-another" not in out
        assert "Bearer sk-" not in out
