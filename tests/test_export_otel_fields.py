"""Import -> `t2e export --format otel` -> import keeps, field by field, what the OTel (and
ATIF, JSON Lines) import keeps beside the messages: a message's `content_parts` (images,
reasoning: parts of other types), a chat call's `unchosen_choices` (the other choices of a
call that returned several) and the episode's system instructions (`gen_ai.system_instructions`
and the system messages of foreign inputs; ATIF's system prompt). The export left all three
out, so the re-import had none of them.

Each test compares the two stores message by message: role, content, tool calls (id, name,
arguments and their type), call id, error, requestor, content parts and unchosen choices; and
the episode's instructions and their parts that are not text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from otel_fixture import msgs, request, span, text

import store
from store.exporters import export_run
from store.importers import import_path

T, R = "a" * 32, "r" * 16
IMG = {"type": "uri", "modality": "image", "uri": "https://example.com/receipt.png"}
THINK = {"type": "reasoning", "content": "the user wants the total"}
BLOB = {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0K"}


def _fields(db, run_id: str) -> list:
    """Every episode (in time order) as (task, its instructions, their other parts, its
    messages), each message as (role, content, tool calls with the type of their arguments,
    call id, error, requestor, content parts, unchosen choices)."""
    out = []
    for eid, task, extra in db.conn.execute(
            "SELECT episode_id, task_id, extra_json FROM episodes WHERE run_id = ? "
            "ORDER BY start_time, ord", (run_id,)):
        ep = json.loads(extra or "{}")
        otel, atif = ep.get("otel") or {}, ep.get("atif") or {}
        system = otel.get("system_instructions") or atif.get("system_prompt")
        steps = []
        for role, content, calls, cid, err, req, x in db.conn.execute(
                "SELECT role, content, tool_calls, tool_call_id, error, requestor, extra_json "
                "FROM steps WHERE episode_id = ? ORDER BY idx", (eid,)):
            x = json.loads(x or "{}")
            calls = [(c["id"], c["name"], type(c["arguments"]).__name__, c["arguments"],
                      c.get("requestor")) for c in json.loads(calls)] if calls else None
            steps.append((role, content, calls, cid, err,
                          (req or "assistant") if role == "tool" else None,
                          x.get("content_parts"), x.get("unchosen_choices")))
        out.append((task, system, otel.get("system_instructions_parts"), steps))
    return out


def _roundtrip(tmp_path: Path, src: Path) -> tuple[list, list, dict]:
    a = store.open_db(tmp_path / "a.sqlite")
    rid = import_path(a, src)["run_id"]
    out = tmp_path / "run.otel.jsonl"
    export_run(a, rid, "otel", out)
    b = store.open_db(tmp_path / "b.sqlite")
    back = import_path(b, out)
    return _fields(a, rid), _fields(b, back["run_id"]), back


@pytest.fixture(params=["0", "1"], ids=["one-process", "two-process"])
def worker(request, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", request.param)


def _chat(sid, inp, out, start, attrs=None):
    return span(T, sid.ljust(16, "0"), "chat m", {
        "gen_ai.operation.name": "chat", "gen_ai.input.messages": msgs(*inp),
        "gen_ai.output.messages": msgs(*out), **(attrs or {})},
                parent=R, start=start, end=start + 1)


def _foreign(tmp_path: Path) -> Path:
    """A foreign trace: instructions on the agent span (a text and an image) and as a system
    message of the inputs; a user message with an image; a call that returned two choices
    (the first with its reasoning), of which the next input carries the second; a tool
    result with an image part (in the inputs only: no tool span); a last call of two
    choices, with no input after it."""
    si = json.dumps([{"type": "text", "content": "You are a support agent."}, BLOB])
    sysmsg = text("system", "Answer in English.")
    look = {"role": "user", "parts": [{"type": "text", "content": "what is on it?"}, IMG]}
    c0 = {"role": "assistant", "parts": [THINK, {"type": "text", "content": "A total."}]}
    c1 = {"role": "assistant", "parts": [
        {"type": "tool_call", "id": "call_1", "name": "read_receipt",
         "arguments": {"image": "receipt.png", "fields": ["total"]}}]}
    res = {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1",
                                      "response": "total: 12 EUR"}, BLOB]}
    last = [text("assistant", "It is 12 EUR."),
            {"role": "assistant", "parts": [THINK, {"type": "text", "content": "12 euros."}]}]
    spans = [span(T, R, "invoke_agent support", {"gen_ai.operation.name": "invoke_agent",
                                                 "gen_ai.system_instructions": si},
                  start=0, end=50),
             _chat("c1", [sysmsg, look], [c0, c1], 1),
             _chat("c2", [sysmsg, look, c1, res], last, 5)]
    p = tmp_path / "foreign.jsonl"
    p.write_text(json.dumps(request(spans)) + "\n")
    return p


def test_roundtrip_keeps_content_parts_choices_and_instructions(tmp_path, worker):
    before, after, back = _roundtrip(tmp_path, _foreign(tmp_path))
    (task, system, parts, steps), = before
    # what the first import kept, so that the comparison below can fail
    assert system == ["You are a support agent.", "Answer in English."]
    assert parts == [BLOB]
    assert steps[0][6] == [IMG]
    assert steps[1][7] == [{"index": 0, "role": "assistant", "content": "A total.",
                            "content_parts": [THINK]}]
    assert steps[2][:2] == ("tool", "total: 12 EUR") and steps[2][6] == [BLOB]
    assert steps[3][1] == "It is 12 EUR." and steps[3][7][0]["content_parts"] == [THINK]
    assert after == before
    assert any("several choices" in w for w in back["warnings"])


def _jsonl(tmp_path: Path, episodes: list[dict]) -> Path:
    p = tmp_path / "src.jsonl"
    p.write_text("".join(json.dumps(e) + "\n" for e in episodes), encoding="utf-8")
    return p


def U(content, **kw):
    return {"role": "user", "content": content, **kw}


def A(content, calls=None, **kw):
    return {"role": "assistant", "content": content, "tool_calls": calls, **kw}


def Tl(cid, content, **kw):
    return {"role": "tool", "id": cid, "content": content, "requestor": "assistant",
            "error": False, **kw}


def CALL(cid, name, args):
    return {"id": cid, "name": name, "arguments": args, "requestor": "assistant"}


def test_roundtrip_of_a_last_choice_that_is_not_the_first(tmp_path, worker):
    """The last call's choices: no chat input follows to say which went on, so the export
    says it (`t2e.chosen_choice`); the choices keep their indexes."""
    src = _jsonl(tmp_path, [{"run": "r", "id": "e1", "task_id": "t", "messages": [
        U("hi"), A("second", unchosen_choices=[
            {"index": 0, "role": "assistant", "content": "first"},
            {"index": 2, "role": "assistant", "content": None, "tool_calls": [
                CALL("c9", "lookup", {"q": "x"})]}])]}])
    before, after, _ = _roundtrip(tmp_path, src)
    assert before[0][3][1][7][1]["index"] == 2
    assert after == before


def test_roundtrip_of_choices_some_of_which_went_on(tmp_path, worker):
    """A call whose output went on in part (the next input carried its first two messages:
    the second is a step of its own, no longer unchosen) keeps that shape: the step's output
    lists the three, the next input carries the two."""
    src = _jsonl(tmp_path, [{"run": "r", "id": "e1", "task_id": "t", "messages": [
        U("hi"), A("one", unchosen_choices=[
            {"index": 2, "role": "assistant", "content": "three"}]),
        A("two"), U("and?"), A("done")]}])
    before, after, _ = _roundtrip(tmp_path, src)
    assert [s[1] for s in before[0][3]] == ["hi", "one", "two", "and?", "done"]
    assert after == before


def test_roundtrip_of_tool_results_with_content_parts(tmp_path, worker):
    """A result's parts ride in the chat inputs (a tool message's parts beside its
    tool_call_response), which the import reads beside the tool span's result; a result
    after the agent's last turn, which no input carries, on its span (`t2e.content_parts`).
    A message whose parts are not parts of other types (a text part kept beside a result)
    keeps them too."""
    src = _jsonl(tmp_path, [{"run": "r", "id": "e1", "task_id": "t", "messages": [
        U("look", content_parts=[IMG]),
        A(None, [CALL("c1", "scan", {"a": 1}), CALL("c2", "scan", {"a": 2})],
          content_parts=[THINK]),
        Tl("c1", "r1", content_parts=[BLOB]),
        Tl("c2", "r2", content_parts=[{"type": "text", "content": "(kept beside)"}]),
        A(None, [CALL("c3", "scan", {"a": 3})]),
        Tl("c3", "r3", content_parts=[IMG, BLOB]),
        Tl("zz", "answers no call", content_parts=[BLOB]),
        U("thanks", content_parts=[IMG])]}])
    before, after, _ = _roundtrip(tmp_path, src)
    assert [s[6] for s in before[0][3]] == [[IMG], [THINK], [BLOB],
                                            [{"type": "text", "content": "(kept beside)"}],
                                            None, [IMG, BLOB], [BLOB], [IMG]]
    assert after == before


def test_roundtrip_of_a_users_own_tool_result_with_content_parts(tmp_path, worker):
    """tau2 dual control: the user's own call and its result (whose span the import holds
    until the input that makes the call) keep the result's parts."""
    user_call = {**CALL("u1", "toggle", {"on": True}), "requestor": "user"}
    src = _jsonl(tmp_path, [{"run": "r", "id": "e1", "task_id": "t", "messages": [
        U("hi"), A("turn it on"), U(None, tool_calls=[user_call]),
        Tl("u1", "on", requestor="user", content_parts=[IMG]), A("done")]}])
    before, after, _ = _roundtrip(tmp_path, src)
    assert before[0][3][3][5:7] == ("user", [IMG])
    assert after == before


