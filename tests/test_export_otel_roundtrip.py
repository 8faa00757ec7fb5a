"""Round trips through `t2e export --format otel` and the OTLP import: import -> export ->
import gives back every episode, message, tool call and argument, and every reward, exactly.

Each test here is a reviewer's reproduction kept as a test (tests/test_export_otel.py holds the
older round trips). Sources are JSON Lines runs and ATIF trajectories, as a user imports them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import store
from store.exporters import export_dict, export_run, run_header
from store.importers import import_path
from t2e_tui.cli import cli


def _episodes(db, run_id) -> list:
    """The run's episodes as (task, reward, messages), sorted (a re-import orders episodes by
    time): each message (system ones included) with its role, content, tool calls (id, name,
    arguments and their type, requestor), tool call id, error flag and, for a tool result, its
    requestor (a result stored without one is the assistant's, as the importers read it)."""
    out = []
    for eid, task, reward in db.conn.execute(
            "SELECT episode_id, task_id, reward FROM episodes WHERE run_id = ?", (run_id,)):
        steps = []
        for role, content, calls, cid, err, req in db.conn.execute(
                "SELECT role, content, tool_calls, tool_call_id, error, requestor FROM steps "
                "WHERE episode_id = ? ORDER BY idx", (eid,)):
            calls = [(c["id"], c["name"], type(c["arguments"]).__name__, c["arguments"],
                      c.get("requestor")) for c in json.loads(calls)] if calls else None
            steps.append((role, content, calls, cid, err,
                          (req or "assistant") if role == "tool" else None))
        out.append((task, reward, steps))
    return sorted(out, key=repr)


def _roundtrip(tmp_path: Path, src: Path) -> tuple[list, list, dict]:
    """(episodes imported, episodes after export and import, the re-import's summary)."""
    db = store.open_db(tmp_path / "a.sqlite")
    rid = import_path(db, src)["run_id"]
    out = tmp_path / "run.otel.jsonl"
    n = export_run(db, rid, "otel", out)
    back_db = store.open_db(tmp_path / "b.sqlite")
    back = import_path(back_db, out)
    assert back["episodes"] == n
    return _episodes(db, rid), _episodes(back_db, back["run_id"]), back


def _jsonl(path: Path, episodes: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in episodes), encoding="utf-8")
    return path


def _ep(task: str, messages: list[dict], **kw) -> dict:
    return {"run": "rt", "task_id": task, "messages": messages, **kw}


def U(text, **kw):
    return {"role": "user", "content": text, **kw}


def A(text, calls=None, **kw):
    return {"role": "assistant", "content": text, "tool_calls": calls, **kw}


def C(cid, name, args, requestor="assistant"):
    return {"id": cid, "name": name, "arguments": args, "requestor": requestor}


def T(cid, text, **kw):
    return {"role": "tool", "id": cid, "content": text, "error": False, **kw}


# -- 1. episodes whose simulation ids are missing or repeated -----------------------------------

def test_roundtrip_of_episodes_without_an_id_keeps_them_apart(tmp_path):
    """JSON Lines episodes may have no `id`: every span said gen_ai.conversation.id
    "RUN:None", so the import made one episode of all three (six messages, task t1)."""
    src = _jsonl(tmp_path / "noid.jsonl", [
        _ep(f"t{k}", [U(f"q{k}"), A(f"a{k}")]) for k in (1, 2, 3)])
    before, after, _ = _roundtrip(tmp_path, src)
    assert len(before) == 3
    assert after == before


def test_roundtrip_of_a_repeated_simulation_id_keeps_both_episodes(tmp_path):
    """A repeated simulation id (kept by the importers with a warning): the two episodes came
    back as one, the second one's reward lost."""
    src = _jsonl(tmp_path / "dup.jsonl", [
        _ep("t1", [U("first question"), A("first answer")], id="same", reward=1.0),
        _ep("t2", [U("second question"), A("second answer")], id="same", reward=0.0),
        _ep("t3", [U("third question"), A("third answer")], id="other", reward=1.0)])
    before, after, _ = _roundtrip(tmp_path, src)
    assert [e[1] for e in before] == [1.0, 0.0, 1.0]
    assert after == before


def test_roundtrip_of_repeated_atif_trajectory_ids_keeps_every_trajectory(tmp_path):
    def traj(task, text):
        return {"schema_version": "ATIF-v1.6", "session_id": "s", "trajectory_id": "traj",
                "agent": {"name": "a", "version": "1", "model_name": "m"},
                "extra": {"task_id": task},
                "steps": [{"step_id": 1, "source": "user", "message": f"q {text}"},
                          {"step_id": 2, "source": "agent", "message": f"a {text}"}]}

    src = tmp_path / "atif.json"
    src.write_text(json.dumps([traj("x", "one"), traj("y", "two")]), encoding="utf-8")
    before, after, _ = _roundtrip(tmp_path, src)
    assert len(before) == 2
    assert after == before


