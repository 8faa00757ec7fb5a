"""tau2-bench 1.x results: full-duplex ticks, per-simulation reviews, new termination reasons,
new task fields, grader versions. Fixtures are hand-made from tau2's data model
(tests/fixtures/tau2_1x), no tau2 file is copied. The directory layout itself (what is read,
in which order, what is refused): test_import_tau2_dir.py."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import store
from store import queries
from store.exporters import export_dict
from store.importers import ImportFailure, import_path
from store.importers.tau2_ticks import messages_from_ticks

FIX = Path(__file__).parent / "fixtures" / "tau2_1x"


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "s.sqlite")


def steps_of(db, run_id, sim_id):
    return db.conn.execute(
        "SELECT s.role, s.content, s.tool_calls, s.tool_call_id, s.extra_json FROM steps s "
        "JOIN episodes e USING (episode_id) WHERE e.run_id = ? AND e.sim_id = ? ORDER BY s.idx",
        (run_id, sim_id)).fetchall()


def test_ticks_only_simulation_gets_its_steps(db):
    entry = import_path(db, FIX / "voice_run")
    rows = steps_of(db, entry["run_id"], "sim-voice-1")
    # was: zero steps (messages null, turns only in ticks)
    assert [(r[0], r[1]) for r in rows] == [
        ("user", "Hi, where is my order?"),
        ("assistant", "Sure, your name and zip please?"),
        ("user", "Ada Lane, 10001."),
        ("assistant", None),
        ("tool", "ada_lane_1"),
        ("assistant", "Thanks Ada, it ships tomorrow."),
        ("user", "Great, bye!"),
    ]
    call = json.loads(rows[3][2])
    assert call == [{"id": "call_1", "name": "find_user_id_by_name_zip",
                     "arguments": {"first_name": "Ada", "last_name": "Lane", "zip": "10001"},
                     "requestor": "assistant"}]
    assert rows[4][3] == "call_1"
    n = db.conn.execute("SELECT n_steps, n_tool_calls FROM episodes WHERE sim_id = ?",
                        ("sim-voice-1",)).fetchone()
    assert n == (7, 1)
    assert any("ticks" in w and "1 simulation" in w for w in entry["warnings"]), entry["warnings"]
    # the first user message keeps where it came from and its audio fields as metadata
    extra = json.loads(rows[0][4])
    assert extra["ticks"] == {"start": 0, "end": 1, "chunks": 2}
    assert extra["is_audio"] is True and extra["audio_path"].endswith("user_0.wav")
    assert entry["messages"] == 2 + 7


def test_ticks_run_exports_as_it_came(db):
    entry = import_path(db, FIX / "voice_run")
    out = export_dict(db, entry["run_id"])
    sims = {s["id"]: s for s in out["simulations"]}
    src = json.loads((FIX / "voice_run/simulations/sim-voice-1.json").read_text())
    assert sims["sim-voice-1"] == src  # messages stay null, ticks untouched
    src2 = json.loads((FIX / "voice_run/simulations/sim-text-2.json").read_text())
    assert sims["sim-text-2"] == src2  # audio message fields kept


def test_overlapping_speech_orders_by_start_and_bad_ticks_are_named(db, tmp_path):
    ticks = [{"tick_id": 0, "agent_chunk": {"content": "Let me "}, "user_chunk": {"content": "wait"}},
             {"tick_id": 1, "agent_chunk": {"content": "check."}}]
    msgs = messages_from_ticks(ticks)
    assert [(m["role"], m["content"]) for m in msgs] == [("assistant", "Let me check."),
                                                         ("user", "wait")]
    d = tmp_path / "bad"
    shutil.copytree(FIX / "voice_run", d)
    sim = json.loads((d / "simulations/sim-voice-1.json").read_text())
    sim["ticks"][2]["agent_tool_calls"] = "oops"
    (d / "simulations/sim-voice-1.json").write_text(json.dumps(sim))
    with pytest.raises(store.importers.ImportFailure) as exc:
        import_path(db, d)
    msg = str(exc.value)
    assert "sim-voice-1" in msg and "tick #2" in msg and "agent_tool_calls" in msg
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def _task(tid, basis=("DB",), actions=()):
    return {"id": tid, "user_scenario": {"instructions": f"hand-made scenario {tid}"},
            "evaluation_criteria": {"actions": list(actions), "communicate_info": [],
                                    "reward_basis": list(basis)},
            "issues": [{"id": f"{tid}-i", "title": "wording", "status": "open"}],
            "required_documents": ["Fees table"], "user_tools": ["toggle_airplane_mode"]}


def _sim(sid, tid, reward, reason, trial=0, ri_extra=None):
    ri = {"reward": reward, "db_check": {"db_match": reward == 1.0, "db_reward": reward},
          "reward_basis": ["DB"], "reward_breakdown": {"DB": reward}, "info": None}
    ri.update(ri_extra or {})
    return {"id": sid, "task_id": tid, "timestamp": "2026-03-01T00:00:00",
            "start_time": "2026-03-01T00:00:00", "end_time": "2026-03-01T00:00:05",
            "duration": 5.0, "termination_reason": reason, "agent_cost": 0.0, "user_cost": 0.0,
            "reward_info": ri, "trial": trial, "seed": 1,
            "messages": [{"role": "assistant", "content": "Hello", "turn_idx": 0}]}


def results_1x(domain, *, version=None, commit="c0ffee", sims=None, tasks=None):
    info = {"git_commit": commit, "num_trials": 1, "max_steps": 100, "max_errors": 10,
            "user_info": {"implementation": "user_simulator", "llm": "u"},
            "agent_info": {"implementation": "llm_agent", "llm": "a"},
            "environment_info": {"domain_name": domain, "policy": "policy text"}, "seed": 1}
    if version:
        info["tau2_version"] = version
    return {"timestamp": "2026-03-01T00:00:00", "info": info,
            "tasks": tasks or [_task("task_001"), _task("task_002")],
            "simulations": sims or []}


def test_termination_reasons_tasks_and_unscorable_domain(db, tmp_path):
    act = {"action_id": "x1", "requestor": "assistant", "name": "think",
           "arguments": {"thought": "t"}, "info": None, "compare_args": []}
    sims = [_sim("s1", "task_001", 0.0, "timeout"),
            _sim("s2", "task_001", None, "infrastructure_error", trial=1),
            _sim("s3", "task_002", 0.0, "context_window_exceeded"),
            _sim("s4", "task_002", 1.0, "unexpected_error", trial=1,
                 ri_extra={"reward_basis": ["ACTION"], "reward_breakdown": {"ACTION": 1.0},
                           "action_checks": [{"action": act, "action_match": True,
                                              "action_reward": 1.0, "tool_type": "think"}]})]
    sims[1]["reward_info"] = None
    src = results_1x("telecom", sims=sims,
                     tasks=[_task("task_001"), _task("task_002", ("ACTION",), [act])])
    p = tmp_path / "telecom.json"
    p.write_text(json.dumps(src))
    entry = import_path(db, p)
    assert entry["episodes"] == 4
    said = [w for w in entry["warnings"] if "'telecom' is not re-scorable here" in w]
    # the warning names every domain t2e re-scores (airline too, not "retail only")
    assert len(said) == 1 and "retail and airline" in said[0] and "only" not in said[0]
    rid = entry["run_id"]
    got = db.conn.execute("SELECT task_id, termination_reason FROM episodes WHERE run_id = ? "
                          "ORDER BY ord", (rid,)).fetchall()
    assert [g[1] for g in got] == ["timeout", "infrastructure_error", "context_window_exceeded",
                                   "unexpected_error"]
    assert {g[0] for g in got} == {"task_001", "task_002"}
    assert db.conn.execute("SELECT tool_kind, met FROM checks WHERE kind = 'action'").fetchall() \
        == [("think", 1)]
    assert db.conn.execute("SELECT action_reward FROM episodes WHERE sim_id = 's4'"
                           ).fetchone() == (1.0,)
    # figures leave out infrastructure errors only: 3 scored episodes, one success
    run = next(r for r in queries.list_runs(db) if r["run_id"] == rid)
    assert run["infrastructure_errors"] == 1
    assert run["pass_rate"] == pytest.approx(1 / 3)
    # tasks keep their tau2 1.x fields (issues, required_documents, user_tools)
    t = json.loads(db.conn.execute("SELECT task_json FROM tasks WHERE run_id = ? AND "
                                   "task_id = 'task_002'", (rid,)).fetchone()[0])
    assert t["required_documents"] == ["Fees table"] and t["user_tools"] and t["issues"]
    assert export_dict(db, rid) == src


def test_grader_identity_is_stored_from_info(db, tmp_path):
    from store import grader
    p = tmp_path / "r.json"
    p.write_text(json.dumps(results_1x("retail", version="1.0.1", commit="abc123",
                                       sims=[_sim("s1", "task_001", 1.0, "user_stop")])))
    rid = import_path(db, p)["run_id"]
    g = grader.of_run(db.conn, rid)
    assert (g["tool"], g["version"], g["commit"]) == ("tau2", "1.0.1", "abc123")
    assert g["evaluation_type"] is None
    # an ALL_IGNORE_BASIS grading multiplies components outside the basis into the reward
    ri = {"reward": 0.0, "reward_basis": ["DB"], "reward_breakdown": {"DB": 1.0, "ACTION": 0.0}}
    assert grader.ignores_basis(ri)
    assert not grader.ignores_basis({**ri, "reward": 1.0})


def test_gate_refuses_incompatible_graders_unless_allowed(tmp_path):
    from click.testing import CliRunner

    from t2e_tui.cli import cli
    sims = [_sim(f"s{i}", f"task_00{1 + i % 2}", float(i % 3 == 0), "user_stop", trial=i // 2)
            for i in range(6)]
    for name, version in (("old", "1.0.0"), ("new", "1.0.1"), ("same", "1.0.0")):
        (tmp_path / f"{name}.json").write_text(json.dumps(
            results_1x("banking_knowledge", version=version, sims=sims,
                       commit="c1" if name == "same" else "c0")))  # same version, other commit
    st = str(tmp_path / "s.sqlite")
    run = CliRunner().invoke
    for name in ("old", "new", "same"):
        assert run(cli, ["--store", st, "import", str(tmp_path / f"{name}.json")]).exit_code == 0
    res = run(cli, ["--store", st, "gate", "old", "new", "--json"])
    assert res.exit_code == 2
    assert "refusing to compare" in res.stderr + res.output
    assert "1.0.0" in res.stderr + res.output and "1.0.1" in res.stderr + res.output
    import store as st_mod
    conn = st_mod.connect(st)
    assert conn.execute("SELECT count(*) FROM gate_decisions").fetchone()[0] == 0
    conn.close()
    md = tmp_path / "g.md"
    res = run(cli, ["--store", st, "gate", "old", "new", "--allow-grader-mismatch", "--json",
                    "--report", "markdown", str(md)])
    assert res.exit_code in (0, 1, 3), res.output
    assert "grader mismatch allowed" in res.stderr
    # the verdict and its report say so too, not only the terminal that ran it
    assert any("grader mismatch allowed" in w and "1.0.1" in w
               for w in json.loads(res.stdout)["warnings"])
    assert "grader mismatch allowed" in md.read_text()
    res = run(cli, ["--store", st, "gate", "old", "same", "--json"])
    assert res.exit_code in (0, 1, 3), res.output


def test_reviews_flag_the_header_and_anchor_at_their_step(db):
    from t2e_tui import data_access as da
    from t2e_tui.reviews import episode_lines, flags, step_lines
    entry = import_path(db, FIX / "voice_run")
    eid = db.conn.execute("SELECT episode_id FROM episodes WHERE run_id = ? AND sim_id = ?",
                          (entry["run_id"], "sim-voice-1")).fetchone()[0]
    ep = da.load_episode(db.conn, eid)
    assert flags(ep.meta) == ["user sim erred (critical)"]
    lines = episode_lines(ep.meta)
    assert any(ln.startswith("review: The user simulator volunteered") for ln in lines)
    assert "auth: succeeded (Name and zip matched.)" in lines
    assert any(ln.startswith("agent usage: input_tokens 1200") for ln in lines)
    # the review error points at tick 3: the user's "Ada Lane, 10001." step
    anchored = [s["idx"] for s in ep.steps if s.get("_review")]
    assert anchored == [2]
    assert any("review: user error (critical_helped)" in ln for ln in step_lines(ep.steps[2]))
    assert "from ticks 0–1 (2 chunk(s))" in step_lines(ep.steps[0])
    assert any(ln.startswith("audio_path: artifacts/") for ln in step_lines(ep.steps[0]))
    # an episode without reviews has no flags
    other = db.conn.execute("SELECT episode_id FROM episodes WHERE sim_id = 'sim-text-2'"
                            ).fetchone()[0]
    assert flags(da.load_episode(db.conn, other).meta) == []


def test_show_prints_reviews_and_step_metadata(tmp_path):
    from click.testing import CliRunner

    from t2e_tui.cli import cli
    st = str(tmp_path / "s.sqlite")
    assert CliRunner().invoke(cli, ["--store", st, "import", str(FIX / "voice_run")]
                              ).exit_code == 0
    res = CliRunner().invoke(cli, ["--store", st, "show", "voice_run:task_001"])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "review flags: user sim erred (critical)" in out
    assert "auth: succeeded" in out and "from ticks 3–3 (1 chunk(s))" in out
    assert "review: user error (critical_helped): Gave the zip unprompted." in out


def test_gate_refuses_a_run_graded_ignoring_the_basis(tmp_path):
    from click.testing import CliRunner

    from t2e_tui.cli import cli
    sims = [_sim(f"s{i}", f"task_00{1 + i % 2}", 1.0, "user_stop", trial=i // 2)
            for i in range(4)]
    ignoring = json.loads(json.dumps(sims))
    for s in ignoring:  # ALL_IGNORE_BASIS: ACTION multiplied in although the basis is DB
        s["reward_info"].update(reward=0.0, reward_breakdown={"DB": 1.0, "ACTION": 0.0})
    for name, ss in (("basis", sims), ("ignoring", ignoring)):
        (tmp_path / f"{name}.json").write_text(json.dumps(
            results_1x("retail", version="1.0.1", sims=ss)))
    st = str(tmp_path / "s.sqlite")
    run = CliRunner().invoke
    for name in ("basis", "ignoring"):
        assert run(cli, ["--store", st, "import", str(tmp_path / f"{name}.json")]).exit_code == 0
    res = run(cli, ["--store", st, "gate", "basis", "ignoring"])
    assert res.exit_code == 2
    assert "ignoring the tasks' reward_basis" in res.output


def _voice_copy(tmp_path):
    d = tmp_path / "run"
    shutil.copytree(FIX / "voice_run", d)
    return d


def test_action_checks_of_the_wrong_type_are_named(tmp_path, db):
    """reward_info.action_checks a number: "cannot be imported (TypeError: 'float' object is
    not iterable)" before; now the field is named."""
    d = _voice_copy(tmp_path)
    sim = next((d / "simulations").glob("*.json"))
    doc = json.loads(sim.read_text())
    doc.setdefault("reward_info", {})["action_checks"] = 1.5
    sim.write_text(json.dumps(doc))
    with pytest.raises(ImportFailure, match=r"reward_info\.action_checks should be a list of "
                                            r"objects"):
        import_path(db, d)