def test_roundtrip_of_two_choices_alike_but_for_their_parts(tmp_path, worker):
    """Two choices of the same text (their reasoning differs): the next input's copy matches
    both; the step's own choice stays the step (the first match took the other's parts)."""
    src = _jsonl(tmp_path, [{"run": "r", "id": "e1", "task_id": "t", "messages": [
        U("hi"), A("same", content_parts=[THINK], unchosen_choices=[
            {"index": 0, "role": "assistant", "content": "same", "content_parts": [IMG]}]),
        U("and?"), A("done")]}])
    before, after, _ = _roundtrip(tmp_path, src)
    assert after == before


@pytest.mark.parametrize("system", [["Be brief."], ["Be brief.", "Never refund."]])
def test_roundtrip_of_instructions_beside_system_turns(tmp_path, worker, system):
    """An episode with system messages among its turns (their chat inputs carry them as
    turns) and instructions apart: the instructions ride on the root span as
    gen_ai.system_instructions (several texts joined there, as the import joins a list of
    text parts: one text); the episode's `otel` block, which rides whole in
    t2e.simulation_fields, gives them back apart."""
    src = _jsonl(tmp_path, [{"run": "r", "id": "e1", "task_id": "t",
                             "otel": {"system_instructions": system},
                             "messages": [{"role": "system", "content": "turn"}, U("hi"),
                                          A("hello")]}])
    before, after, _ = _roundtrip(tmp_path, src)
    assert before[0][1] == system
    assert after[0] == before[0]