def test_export_ids_are_unique_per_episode_and_the_same_on_every_export(tmp_path):
    """Conversation and trace ids: one per episode (those of episodes whose simulation id is
    unique in the run are as before: RUN:ID), and the same whenever the store is exported."""
    src = _jsonl(tmp_path / "mix.jsonl", [
        _ep("t1", [U("q"), A("a")]), _ep("t2", [U("q"), A("a")]),
        _ep("t3", [U("q"), A("a")], id="same"), _ep("t4", [U("q"), A("a")], id="same"),
        _ep("t5", [U("q"), A("a")], id="alone")])
    db = store.open_db(tmp_path / "s.sqlite")
    rid = import_path(db, src)["run_id"]

    def ids(out):
        export_run(db, rid, "otel", out)
        got = []
        for line in out.read_text().splitlines():
            spans = json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"]
            convs = {a["value"]["stringValue"] for sp in spans for a in sp["attributes"]
                     if a["key"] == "gen_ai.conversation.id"}
            assert len(convs) == 1 and len({sp["traceId"] for sp in spans}) == 1
            got.append((convs.pop(), spans[0]["traceId"]))
        return got

    first = ids(tmp_path / "1.jsonl")
    assert len({c for c, _ in first}) == len({t for _, t in first}) == 5
    assert f"{rid}:alone" in {c for c, _ in first}
    assert ids(tmp_path / "2.jsonl") == first


