"""Fork from step t (#14): the restored world, the refusal of divergent traces, forks stored as
development evidence with their parent and step, the CLI on our runs and on imported tau2 traces
(LLM user over real HTTP against the local stub)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_gate_builders import make_run, new_store

import store
from store.importers import import_path
from store.queries import load_episode, resolve_episode
from t2e_tui.cli.main import cli
from t2e_tui.gate import evaluate
from world.replay import ReplayDivergence, restore_at
from world.scoring import gold_db, replay_calls
from world.tasks import parse_task
from world.tools import RetailEnv


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory, demo_template):
    """A demo store of our own (forks are written into it)."""
    from demo_store import copy_demo

    return copy_demo(demo_template, tmp_path_factory.mktemp("forkdemo") / "demo.sqlite")["store"]


def _t2e(store_path, *args):
    return CliRunner().invoke(cli, ["--store", str(store_path), *args])


def _baseline_heldout(path) -> str:
    conn = store.connect(path)
    try:
        return conn.execute("SELECT run_id FROM runs WHERE name = 'baseline heldout'"
                            ).fetchone()[0]
    finally:
        conn.close()


# ------------------------------------------------------------------ the restored world

def test_restore_every_step_of_the_shared_trajectories(tau2_dir, shared_results, tmp_path):
    """Every step of the 80 real retail simulations: the world restored at t answers the next
    recorded call as recorded, equals the scorer's own write replay of the prefix, and at the
    end matches the gold DB exactly when the recording says db_match."""
    from world.tau2_data import load_retail_db

    base = load_retail_db(tau2_dir / "retail")
    db = store.open_db(tmp_path / "s.sqlite")
    checked_steps = checked_next = 0
    for path in shared_results:
        run_id = import_path(db, path, role="heldout")["run_id"]
        for (eid,) in db.conn.execute("SELECT episode_id FROM episodes WHERE run_id = ?",
                                      (run_id,)).fetchall():
            ep = load_episode(db, eid)
            msgs = ep["messages"]
            calls = {c["id"]: c for m in msgs for c in (m.get("tool_calls") or [])}
            for t in range(len(msgs) + 1):
                got = restore_at(base, msgs, t)
                ref_env, _ = replay_calls(base, _answered(msgs[:t]))
                assert got.db == ref_env.db, (path.name, ep["task_id"], t)
                nxt = next((m for m in msgs[t:] if m["role"] == "tool"), None)
                if nxt is not None:
                    call = calls[nxt["id"]]
                    res = RetailEnv(got.db.fork()).call(call["name"], call["arguments"])
                    assert (res.content, res.error) == (nxt["content"], bool(nxt["error"]))
                    checked_next += 1
                checked_steps += 1
            task = parse_task(json.loads(db.conn.execute(
                "SELECT task_json FROM tasks WHERE run_id = ? AND task_id = ?",
                (run_id, ep["task_id"])).fetchone()[0]))
            final = restore_at(base, msgs, len(msgs)).db
            assert (final == gold_db(task, base)) == bool(ep["db_match"]), ep["task_id"]
    assert checked_steps > 1000 and checked_next > 500


def _answered(prefix: list[dict]) -> list[dict]:
    """The prefix without calls whose results come later (they run when answered)."""
    done = {m.get("id") for m in prefix if m["role"] == "tool"}
    out = []
    for m in prefix:
        if m.get("tool_calls"):
            m = {**m, "tool_calls": [c for c in m["tool_calls"] if c["id"] in done]}
        out.append(m)
    return out


def test_a_divergent_trace_is_refused_naming_the_step(tau2_dir, shared_results):
    from world.tau2_data import load_retail_db

    base = load_retail_db(tau2_dir / "retail")
    sim = json.loads(shared_results[0].read_text())["simulations"][0]
    msgs = [dict(m) for m in sim["messages"]]
    tool_idx = [i for i, m in enumerate(msgs) if m["role"] == "tool"]
    bad = tool_idx[1]
    msgs[bad]["content"] = msgs[bad]["content"].replace('"', "'", 1) + " "
    restore_at(base, msgs, bad)  # the prefix before the edited step is still fine
    with pytest.raises(ReplayDivergence) as exc:
        restore_at(base, msgs, len(msgs))
    assert exc.value.step == bad and f"step {bad}:" in str(exc.value)


def test_restore_refuses_a_step_outside_the_trajectory():
    from world.domains import load_domain
    from world.errors import WorldError

    base = load_domain("mini-retail").base_db
    with pytest.raises(WorldError, match="outside the trajectory"):
        restore_at(base, [{"role": "assistant", "content": "hi"}], 5)


# ------------------------------------------------------------------ fork on our runs

def test_fork_cli_stores_forks_with_parent_and_step(demo_store):
    base = _baseline_heldout(demo_store)
    r = _t2e(demo_store, "fork", f"{base[:6]}:auth-01", "--at", "5", "--trials", "2",
             "--candidate", "cross-order-v1", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["role"] == "development" and out["scripted_stand_in"] is True
    assert [f["trial"] for f in out["forks"]] == [0, 1]
    conn = store.connect(demo_store)
    parent_id = resolve_episode(conn, f"{base}:auth-01")
    parent = load_episode(conn, parent_id)
    run = conn.execute("SELECT role, manifest_json FROM runs WHERE run_id = ?",
                       (out["run_id"],)).fetchone()
    assert run[0] == "development"
    manifest = json.loads(run[1])
    assert manifest["kind"] == "fork" and manifest["fork_step"] == 5
    for f in out["forks"]:
        ep = load_episode(conn, f["episode_id"])
        assert (ep["forked_from_episode"], ep["forked_at_step"]) == (parent_id, 5)
        strip = [(m["role"], m.get("content"), m.get("tool_calls")) for m in ep["messages"][:5]]
        assert strip == [(m["role"], m.get("content"), m.get("tool_calls"))
                         for m in parent["messages"][:5]]
        assert len(ep["messages"]) > 5 and ep["status"] == "done"
    conn.close()


def test_fork_refuses_a_tampered_trace_naming_the_first_differing_step(demo_store):
    base = _baseline_heldout(demo_store)
    conn = store.connect(demo_store)
    eid = resolve_episode(conn, f"{base}:auth-02")
    step = conn.execute("SELECT min(idx) FROM steps WHERE episode_id = ? AND role = 'tool'",
                        (eid,)).fetchone()[0]
    n = conn.execute("SELECT count(*) FROM steps WHERE episode_id = ?", (eid,)).fetchone()[0]
    before = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    with store.writer.transaction(conn):
        conn.execute("UPDATE steps SET content = content || ' (edited)' WHERE episode_id = ? "
                     "AND idx = ?", (eid, step))
    r = _t2e(demo_store, "fork", str(eid), "--at", str(n - 1))
    assert r.exit_code == 2
    assert f"step {step}: replaying" in r.output and "not made in this world" in r.output
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == before  # nothing written
    conn.close()


@pytest.mark.parametrize("args,msg", [
    (["--at", "0"], "fork at a step from 1"),
    (["--at", "5", "--trials", "0"], "--trials 0"),
    (["--at", "5", "--model", "gpt"], "expected 'scripted' or 'openai:MODEL'"),
])
def test_fork_bad_input_is_one_line_exit_2(demo_store, args, msg):
    base = _baseline_heldout(demo_store)
    r = _t2e(demo_store, "fork", f"{base}:auth-01", *args)
    assert r.exit_code == 2 and msg in r.output


def test_unknown_episode_is_one_line(demo_store):
    r = _t2e(demo_store, "fork", "nosuchrun:auth-01", "--at", "3")
    assert r.exit_code == 2 and "no run matches 'nosuchrun'" in r.output


# ------------------------------------------------------------------ imported tau2 traces

def test_fork_an_imported_tau2_trace_with_an_llm_user(tau2_dir, shared_results, tmp_path,
                                                     monkeypatch):
    """The world is restored from the tau2 data directory; the rest is played by an LLM agent
    and an LLM user, both the local stub over real HTTP."""
    from stub_openai import StubOpenAI, text

    path = tmp_path / "s.sqlite"
    db = store.open_db(path)
    run_id = import_path(db, shared_results[0], role="heldout")["run_id"]
    monkeypatch.delenv("TAU2_DATA_DIR", raising=False)
    r = _t2e(path, "fork", f"{run_id}:18", "--at", "3", "--model", "openai:stub")
    assert r.exit_code == 2 and "no tau2 data directory" in r.output
    with StubOpenAI(responder=lambda body: text("Thank you, that is all. ###STOP###")) as srv:
        r = _t2e(path, "fork", f"{run_id}:18", "--at", "3", "--model", "openai:stub",
                 "--base-url", srv.base_url, "--api-key-env", "", "--data", str(tau2_dir / "retail"), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["user"] == "openai:stub" and out["scripted_stand_in"] is False
    fork = load_episode(db, out["forks"][0]["episode_id"])
    parent = load_episode(db, out["parent_episode"])
    assert [m.get("content") for m in fork["messages"][:3]] == \
        [m.get("content") for m in parent["messages"][:3]]
    assert fork["messages"][3]["role"] in ("assistant", "user")
    assert fork["forked_at_step"] == 3


def test_tau2_task_needs_an_llm_user(tau2_dir, shared_results, tmp_path):
    path = tmp_path / "s.sqlite"
    run_id = import_path(store.open_db(path), shared_results[0])["run_id"]
    r = _t2e(path, "fork", f"{run_id}:18", "--at", "3", "--data", str(tau2_dir))
    assert r.exit_code == 2 and "has no scripted-user scenario" in r.output


# ------------------------------------------------------------------ the gate

def test_the_gate_refuses_forks_as_heldout_evidence(tmp_path):
    from store.heldout import register_set

    conn = new_store(tmp_path)
    # clean heldout needs a set registered before the runs (#10's rule)
    register_set(conn, "ho", "mini-retail", [str(i) for i in range(1, 9)], spec="1-8")
    make_run(conn, "base", {str(i): [0.0] for i in range(1, 9)}, role="heldout",
             candidate_hash="a" * 64)
    make_run(conn, "cand", {str(i): [1.0] for i in range(1, 9)}, role="heldout",
             candidate_hash="b" * 64)
    assert evaluate(conn, "base", "cand").evidence_role == "heldout"
    conn.execute("UPDATE episodes SET forked_from_episode = 1, forked_at_step = 3 WHERE "
                 "run_id = (SELECT run_id FROM runs WHERE name = 'cand') AND task_id = '4'")
    r = evaluate(conn, "base", "cand")
    assert r.evidence_role == "development"
    assert any("1 fork(s)" in x for x in r.role.reasons)


def test_the_gate_refuses_task_reruns_as_heldout_evidence(tmp_path):
    conn = new_store(tmp_path)
    make_run(conn, "base", {str(i): [0.0] for i in range(1, 9)}, role="heldout")
    make_run(conn, "cand", {str(i): [1.0] for i in range(1, 9)}, role="heldout",
             manifest={"task_selection": {"by": "task-rerun", "task": "3"}})
    r = evaluate(conn, "base", "cand")
    assert r.evidence_role == "development"
    assert any("task rerun" in x for x in r.role.reasons)


def test_a_fork_inside_a_tool_round_first_answers_the_pending_calls(demo_store):
    """Forking between a call and its result: the kept call is answered first (by the
    restored world, so exactly as recorded), then the agent speaks."""
    base = _baseline_heldout(demo_store)
    conn = store.connect(demo_store)
    parent = load_episode(conn, resolve_episode(conn, f"{base}:auth-01"))
    at = next(i for i, m in enumerate(parent["messages"]) if m["role"] == "tool")
    r = _t2e(demo_store, "fork", f"{base}:auth-01", "--at", str(at), "--json")
    assert r.exit_code == 0, r.output
    fork = load_episode(conn, json.loads(r.output)["forks"][0]["episode_id"])
    conn.close()
    got, want = fork["messages"][at], parent["messages"][at]
    assert got["role"] == "tool" and (got["id"], got["content"]) == (want["id"], want["content"])
    assert fork["messages"][at + 1]["role"] == "assistant"


# ------------------------------------------------------------------ the model never reached

def _dead_endpoint(tmp_path, monkeypatch) -> None:
    """An endpoint on a loopback port nothing listens on, no retries: every call fails."""
    config = tmp_path / "t2e.toml"
    config.write_text('[endpoints.dead]\nbase_url = "http://127.0.0.1:9/v1"\napi_key_env = ""\n'
                      "max_retries = 0\ntimeout = 5\n")
    monkeypatch.setenv("T2E_CONFIG", str(config))


def test_a_fork_that_never_reached_the_model_exits_75_and_says_reward_n_a(
        demo_store, tmp_path, monkeypatch):
    """As `t2e run`: every trial ended infrastructure_error -> exit 75 and one line on stderr;
    the fork line, `t2e show` (text and JSON) and `t2e episodes` say reward n/a, not 0, as
    `t2e runs` leaves the run's reward empty (infrastructure errors are in no figure)."""
    _dead_endpoint(tmp_path, monkeypatch)
    base = _baseline_heldout(demo_store)
    args = ("fork", f"{base}:auth-01", "--at", "2", "--model", "openai:x", "--user",
            "scripted", "--endpoint", "dead", "--trials", "2")
    r = _t2e(demo_store, *args)
    assert r.exit_code == 75, r.output
    run_id = r.stdout.split(" run ")[1].split()[0]
    assert r.stderr == (f"t2e: error: fork run {run_id}: all 2 trial(s) ended "
                        "infrastructure_error: the model endpoint was never reached (check the "
                        "server, --base-url, the key), then fork again\n")
    lines = [ln for ln in r.stdout.splitlines() if "trial " in ln]
    assert len(lines) == 2 and all("reward n/a  infrastructure_error" in ln for ln in lines)
    assert not any("✗" in ln or "reward 0" in ln for ln in lines)
    eid = int(lines[0].split("episode ")[1].split()[0])
    show = _t2e(demo_store, "show", str(eid))
    assert show.exit_code == 0 and "termination infrastructure_error reward n/a db" in show.stdout
    doc = json.loads(_t2e(demo_store, "show", str(eid), "--json").stdout)
    assert doc["reward"] is None and doc["success"] is None
    eps = _t2e(demo_store, "episodes", run_id, "--table")
    assert eps.stdout.count("   n/a  ") == 2, eps.stdout
    for e in json.loads(_t2e(demo_store, "episodes", run_id, "--json").stdout):
        assert e["reward"] is None and e["success"] is None
    assert json.loads(_t2e(demo_store, "runs", "--json").stdout)[-1]["reward"] is None
    vs = _t2e(demo_store, "show", f"{base}:auth-01", "--vs", str(eid))
    assert vs.exit_code == 0 and "infrastructure_error reward n/a" in " ".join(vs.stdout.split())
    # the app's compare header, wide and narrow
    from t2e_tui import data_access as da
    from t2e_tui.ui.screens.compare import reward_compact, reward_line

    conn = store.connect(demo_store)
    ep = da.load_episode(conn, eid)
    conn.close()
    assert "  reward n/a (infrastructure_error)" in reward_line("B", ep).plain
    assert reward_compact("B", ep).plain.startswith("B r=n/a")
    r = _t2e(demo_store, *args, "--json")
    assert r.exit_code == 75 and "all 2 trial(s) ended infrastructure_error" in r.stderr
    assert [f["reward"] for f in json.loads(r.stdout)["forks"]] == [None, None]