@pytest.mark.parametrize("case", ["empty messages beside ticks", "null messages, no ticks"])
def test_a_simulation_whose_turns_are_not_read_is_said(tmp_path, db, case):
    """Its turns were dropped without a word: stored with no steps, now with a warning."""
    d = _voice_copy(tmp_path)
    sim = d / "simulations" / "sim-voice-1.json"
    doc = json.loads(sim.read_text())
    assert doc["messages"] is None and doc["ticks"]
    if case.startswith("empty"):
        doc["messages"] = []
    else:
        del doc["ticks"]
    sim.write_text(json.dumps(doc))
    entry = import_path(db, d)
    assert any("1 simulation(s) have no turns read" in w for w in entry["warnings"]), \
        entry["warnings"]
    clean = import_path(db, _voice_copy(tmp_path / "clean"))
    assert not any("no turns read" in w for w in clean["warnings"])


def test_repeated_simulation_ids_are_named(db, tmp_path):
    """The warning counted repeated ids without naming one; it names them now (as ATIF's)."""
    p = tmp_path / "r.json"
    p.write_text(json.dumps(results_1x("retail", sims=[
        _sim("s1", "task_001", 1.0, "user_stop"), _sim("s1", "task_001", 0.0, "user_stop",
                                                       trial=1)])))
    entry = import_path(db, p)
    assert "1 simulation id(s) repeat within the file (kept, keyed by position): s1" \
        in entry["warnings"], entry["warnings"]