def test_cli_roundtrip_of_episodes_without_an_id(tmp_path):
    """As a user runs it: import, export --format otel, import into another store."""
    src = _jsonl(tmp_path / "noid.jsonl", [
        {"run": "noid", "task_id": f"t{k}", "messages": [U(f"q{k}"), A(f"a{k}")]}
        for k in (1, 2, 3)])
    a, b, out = str(tmp_path / "A.sqlite"), str(tmp_path / "B.sqlite"), tmp_path / "o.jsonl"
    run = CliRunner()
    r = run.invoke(cli, ["--store", a, "import", str(src), "--json"])
    assert r.exit_code == 0, r.output
    r = run.invoke(cli, ["--store", a, "export", "noid", "--format", "otel", "-o", str(out)])
    assert r.exit_code == 0, r.output
    r = run.invoke(cli, ["--store", b, "import", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["imported"][0]["episodes"] == 3
    db = store.open_db(b)
    assert sorted(db.conn.execute("SELECT task_id, n_steps FROM episodes")) == [
        ("t1", 2), ("t2", 2), ("t3", 2)]


# -- 3. times past 2262 (OTLP's fixed64 goes to 2^64 - 1 ns, the year 2554) ---------------------

def test_roundtrip_of_messages_stamped_after_2262_keeps_their_order(tmp_path):
    """Span times of 2^63 ns and more (after 2262-04-11) were read as 0, so those spans sorted
    first: the round trip of u1 a1 u2(2300) a2 u3 a3 gave eight messages, u1 a1 again at the
    end."""
    src = _jsonl(tmp_path / "fut.jsonl", [_ep("t", [
        U("u1", timestamp="2026-01-01T00:00:00Z"), A("a1", timestamp="2026-01-01T00:00:01Z"),
        U("u2", timestamp="2300-01-01T00:00:00Z"), A("a2"), U("u3"), A("a3"),
        U("u4", timestamp="2400-01-01T00:00:00Z"), A("a4", timestamp="2400-01-01T00:00:01Z")],
        start_time="2026-01-01T00:00:00Z")])
    before, after, _ = _roundtrip(tmp_path, src)
    assert after == before


def test_spill_times_up_to_2_64_sort_in_order():
    """The spill's sort table holds signed 64-bit integers: a time past 2^63 - 1 must still
    sort after every earlier one (it was 0)."""
    from store.importers.otel_spill import _ns

    times = [0, 1, (1 << 62), (1 << 63) - 1, 1 << 63, (1 << 63) + 10 ** 9, (1 << 64) - 1]
    got = [_ns(str(t)) for t in times]
    assert got == sorted(got) and len(set(got)) == len(got)
    assert all(-(1 << 63) <= g < 1 << 63 or isinstance(g, float) for g in got)
    assert got[:4] == times[:4]  # (exact below 2^63)
    assert abs(got[5] - got[4] - 10 ** 9) < 10 ** 4
    # not fixed64: None, which the spill reads as no time (0) and names in the run's warnings
    assert _ns(str(1 << 64)) is None and _ns("-1") is None and _ns("x") is None
    assert _ns(None) == 0  # (absent: unknown, as OTLP's 0)


def test_export_writes_fixed64_times_only(tmp_path):
    """A message time past 2^64 - 1 ns (after 2554) is not a fixed64: the message is laid
    out as one without a time (it followed its latency, from the one before), not written as
    a number OTLP cannot hold."""
    from store.export_otel import episode_request

    sim = {"id": "s", "task_id": "t", "start_time": "2026-01-01T00:00:00Z",
           "messages": [U("u1", timestamp="2026-01-01T00:00:00Z"),
                        A("a1", timestamp="2600-01-01T00:00:00Z"),
                        U("u2", timestamp="2550-01-01T00:00:00Z"), A("a2")]}
    req = episode_request({"run_id": "r", "name": "n", "agent_model": "m", "domain": "d"},
                          sim, [])
    spans = req["resourceSpans"][0]["scopeSpans"][0]["spans"]
    times = [int(sp[k]) for sp in spans for k in ("startTimeUnixNano", "endTimeUnixNano")]
    assert all(0 < t < 1 << 64 for t in times)
    a1, a2 = spans[1:]
    assert int(a1["endTimeUnixNano"]) < 1 << 62  # (2026 and its 1 ms)
    assert int(a2["endTimeUnixNano"]) > 1 << 63  # (2550, past 2^63)


# -- 2. tool results that answer no call -------------------------------------------------------



def _unknown_call_id_warned(summary: dict) -> bool:
    return any("answer a call id" in w for w in summary.get("warnings") or ())


def test_roundtrip_of_a_result_answering_an_unknown_call_id(tmp_path):
    """A tool result whose call id no call has (kept by the importers, with a warning) was an
    execute_tool span with no tool name and arguments "null": the import made up a call
    ('zz', 'execute_tool', 'null') on the assistant turn before it, and the warning was gone.
    It rides in the next chat input now, as it was in the conversation."""
    src = _jsonl(tmp_path / "orphan.jsonl", [
        _ep("t0", [U("hi"), A(None, [C("c1", "get", {"a": 1})]), T("c1", "r1"),
                   T("zz", "orphan result"), A("done")]),
        _ep("t1", [U("hi"), A("text"), T("zz", "orphan after text"), U("and?"), A("ok")])])
    before, after, _ = _roundtrip(tmp_path, src)
    assert after == before


def test_reimport_warns_of_a_result_answering_an_unknown_call_id(tmp_path):
    """The JSON Lines import warns of it; so must the import of its export (the made-up call
    answered it, so no warning said the file had such a result)."""
    src = _jsonl(tmp_path / "orphan.jsonl", [
        _ep("t0", [U("hi"), A("text"), T("zz", "orphan result"), A("done")])])
    db = store.open_db(tmp_path / "a.sqlite")
    first = import_path(db, src)
    assert _unknown_call_id_warned(first)
    export_run(db, first["run_id"], "otel", tmp_path / "o.jsonl")
    assert _unknown_call_id_warned(import_path(db, tmp_path / "o.jsonl"))


def test_roundtrip_of_a_result_with_an_empty_call_id(tmp_path):
    src = _jsonl(tmp_path / "empty.jsonl", [
        _ep("t2", [U("hi"), A(None, [C("", "get", {"a": 1})]), T("", "empty id result"),
                   A("ok")])])
    before, after, _ = _roundtrip(tmp_path, src)
    assert after == before


def test_roundtrip_of_an_atif_observation_result_without_a_source_call_id(tmp_path):
    """ATIF: 7 messages came back as 8 (a made-up assistant turn holding a call named
    execute_tool with arguments "null")."""
    traj = {"schema_version": "ATIF-v1.6", "session_id": "s", "trajectory_id": "traj-1",
            "agent": {"name": "a", "version": "1", "model_name": "m"},
            "extra": {"task_id": "task-7"},
            "steps": [
                {"step_id": 1, "source": "system", "message": "You are an agent."},
                {"step_id": 2, "source": "user", "message": "Find file"},
                {"step_id": 3, "source": "agent", "message": "Looking",
                 "tool_calls": [{"tool_call_id": "tc1", "function_name": "ls",
                                 "arguments": {"path": "/"}}],
                 "observation": {"results": [{"source_call_id": "tc1", "content": "a b"},
                                             {"content": "no id"}]}},
                {"step_id": 4, "source": "agent", "message": "Done"},
                {"step_id": 5, "source": "user", "message": "thanks"}]}
    src = tmp_path / "atif.json"
    src.write_text(json.dumps(traj), encoding="utf-8")
    before, after, _ = _roundtrip(tmp_path, src)
    assert [s[0] for s in before[0][2]] == ["user", "assistant", "tool", "tool", "assistant",
                                           "user"]
    assert after == before


@pytest.mark.parametrize("requestor", ["assistant", "user"])
def test_roundtrip_of_a_result_answering_no_call_after_the_last_agent_turn(tmp_path,
                                                                           requestor):
    """No chat input follows a result after the agent's last turn: it rides as a
    gen_ai.tool.message event on the root (as the user's last messages do); the import made up
    an assistant turn and a call for it."""
    src = _jsonl(tmp_path / "late.jsonl", [
        _ep("t12", [U("hi"), A("yo"), T("c9", "late orphan", requestor=requestor),
                    U("bye")])])
    before, after, _ = _roundtrip(tmp_path, src)
    assert after == before


def test_roundtrip_of_an_error_result_answering_no_call(tmp_path):
    src = _jsonl(tmp_path / "err.jsonl", [
        _ep("t", [U("hi"), A("text"), T("zz", "failed", error=True), A("ok")])])
    before, after, _ = _roundtrip(tmp_path, src)
    assert after == before


def test_export_writes_a_result_answering_no_call_where_the_conversation_has_it():
    """What goes on the wire: no execute_tool span for a result that answers no call (it has
    no tool name and no arguments to give); it is in the next chat input, or, after the last
    assistant turn, a gen_ai.tool.message event on the root (with t2e.error and
    t2e.requestor); an error result's part says \"error\": true. A user's own result with a
    call id keeps its span while a chat input follows (the importer holds it until that
    input)."""
    from store.export_otel import episode_request

    sim = {"id": "s", "task_id": "t", "messages": [
        U("hi"), A("a", [C("c1", "get", {})]), T("c1", "r1", error=True), T("zz", "stray"),
        T("uu", "user's", requestor="user"), A("b"),
        T("late", "late", requestor="user", error=True)]}
    req = episode_request({"run_id": "r", "name": "n", "agent_model": "m", "domain": "d"},
                          sim, [])
    spans = req["resourceSpans"][0]["scopeSpans"][0]["spans"]
    tools = [{a["key"]: a["value"] for a in sp["attributes"]} for sp in spans
             if sp["name"].startswith("execute_tool")]
    assert [t["gen_ai.tool.call.id"]["stringValue"] for t in tools] == ["c1", "uu"]
    chat_b = {a["key"]: a["value"] for a in spans[-1]["attributes"]}
    inp = json.loads(chat_b["gen_ai.input.messages"]["stringValue"])
    assert inp[2:5] == [
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "r1",
                                    "error": True}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "zz",
                                    "response": "stray"}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "uu",
                                    "response": "user's"}]}]
    (ev,) = spans[0]["events"]
    assert ev["name"] == "gen_ai.tool.message"
    assert {a["key"]: a["value"] for a in ev["attributes"]} == {
        "id": {"stringValue": "late"}, "content": {"stringValue": "late"},
        "t2e.requestor": {"stringValue": "user"}, "t2e.error": {"boolValue": True}}