def test_roundtrip_of_an_atif_system_prompt(tmp_path, worker):
    """ATIF's system steps are the episode's system prompt: they come back as its system
    instructions (the same texts, in order)."""
    traj = {"schema_version": "ATIF-v1.6", "session_id": "s", "trajectory_id": "traj-1",
            "agent": {"name": "a", "version": "1", "model_name": "m"},
            "steps": [{"step_id": 1, "source": "system", "message": "You are an agent."},
                      {"step_id": 2, "source": "user", "message": "hi"},
                      {"step_id": 3, "source": "system", "message": "Be brief."},
                      {"step_id": 4, "source": "agent", "message": "hello"}]}
    src = tmp_path / "atif.json"
    src.write_text(json.dumps(traj), encoding="utf-8")
    before, after, _ = _roundtrip(tmp_path, src)
    assert before[0][1] == ["You are an agent.", "Be brief."]
    assert after == before


def test_export_writes_them_in_the_conventions_form(tmp_path):
    """What goes on the wire: parts of other types beside the text and calls of a message
    (`gen_ai.input.messages` / `gen_ai.output.messages`); several choices as the output's
    messages, in index order, with `t2e.chosen_choice`; instructions as system messages at
    the head of each chat input, their other parts as `gen_ai.system_instructions` on the
    root."""
    a = store.open_db(tmp_path / "a.sqlite")
    rid = import_path(a, _foreign(tmp_path))["run_id"]
    out = tmp_path / "o.jsonl"
    export_run(a, rid, "otel", out)
    (line,) = out.read_text().splitlines()
    spans = json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"]

    def attrs(sp):
        return {x["key"]: next(iter(x["value"].values())) for x in sp["attributes"]}

    root, chat1 = attrs(spans[0]), attrs(spans[1])
    assert json.loads(root["gen_ai.system_instructions"]) == [BLOB]
    inp = json.loads(chat1["gen_ai.input.messages"])
    assert inp[:3] == [text("system", "You are a support agent."),
                       text("system", "Answer in English."),
                       {"role": "user", "parts": [IMG, {"type": "text",
                                                        "content": "what is on it?"}]}]
    assert [m["parts"][0]["type"] for m in json.loads(chat1["gen_ai.output.messages"])] == [
        "reasoning", "tool_call"]
    assert chat1["t2e.chosen_choice"] == "1"


def test_a_files_own_parts_and_choices_of_any_shape_export_and_come_back(tmp_path):
    """JSON Lines keeps any key of a message as given: `content_parts` and `unchosen_choices`
    that are not the import's shapes export without a fault; parts that are no list of parts
    of other types ride in the role/content form and come back as they were; choices that are
    no list of indexed messages are written in their order, after the step (renumbered); a
    value that is no list is no choices, not written."""
    src = _jsonl(tmp_path, [{"run": "r", "id": "e1", "task_id": "t", "messages": [
        U("u", content_parts={"a": 1}),
        A("x", unchosen_choices="junk"),
        U("v"),
        A("y", [CALL("c1", "f", {})], content_parts=[1, "s", None], unchosen_choices=[
            1, {"index": "a", "content": {"k": 1}, "tool_calls": "zz"}, {"index": 5}]),
        Tl("c1", "ok"), A("z")]}])
    before, after, _ = _roundtrip(tmp_path, src)
    b, a = before[0][3], after[0][3]
    assert [s[:6] for s in a] == [s[:6] for s in b]
    assert [s[6] for s in a] == [s[6] for s in b] == [{"a": 1}, None, None, [1, "s", None],
                                                     None, None]
    assert a[3][7] == [{"index": 1, "role": "assistant", "content": '{"k": 1}'},
                       {"index": 2, "role": "assistant", "content": None}]
    assert a[1][7] is None