def test_tool_results_answering_unknown_call_ids_are_counted(db, tmp_path):
    """A tool message answering a call id that no earlier call of its simulation has (here:
    one no call has, and one that comes before its call) was stored without a word."""
    s1 = _sim("s1", "task_001", 1.0, "user_stop")
    call = {"id": "c1", "name": "think", "arguments": {}, "requestor": "assistant"}
    s1["messages"] = [
        {"role": "tool", "id": "c1", "content": "early", "requestor": "assistant",
         "error": False, "turn_idx": 0},
        {"role": "assistant", "content": None, "tool_calls": [call], "turn_idx": 1},
        {"role": "tool", "id": "c1", "content": "ok", "requestor": "assistant",
         "error": False, "turn_idx": 2},
        {"role": "tool", "id": "nope", "content": "stray", "requestor": "assistant",
         "error": False, "turn_idx": 3}]
    p = tmp_path / "r.json"
    p.write_text(json.dumps(results_1x("retail", sims=[s1])))
    entry = import_path(db, p)
    assert ("2 tool result(s) answer a call id that no earlier tool call in their simulation "
            "has (kept, with no tool name): s1 message #0 (call id 'c1'), s1 message #3 (call id "
            "'nope')") in entry["warnings"], entry["warnings"]
    assert entry["messages"] == 4