# -- 4. arguments of every type ----------------------------------------------------------------

_STRING_ARGS = ['{"a": 1}', "[1, 2]", '"quoted"', "{not json", "plain text", ""]


def test_roundtrip_keeps_arguments_that_are_json_text_strings(tmp_path):
    """A call whose arguments are the string '{"a": 1}' came back as the dict {'a': 1}: the
    importer decodes arguments that read as JSON (instrumentations write the JSON text)."""
    src = _jsonl(tmp_path / "args.jsonl", [
        _ep(f"t{k}", [U("hi"), A(None, [C("c1", "get", args)]), T("c1", "r"), A("ok")])
        for k, args in enumerate([*_STRING_ARGS, {"a": 1}, [1, 2], {}])])
    before, after, _ = _roundtrip(tmp_path, src)
    assert sorted(steps[1][2][0][2] for _, _, steps in before) == [
        "dict", "dict", "list"] + ["str"] * len(_STRING_ARGS)
    assert after == before


def test_export_writes_a_string_that_reads_as_json_as_the_json_text_of_that_string():
    """What goes on the wire: arguments that are a string the importer would decode (it starts
    with [, { or a quote and is JSON) are the JSON text of that string; other strings, objects
    and lists are written as they are."""
    from store.export_otel import episode_request

    args = [*_STRING_ARGS, {"a": 1}, [1, 2]]
    sim = {"id": "s", "task_id": "t", "messages": [
        U("hi"), A(None, [C(f"c{k}", "get", a) for k, a in enumerate(args)])]}
    req = episode_request({"run_id": "r", "name": "n", "agent_model": "m", "domain": "d"},
                          sim, [])
    chat = req["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    out = next(json.loads(a["value"]["stringValue"]) for a in chat["attributes"]
               if a["key"] == "gen_ai.output.messages")
    assert [p["arguments"] for p in out[0]["parts"]] == [
        json.dumps('{"a": 1}'), json.dumps("[1, 2]"), json.dumps('"quoted"'), "{not json",
        "plain text", "", {"a": 1}, [1, 2]]


