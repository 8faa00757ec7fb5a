"""Strands Agents' GenAI spans (its default, the event form): message content is a list of
content blocks written as JSON text ([{"text": ...}], {"toolUse": {...}}, {"toolResult":
{...}}), and a tool span's input and result are its gen_ai.tool.message and gen_ai.choice
events. The blocks were stored as their JSON text (calls and results in the text, not as
calls and results) and the tool results as "(content not captured)". Hand-made spans in
Strands' shape (strands/telemetry/tracer.py), no export copied."""

from __future__ import annotations

import json

import pytest
from otel_fixture import request, span

import store
from store.importers import ImportFailure, import_path

T = "5" * 32
S = {"gen_ai.system": "strands-agents"}
Q = [{"text": "weather in Paris?"}]
USE = {"toolUse": {"toolUseId": "tooluse_1", "name": "weather", "input": {"city": "Paris"}}}
A1 = [{"text": "Let me check."}, USE]
RES = [{"toolResult": {"toolUseId": "tooluse_1", "status": "success",
                       "content": [{"text": "sunny, 22C"}]}}]
A2 = [{"text": "It is sunny in Paris."}]


@pytest.fixture(params=["0", "1"], ids=["one-process", "two-process"])
def worker(request, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", request.param)


def _root():
    return span(T, "r" * 16, "invoke_agent Strands Agents",
                {**S, "gen_ai.operation.name": "invoke_agent"}, start=0, end=100)


def _chat(sid, start, inputs, answer):
    """A chat span: one event per input message, a gen_ai.choice with the answer's blocks."""
    events = [(start, name, {"content": json.dumps(blocks)}) for name, blocks in inputs]
    events.append((start + 1, "gen_ai.choice", {"finish_reason": "end_turn",
                                                "message": json.dumps(answer)}))
    return span(T, sid.ljust(16, "0"), "chat", {**S, "gen_ai.operation.name": "chat"},
                parent="r" * 16, start=start, end=start + 1, events=events)


def _tool(start=3, result=(("text", "sunny, 22C"),), **attrs):
    return span(T, "t1".ljust(16, "0"), "execute_tool weather", {
        **S, "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather",
        "gen_ai.tool.call.id": "tooluse_1", "gen_ai.tool.status": "success", **attrs},
        parent="r" * 16, start=start, end=start + 1, events=[
            (start, "gen_ai.tool.message", {"role": "tool", "id": "tooluse_1",
                                            "content": json.dumps({"city": "Paris"})}),
            (start + 1, "gen_ai.choice", {"id": "tooluse_1", "message": json.dumps(
                [{k: v} for k, v in result])})])


def _import(tmp_path, spans):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(request(spans, service="strands-app")) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, path)
    rows = db.conn.execute("SELECT role, content, tool_calls, tool_call_id, error FROM steps "
                           "ORDER BY idx").fetchall()
    return entry, [(r, c, json.loads(k) if k else None, i, e) for r, c, k, i, e in rows]


CALL = [{"id": "tooluse_1", "name": "weather", "arguments": {"city": "Paris"},
         "requestor": "assistant"}]


def test_content_blocks_are_text_tool_calls_and_results(tmp_path, worker):
    """No tool span: the result comes from the next chat input's toolResult block."""
    _, steps = _import(tmp_path, [_root(), _chat("c1", 1, [("gen_ai.user.message", Q)], A1),
                                  _chat("c2", 5, [("gen_ai.user.message", Q),
                                                  ("gen_ai.assistant.message", A1),
                                                  ("gen_ai.tool.message", RES)], A2)])
    assert steps == [("user", "weather in Paris?", None, None, 0),
                     ("assistant", "Let me check.", CALL, None, 0),
                     ("tool", "sunny, 22C", None, "tooluse_1", 0),
                     ("assistant", "It is sunny in Paris.", None, None, 0)]


def test_a_tool_spans_events_give_its_arguments_and_result(tmp_path, worker):
    """Strands writes no gen_ai.tool.call.arguments / .result: the events hold them."""
    entry, steps = _import(tmp_path, [
        _root(), _chat("c1", 1, [("gen_ai.user.message", Q)], [{"text": "Checking."}]),
        _tool(), _chat("c2", 5, [("gen_ai.user.message", Q),
                                 ("gen_ai.assistant.message", [{"text": "Checking."}]),
                                 ("gen_ai.tool.message", RES)], A2)])
    assert steps[2:] == [("assistant", None, CALL, None, 0),
                         ("tool", "sunny, 22C", None, "tooluse_1", 0),
                         ("assistant", "It is sunny in Paris.", None, None, 0)]
    assert not any("not captured" in w for w in entry["warnings"])


def test_a_result_attribute_is_read_before_the_events(tmp_path, worker):
    _, steps = _import(tmp_path, [_root(), _chat("c1", 1, [("gen_ai.user.message", Q)], A1),
                                  _tool(**{"gen_ai.tool.call.result": "from the attribute"})])
    assert steps[2][1] == "from the attribute"


