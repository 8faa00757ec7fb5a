"""Round trips through `t2e export --format otel` and the OTLP import: import -> export ->
import gives back every episode, message, tool call and argument, and every reward, exactly.

Each test here is a reviewer's reproduction kept as a test (tests/test_export_otel.py holds the
older round trips). Sources are JSON Lines runs and ATIF trajectories, as a user imports them.
The run's world (tasks, policy, system messages) through the round trip:
test_export_otel_world.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from otel_fixture import exported_and_back

import store
from store.exporters import export_run
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
    db, rid, back_db, back = exported_and_back(tmp_path, src)
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


@pytest.mark.parametrize("episodes", [
    # A tool result whose call id no call has (kept by the importers, with a warning) was an
    # execute_tool span with no tool name and arguments "null": the import made up a call
    # ('zz', 'execute_tool', 'null') on the assistant turn before it, and the warning was
    # gone. It rides in the next chat input now, as it was in the conversation.
    pytest.param([
        _ep("t0", [U("hi"), A(None, [C("c1", "get", {"a": 1})]), T("c1", "r1"),
                   T("zz", "orphan result"), A("done")]),
        _ep("t1", [U("hi"), A("text"), T("zz", "orphan after text"), U("and?"), A("ok")])],
        id="unknown-call-id"),
    pytest.param([
        _ep("t2", [U("hi"), A(None, [C("", "get", {"a": 1})]), T("", "empty id result"),
                   A("ok")])], id="empty-call-id"),
    # No chat input follows a result after the agent's last turn: it rides as a
    # gen_ai.tool.message event on the root (as the user's last messages do); the import made
    # up an assistant turn and a call for it.
    *(pytest.param([
        _ep("t12", [U("hi"), A("yo"), T("c9", "late orphan", requestor=requestor),
                    U("bye")])], id=f"after-the-last-agent-turn-{requestor}")
      for requestor in ("assistant", "user")),
    pytest.param([
        _ep("t", [U("hi"), A("text"), T("zz", "failed", error=True), A("ok")])],
        id="error-result"),
    # A result whose call id is made only later in the episode answers no call where it
    # stands (the importers' rule): it was exported as an execute_tool span, and the import
    # made up a call for it and moved the conversation around it.
    pytest.param([
        _ep("t0", [U("q"), T("c1", "early"), A(None, [C("c1", "get", {"a": 1})]),
                   T("c1", "late"), A("done")])], id="before-its-call"),
])
def test_roundtrip_of_a_result_answering_no_call(tmp_path, episodes):
    """Every message of episodes holding a tool result that answers no call comes back as it
    was (each case a reviewer's reproduction: the import made up a call for the result)."""
    before, after, _ = _roundtrip(tmp_path, _jsonl(tmp_path / "results.jsonl", episodes))
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