def test_roundtrip_of_a_result_that_comes_before_its_call(tmp_path):
    """A result whose call id is made only later in the episode answers no call where it
    stands (the importers' rule): it was exported as an execute_tool span, and the import
    made up a call for it and moved the conversation around it."""
    src = _jsonl(tmp_path / "early.jsonl", [
        _ep("t0", [U("q"), T("c1", "early"), A(None, [C("c1", "get", {"a": 1})]),
                   T("c1", "late"), A("done")])])
    before, after, _ = _roundtrip(tmp_path, src)
    assert after == before


# -- 5. the run's world: its tasks (gold), policy and system messages --------------------------

_HOSTILE = "[bold]not markup[/bold] \x1b[31mnot a colour\x1b[0m \u202e"


def _tau2_source(tmp_path: Path, policy: str = "# Policy\nbe nice ") -> Path:
    """A tau2 results file whose policy and a task carry text no output may interpret, with
    system messages: one first, one in mid-conversation, one after the agent's last turn."""
    from test_store_data import make_results, write_json

    src = make_results(4)
    src["info"]["environment_info"]["policy"] = policy + _HOSTILE
    src["tasks"][1]["description"]["notes"] = _HOSTILE
    src["simulations"][0]["messages"].insert(0, {"role": "system",
                                                 "content": "You are an agent. " + _HOSTILE})
    m1 = src["simulations"][1]["messages"]
    m1.insert(2, {"role": "system", "content": "mid-conversation note"})
    m1.append({"role": "system", "content": "after the agent's last turn"})
    return write_json(tmp_path / "tau2.json", src)


def _world(db, run_id: str) -> dict:
    """What a run's world is and what re-scores it: its domain, world id and grading, the tau2
    info block (the policy is in it) and its tasks (id, order, split, class, definition)."""
    _, top = run_header(db, run_id, provenance=False)
    domain, world, grading = db.conn.execute(
        "SELECT domain, world_id, grading FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    tasks = [(t, o, s, f, json.loads(j)) for t, o, s, f, j in db.conn.execute(
        "SELECT task_id, ord, split, failure_class, task_json FROM tasks WHERE run_id = ? "
        "ORDER BY ord", (run_id,))]
    return {"domain": domain, "world_id": world, "grading": grading, "info": top["info"],
            "tasks": tasks}


def test_roundtrip_of_a_tau2_run_keeps_its_world_tasks_policy_and_system_messages(tmp_path):
    """The export left out the run's tasks (their gold actions), its policy and every system
    message: the re-import was another world (the gate refused it), could not be re-scored
    (no task embedded) and had lost its system messages."""
    before, after, back = _roundtrip(tmp_path, _tau2_source(tmp_path))
    assert after == before
    assert sum(s[0] == "system" for _, _, steps in before for s in steps) == 3
    a, b = store.open_db(tmp_path / "a.sqlite"), store.open_db(tmp_path / "b.sqlite")
    orig = _world(a, a.conn.execute("SELECT run_id FROM runs").fetchone()[0])
    assert len(orig["tasks"]) == 3 and orig["domain"] == "retail"
    assert orig["info"]["environment_info"]["policy"].endswith(_HOSTILE)
    assert _world(b, back["run_id"]) == orig
    keys = list(export_dict(b, back["run_id"]))  # (a streamed scorer reads tasks first)
    assert keys.index("info") < keys.index("tasks") < keys.index("simulations")