def test_every_tool_result_of_a_message_is_a_tool_message(tmp_path, worker):
    """Parallel calls: one message holds their results (an error, a json block)."""
    use2 = {"toolUse": {"toolUseId": "tooluse_2", "name": "weather", "input": {"city": "Oslo"}}}
    results = RES + [{"toolResult": {"toolUseId": "tooluse_2", "status": "error",
                                     "content": [{"json": {"error": "no such city"}}]}}]
    _, steps = _import(tmp_path, [
        _root(), _chat("c1", 1, [("gen_ai.user.message", Q)], [USE, use2]),
        _chat("c2", 5, [("gen_ai.user.message", Q), ("gen_ai.assistant.message", [USE, use2]),
                        ("gen_ai.tool.message", results)], A2)])
    assert [c["id"] for c in steps[1][2]] == ["tooluse_1", "tooluse_2"]
    assert steps[2:4] == [("tool", "sunny, 22C", None, "tooluse_1", 0),
                          ("tool", '{"error": "no such city"}', None, "tooluse_2", 1)]


def test_other_blocks_keep_their_json_text(tmp_path, worker):
    reason = {"reasoningContent": {"reasoningText": {"text": "think"}}}
    _, steps = _import(tmp_path, [_root(), _chat("c1", 1, [("gen_ai.user.message", Q)],
                                                 [reason, {"text": "Sunny."}])])
    assert steps[1][1] == json.dumps(reason) + "Sunny."


@pytest.mark.parametrize("content", ['[{"text": "a", "extra": 1}]', "[1, 2]", '[{"x": 1}]',
                                     "[not json", "[]"])
def test_text_that_is_no_list_of_blocks_is_kept_as_it_is(tmp_path, worker, content):
    path_spans = [_root(), span(T, "c1".ljust(16, "0"), "chat", {
        **S, "gen_ai.operation.name": "chat"}, parent="r" * 16, start=1, end=2, events=[
        (1, "gen_ai.user.message", {"content": content}),
        (2, "gen_ai.choice", {"message": "ok"})])]
    _, steps = _import(tmp_path, path_spans)
    assert steps[0][:2] == ("user", content)


def test_a_tool_use_without_a_name_is_refused(tmp_path, worker):
    nameless = [{"toolUse": {"toolUseId": "tooluse_1", "input": {}}}]
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(request([_root(), _chat("c1", 1, [
        ("gen_ai.user.message", Q)], nameless)])) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure) as exc:
        import_path(db, path)
    assert str(exc.value) == (f"{path}: episode #0 (trace {T}), span c100000000000000 "
                              "('chat'): event 'gen_ai.choice': content[0]: a toolUse without "
                              "a name")
    assert db.conn.execute("SELECT count(*) FROM steps").fetchone() == (0,)


def test_the_agent_and_cycle_spans_events_are_not_turns_again(tmp_path, worker):
    """Strands puts the agent's input on its invoke_agent span and the conversation so far on
    each execute_event_loop_cycle span, as events; the chat inputs after them repeat those
    messages. They were read as turns of their own: the question four times, the call twice."""
    def events(t, msgs, answer):
        return [(t, name, {"content": json.dumps(b)}) for name, b in msgs] + [
            (t + 30, "gen_ai.choice", {"message": json.dumps(answer)})]
    root = span(T, "r" * 16, "invoke_agent Strands Agents",
                {**S, "gen_ai.operation.name": "invoke_agent"}, start=0, end=100, events=[
                    (0, "gen_ai.user.message", {"content": json.dumps(Q)}),
                    (100, "gen_ai.choice", {"message": "It is sunny in Paris.\n"})])
    cycle1 = span(T, "y1".ljust(16, "0"), "execute_event_loop_cycle",
                  {"event_loop.cycle_id": "x1"}, parent="r" * 16, start=1, end=50,
                  events=events(1, [("gen_ai.user.message", Q)], A1))
    cycle2 = span(T, "y2".ljust(16, "0"), "execute_event_loop_cycle",
                  {"event_loop.cycle_id": "x2"}, parent="y1".ljust(16, "0"), start=4, end=49,
                  events=events(4, [("gen_ai.user.message", Q), ("gen_ai.assistant.message", A1),
                                    ("gen_ai.tool.message", RES)], A2))
    entry, steps = _import(tmp_path, [
        root, cycle1, _chat("c1", 2, [("gen_ai.user.message", Q)], A1), _tool(start=3),
        cycle2, _chat("c2", 5, [("gen_ai.user.message", Q), ("gen_ai.assistant.message", A1),
                                ("gen_ai.tool.message", RES)], A2)])
    assert steps == [("user", "weather in Paris?", None, None, 0),
                     ("assistant", "Let me check.", CALL, None, 0),
                     ("tool", "sunny, 22C", None, "tooluse_1", 0),
                     ("assistant", "It is sunny in Paris.", None, None, 0)]