@pytest.mark.parametrize("name, shown", [(5, "int 5"), ({"a": 1}, 'dict {"a": 1}'),
                                         (["x"], 'list ["x"]')],
                         ids=["number", "object", "list"])
def test_a_tool_call_name_that_is_not_text_is_refused(tmp_path, db, name, shown):
    """A tick's tool-call name of another type was stored as Python's repr ("5", "{'a': 1}");
    so was a message's. The store keeps names as text, as ATIF's function_name and an action
    check's name are checked: refused, naming the simulation, the tick or message and the
    call. (A missing name is stored empty, as before.)"""
    d = _voice_copy(tmp_path)
    f = d / "simulations" / "sim-voice-1.json"
    doc = json.loads(f.read_text())
    doc["ticks"][4]["agent_tool_calls"][0]["name"] = name
    f.write_text(json.dumps(doc))
    with pytest.raises(ImportFailure, match=rf"simulation #0 \(id sim-voice-1\), tick #4: "
                                            rf"agent_tool_calls\[0\]\.name should be a "
                                            rf"string, found {re.escape(shown)}$"):
        import_path(db, d)
    s1 = _sim("s1", "task_001", 1.0, "user_stop")
    s1["messages"] = [{"role": "assistant", "content": None, "turn_idx": 0, "tool_calls": [
        {"id": "c0", "name": "think", "arguments": {}},
        {"id": "c1", "name": name, "arguments": {}}]}]
    p = tmp_path / "r.json"
    p.write_text(json.dumps(results_1x("retail", sims=[s1])))
    with pytest.raises(ImportFailure, match=rf"simulation #0 \(id s1\), message #0: "
                                            rf"tool_calls\[1\]\.name should be a string, "
                                            rf"found {re.escape(shown)}$"):
        import_path(db, p)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_an_allowed_grader_mismatch_supports_at_most(tmp_path):
    """--allow-grader-mismatch compared rewards of tau2 1.0.0 and 1.0.1 and, on a registered
    heldout set, said PROMOTE (exit 0) with a warning: the difference may come from the
    grader. Such a verdict is supported at most, and says why."""
    from click.testing import CliRunner

    from store.heldout import register_set
    from t2e_tui.cli import cli
    tids = [f"task_{i:03d}" for i in range(1, 9)]
    st = str(tmp_path / "s.sqlite")
    import store as st_mod
    conn = st_mod.connect(st)
    register_set(conn, "H", "banking_knowledge", tids, spec="all")
    conn.close()
    for name, version, agent, passing in (("old", "1.0.0", "agent-a", 2),
                                          ("new", "1.0.1", "agent-b", 8)):
        doc = results_1x("banking_knowledge", version=version, tasks=[_task(t) for t in tids],
                         sims=[_sim(f"{name}{i}", t, float(i < passing), "user_stop")
                               for i, t in enumerate(tids)])
        doc["info"]["agent_info"]["llm"] = agent
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
        res = CliRunner().invoke(cli, ["--store", st, "import", str(tmp_path / f"{name}.json"),
                                       "--role", "heldout"])
        assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["--store", st, "gate", "old", "new",
                                   "--allow-grader-mismatch", "--json"])
    doc = json.loads(res.stdout)
    assert res.exit_code == 4 and doc["decision"] == "supported", doc["reasons"]
    assert any("the recorded rewards were" in r and "1.0.1" in r and "not a promote" in r
               for r in doc["reasons"]), doc["reasons"]