@pytest.mark.parametrize("source", ["tau2", "jsonl without a header"])
def test_otel_roundtrip_is_the_world_of_the_tau2_roundtrip(tmp_path, source):
    """Whatever the run, the OTel export carries the world the tau2 export does: both
    re-imports have one world id, domain, info block (policy) and tasks."""
    src = _tau2_source(tmp_path) if source == "tau2" else _jsonl(tmp_path / "r.jsonl", [
        _ep("t1", [{"role": "system", "content": "sys"}, U("q"), A("a")], reward=1.0)])
    db = store.open_db(tmp_path / "s.sqlite")
    rid = import_path(db, src)["run_id"]
    worlds = []
    for fmt in ("tau2", "otel"):
        export_run(db, rid, fmt, tmp_path / f"out.{fmt}")
        w = _world(db, import_path(db, tmp_path / f"out.{fmt}")["run_id"])
        worlds.append({k: v for k, v in w.items() if k != "grading"})
    assert worlds[1] == worlds[0]


def test_gate_compares_a_run_with_its_otel_roundtrip(tmp_path):
    """As a user runs it: the original and its re-import, in one store, are one world, so
    `t2e gate` compares them task by task (it refused: "graded in different worlds")."""
    st = str(tmp_path / "s.sqlite")
    run = CliRunner()
    r = run.invoke(cli, ["--store", st, "import", str(_tau2_source(tmp_path)), "--name", "orig",
                         "--json"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "o.jsonl"
    r = run.invoke(cli, ["--store", st, "export", "orig", "--format", "otel", "-o", str(out)])
    assert r.exit_code == 0, r.output
    r = run.invoke(cli, ["--store", st, "import", str(out), "--name", "back", "--json"])
    assert r.exit_code == 0, r.output
    r = run.invoke(cli, ["--store", st, "gate", "orig", "back", "--json"])
    assert r.exit_code in (0, 1, 3, 4), r.output
    verdict = json.loads(r.output)
    assert verdict["tasks"] == ["0", "1", "2"]
    assert [(t["task_id"], t["baseline"], t["candidate"]) for t in verdict["transitions"]] == [
        ("0", [1.0, 0.0], [1.0, 0.0]), ("1", [1.0], [1.0]), ("2", [1.0], [1.0])]
    m = verdict["metrics"]  # the gold actions are the same: so are the action matches
    assert m["candidate"]["action_match"] == m["baseline"]["action_match"]
    assert m["baseline"]["action_counts"]["overall"] == [8, 8]


def test_rescore_of_a_roundtripped_tau2_run(tmp_path, shared_results, tau2_dir):
    """The re-import, exported as tau2 results, scores as its original does (it scored 0/40:
    "task '9' is not embedded in the file")."""
    db = store.open_db(tmp_path / "s.sqlite")
    rid = import_path(db, shared_results[0])["run_id"]
    export_run(db, rid, "otel", tmp_path / "o.jsonl")
    back = import_path(db, tmp_path / "o.jsonl")["run_id"]
    reports = []
    for r, name in ((rid, "orig.json"), (back, "back.json")):
        export_run(db, r, "tau2", tmp_path / name)
        res = CliRunner().invoke(cli, ["score", str(tmp_path / name), "--data", str(tau2_dir),
                                       "--json"])
        assert res.exit_code == 0, res.output
        (rep,) = json.loads(res.output)["files"]
        reports.append({k: v for k, v in rep.items() if k != "file"})
    assert reports[0]["agree"] == 40
    assert reports[1] == reports[0]


def _attrs(sp: dict) -> dict:
    return {a["key"]: a["value"] for a in sp["attributes"]}


def test_export_writes_the_runs_world_once_and_system_messages_in_the_history(tmp_path):
    """What goes on the wire: the first episode's root carries the run's tau2 info block
    (`t2e.run.info`, its policy taken out), its policy as text (`t2e.run.policy`) and its
    tasks (`t2e.run.tasks`), compact JSON, once per file; system messages are in the chat
    inputs where they stand (role system, as the GenAI conventions put instructions that are
    part of the chat history), after the agent's last turn `gen_ai.system.message` events on
    the root, and the root says how many the episode has (`t2e.system_turns`)."""
    db = store.open_db(tmp_path / "a.sqlite")
    rid = import_path(db, _tau2_source(tmp_path))["run_id"]
    out = tmp_path / "o.jsonl"
    export_run(db, rid, "otel", out)
    reqs = [json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"]
            for line in out.read_text().splitlines()]
    roots = [_attrs(spans[0]) for spans in reqs]
    assert not [k for r in roots[1:] for k in r if k.startswith("t2e.run.")]
    _, top = run_header(db, rid, provenance=False)
    info = top["info"]
    del info["environment_info"]["policy"]
    first = roots[0]
    assert json.loads(first["t2e.run.info"]["stringValue"]) == info
    assert first["t2e.run.policy"] == {"stringValue": "# Policy\nbe nice " + _HOSTILE}
    assert first["t2e.run.tasks"] == {"stringValue": json.dumps(
        top["tasks"], ensure_ascii=False, separators=(",", ":"))}
    # episode 0: a system message first, in every chat input
    assert first["t2e.system_turns"] == {"intValue": "1"}
    greet = _attrs(reqs[0][1])
    assert json.loads(greet["gen_ai.input.messages"]["stringValue"]) == [
        {"role": "system", "parts": [{"type": "text",
                                      "content": "You are an agent. " + _HOSTILE}]}]
    # episode 1: one in mid-conversation (chat inputs), one after the last agent turn (event)
    assert roots[1]["t2e.system_turns"] == {"intValue": "2"}
    call = _attrs(reqs[1][2])
    assert [m["role"] for m in json.loads(call["gen_ai.input.messages"]["stringValue"])] == [
        "assistant", "user", "system"]
    assert [(e["name"], _attrs(e)) for e in reqs[1][0]["events"]] == [
        ("gen_ai.user.message", {"content": {"stringValue": "Thanks! ###STOP###"}}),
        ("gen_ai.system.message", {"content": {"stringValue": "after the agent's last turn"}})]
    assert "t2e.system_turns" not in roots[2]


def _export_lines(tmp_path: Path, policy: str = "# Policy\nbe nice ") -> list[dict]:
    """The OTLP requests of a run imported from _tau2_source(policy), exported."""
    tmp_path.mkdir(exist_ok=True)
    db = store.open_db(tmp_path / "x.sqlite")
    rid = import_path(db, _tau2_source(tmp_path, policy))["run_id"]
    out = tmp_path / "x.jsonl"
    export_run(db, rid, "otel", out)
    return [json.loads(line) for line in out.read_text().splitlines()]


def _set_root_attr(req: dict, key: str, value: dict) -> None:
    root = req["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    root["attributes"] = [a for a in root["attributes"] if a["key"] != key] + [
        {"key": key, "value": value}]


@pytest.mark.parametrize("key, value, what", [
    ("t2e.run.tasks", {"stringValue": '[{"id": "0"'}, "t2e.run.tasks: not JSON"),
    ("t2e.run.tasks", {"stringValue": "[1, 2]"}, "t2e.run.tasks should be a JSON list of task "
                                                 "objects"),
    ("t2e.run.tasks", {"stringValue": '[{"id": "a"}, {"id": "a"}]'},
     "t2e.run.tasks holds the same task id twice (['a'])"),
    ("t2e.run.info", {"stringValue": "[]"}, "t2e.run.info should be a JSON object"),
    ("t2e.run.info", {"stringValue": '{"environment_info": 3}'},
     "t2e.run.info: environment_info should be an object"),
    ("t2e.run.policy", {"intValue": "7"}, "t2e.run.policy should be a string, found a number"),
])
def test_import_refuses_damaged_run_fields(tmp_path, key, value, what):
    """Our own run fields, damaged: refused naming the file, the episode's root span and the
    attribute, nothing written (left out, the run would be another world without a word)."""
    reqs = _export_lines(tmp_path)
    _set_root_attr(reqs[0], key, value)
    bad = _jsonl(tmp_path / "bad.jsonl", reqs)
    st = tmp_path / "b.sqlite"
    r = CliRunner().invoke(cli, ["--store", str(st), "import", str(bad), "--json"])
    assert r.exit_code == 2, r.output
    err = json.loads(r.output)["rejected"][0]["error"]
    conv = _attrs(reqs[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0])[
        "gen_ai.conversation.id"]["stringValue"]
    assert err.startswith(f"{bad}: the root span of conversation {conv}: ")
    assert err.endswith(what) or what + " (" in err, err
    assert store.open_db(st).conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_import_of_two_runs_exports_joined_keeps_neither_runs_world(tmp_path):
    """Two runs' exports in one file (cat a b > ab): their run fields differ, so the file is no
    one run's world: neither is kept (a warning says so), the episodes import as before."""
    a = _export_lines(tmp_path / "a")
    b = _export_lines(tmp_path / "b", policy="# Another policy\n")
    for req in b:  # (other conversation and trace ids: the episodes stay apart)
        for sp in req["resourceSpans"][0]["scopeSpans"][0]["spans"]:
            sp["traceId"] = "f" + sp["traceId"][1:]
            for at in sp["attributes"]:
                if at["key"] == "gen_ai.conversation.id":
                    at["value"]["stringValue"] += "-b"
    db = store.open_db(tmp_path / "s.sqlite")
    res = import_path(db, _jsonl(tmp_path / "ab.jsonl", a + b))
    assert res["episodes"] == 8
    assert any("t2e.run." in w and "differ" in w for w in res["warnings"]), res["warnings"]
    w = _world(db, res["run_id"])
    assert (w["tasks"], w["grading"]) == ([], "foreign")


def test_a_foreign_files_system_messages_stay_its_instructions(tmp_path):
    """A foreign file (no t2e fields on its root): its chat inputs' system messages are the
    episode's instructions, not turns, and a `gen_ai.system.message` event on its root is not
    read: as before."""
    from otel_fixture import msgs, request, span, text

    spans = [span("a" * 32, "r" * 16, "invoke_agent bot", {"gen_ai.operation.name":
                                                          "invoke_agent"}, end=5,
                  events=[(4, "gen_ai.system.message", {"content": "late"})]),
             span("a" * 32, "c" * 16, "chat m", {
                 "gen_ai.operation.name": "chat",
                 "gen_ai.input.messages": msgs(text("system", "Be brief."), text("user", "hi")),
                 "gen_ai.output.messages": msgs(text("assistant", "hello"))},
                  parent="r" * 16, start=1, end=2)]
    db = store.open_db(tmp_path / "s.sqlite")
    rid = import_path(db, _jsonl(tmp_path / "f.jsonl", [request(spans)]))["run_id"]
    (eid, extra), = db.conn.execute("SELECT episode_id, extra_json FROM episodes WHERE "
                                    "run_id = ?", (rid,))
    assert db.conn.execute("SELECT role, content FROM steps WHERE episode_id = ? ORDER BY idx",
                           (eid,)).fetchall() == [("user", "hi"), ("assistant", "hello")]
    assert json.loads(extra)["otel"]["system_instructions"] == ["Be brief."]
    assert _world(db, rid)["grading"] == "foreign"


# -- null results and nameless calls ---------------------------------------------------------

def test_roundtrip_of_a_null_tool_result_keeps_it_null(tmp_path):
    """A result whose content is null came back as "(content not captured)": the export left
    the result attribute out (its attributes skip None), which the import reads as capture
    off. It is written with an empty value, OTLP's null, which the import reads as a null
    result."""
    src = _jsonl(tmp_path / "null.jsonl", [
        _ep("t0", [U("hi"), A(None, [C("c1", "get", {"a": 1})]), T("c1", None), A("done")])])
    before, after, back = _roundtrip(tmp_path, src)
    assert after == before
    assert before[0][2][2][1] is None  # (the result: null content)
    assert not any("not captured" in w for w in back["warnings"])


def test_roundtrip_of_a_tool_call_without_a_name(tmp_path):
    """A call without a name (kept by the importers, its name ''), exported as a tool_call part
    without a name, which the import refuses as nameless: the export writes the name ''."""
    src = _jsonl(tmp_path / "nameless.jsonl", [
        _ep("t0", [U("hi"), A(None, [{"id": "c1", "arguments": {"a": 1}}]), T("c1", "ok"),
                   A("done")])])
    db = store.open_db(tmp_path / "a.sqlite")
    rid = import_path(db, src)["run_id"]
    export_run(db, rid, "otel", tmp_path / "o.jsonl")
    back_db = store.open_db(tmp_path / "b.sqlite")
    back = import_path(back_db, tmp_path / "o.jsonl")["run_id"]
    calls = "SELECT c.call_id, c.name, c.arguments FROM tool_calls c JOIN steps s USING " \
            "(step_id) JOIN episodes e USING (episode_id) WHERE e.run_id = ?"
    steps = "SELECT s.role, s.content, s.tool_call_id, s.tool_name FROM steps s JOIN " \
            "episodes e USING (episode_id) WHERE e.run_id = ? ORDER BY s.idx"
    assert back_db.conn.execute(calls, (back,)).fetchall() == \
        db.conn.execute(calls, (rid,)).fetchall() == [("c1", "", '{"a": 1}')]
    assert back_db.conn.execute(steps, (back,)).fetchall() == \
        db.conn.execute(steps, (rid,)).fetchall()


def test_roundtrip_of_an_integer_call_id(tmp_path):
    """A JSON Lines call id given as an integer was stored as no call id, and came back from
    the OTel round trip as "1", tied to its call: the two stores differed. The id is its
    text, "1", in both."""
    src = _jsonl(tmp_path / "int.jsonl", [
        _ep("t0", [U("hi"), A(None, [C(1, "get", {"a": 1})]), T(1, "r1"), A("done")])])
    before, after, _ = _roundtrip(tmp_path, src)
    steps = before[0][2]
    assert steps[1][2][0][0] == "1" and steps[2][3] == "1"
    assert after == before