def _chat_choices(sid, start, inputs, answers, attrs=None):
    """A chat span with one gen_ai.choice event per answer (n > 1: several choices)."""
    events = [(start, name, {"content": json.dumps(blocks)}) for name, blocks in inputs]
    events += [(start + 1, "gen_ai.choice", {"index": i, "message": json.dumps(a)})
               for i, a in enumerate(answers)]
    return span(T, sid.ljust(16, "0"), "chat", {**S, "gen_ai.operation.name": "chat",
                                                **(attrs or {})},
                parent="r" * 16, start=start, end=start + 1, events=events)


NEXT = [{"text": "and tomorrow?"}]


def test_choices_holding_tool_results_are_choices(tmp_path, worker):
    """Two gen_ai.choice events (n = 2), one holding a toolResult block: the choice was read
    as two messages (a tool result and the text), so the output was not taken for choices:
    every message of both was a step, counted among the next input's items, which then
    looked shorter than the conversation so far and was emitted again whole (the question
    and the first answer twice). Each choice is one message (its toolResult kept as its JSON
    text, as other blocks are): the choices rule applies."""
    entry, steps = _import(tmp_path, [
        _root(), _chat_choices("c1", 1, [("gen_ai.user.message", Q)],
                               [[{"text": "A"}], [{"text": "B"}] + RES]),
        _chat("c2", 5, [("gen_ai.user.message", Q), ("gen_ai.assistant.message", [{"text": "A"}]),
                        ("gen_ai.user.message", NEXT)], A2)])
    assert [s[:2] for s in steps] == [("user", "weather in Paris?"), ("assistant", "A"),
                                      ("user", "and tomorrow?"),
                                      ("assistant", "It is sunny in Paris.")]
    db = store.open_db(tmp_path / "s.sqlite")
    (extra,), = db.conn.execute("SELECT extra_json FROM steps WHERE idx = 1").fetchall()
    assert json.loads(extra)["unchosen_choices"] == [
        {"index": 1, "role": "assistant", "content": "B" + json.dumps(RES[0])}]
    assert any("several choices" in w for w in entry["warnings"])


def test_a_choice_of_several_messages_is_one_item_of_the_next_input(tmp_path, worker):
    """One choice holding a toolResult block reads as two messages (the result, the text);
    the next input (here in the gen_ai.input.messages form) has the choice as one item. It
    was counted as two, so the next input's new user turn was taken for repeated history and
    lost."""
    from otel_fixture import msgs, text

    said = {"role": "assistant", "content": json.dumps([{"text": "it was"}] + RES)}
    entry, steps = _import(tmp_path, [
        _root(), _chat("c1", 1, [("gen_ai.user.message", Q)], [{"text": "it was"}] + RES),
        span(T, "c2".ljust(16, "0"), "chat", {
            **S, "gen_ai.operation.name": "chat",
            "gen_ai.input.messages": msgs(text("user", "weather in Paris?"), said,
                                          text("user", "and tomorrow?")),
            "gen_ai.output.messages": msgs(text("assistant", "Cloudy."))},
             parent="r" * 16, start=5, end=6)])
    assert [s[:2] for s in steps] == [("user", "weather in Paris?"), ("tool", "sunny, 22C"),
                                      ("assistant", "it was"), ("user", "and tomorrow?"),
                                      ("assistant", "Cloudy.")]


def test_an_input_event_of_several_messages_is_one_item(tmp_path, worker):
    """The other way round: an input event that reads as several messages (Strands names a
    message holding toolResult blocks gen_ai.tool.message) is one item of the conversation,
    as the message the next input (gen_ai.input.messages) repeats it as."""
    from otel_fixture import msgs, text

    use = [{"text": "Checking."}, USE]
    res_and_text = RES + [{"text": "noted"}]
    entry, steps = _import(tmp_path, [
        _root(), _chat("c1", 1, [("gen_ai.user.message", Q)], use),
        _chat("c2", 5, [("gen_ai.user.message", Q), ("gen_ai.assistant.message", use),
                        ("gen_ai.tool.message", res_and_text)], [{"text": "Sunny."}]),
        span(T, "c3".ljust(16, "0"), "chat", {
            **S, "gen_ai.operation.name": "chat",
            "gen_ai.input.messages": msgs(
                text("user", "weather in Paris?"), {"role": "assistant", "content": "x"},
                {"role": "tool", "content": "y"}, text("assistant", "Sunny."),
                text("user", "and tomorrow?")),
            "gen_ai.output.messages": msgs(text("assistant", "Cloudy."))},
             parent="r" * 16, start=9, end=10)])
    assert [s[:2] for s in steps] == [
        ("user", "weather in Paris?"), ("assistant", "Checking."), ("tool", "sunny, 22C"),
        ("tool", "noted"), ("assistant", "Sunny."), ("user", "and tomorrow?"),
        ("assistant", "Cloudy.")]
