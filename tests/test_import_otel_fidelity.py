"""GenAI content read as it was written, in every message form: a tool call without a name is
refused naming its span and attribute (the flattened, OpenInference and role/content forms
dropped it without a word; the parts form refused it already), a `tool_calls` that is not a
list is refused (it was let through as no calls), and a message without a role is an input
of role "unknown" (it was read as the assistant's) and an output the assistant's, and a tool
result captured as null is stored as null content, not as "(content not captured)"; a trace
whose chat span was sampled out keeps its conversation in order. In the one- and the
two-process import alike; nothing is written on refusal."""

from __future__ import annotations

import json

import pytest
from otel_fixture import assert_store_empty, msgs, request, span, stored_steps, text, write_spans

import store
from store.importers import ImportFailure, import_path

T = "a" * 32
EP = f"episode #0 (trace {T}), span c100000000000000 ('chat m')"


@pytest.fixture(params=["0", "1"], ids=["one-process", "two-process"])
def worker(request, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", request.param)


def _root():
    return span(T, "r" * 16, "invoke_agent x", {"gen_ai.operation.name": "invoke_agent"},
                start=0, end=100)


def _chat(sid, attrs, start=1, events=()):
    return span(T, sid.ljust(16, "0"), "chat m", {"gen_ai.operation.name": "chat", **attrs},
                parent="r" * 16, start=start, end=start + 1, events=events)


def _tool(attrs, sid="t1"):
    return span(T, sid.ljust(16, "0"), "execute_tool cancel",
                {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "cancel",
                 "gen_ai.tool.call.id": "call_1", "gen_ai.tool.call.arguments": "{}", **attrs},
                parent="r" * 16, start=3, end=4)




def _refused(tmp_path, spans):
    db = store.open_db(tmp_path / "s.sqlite")
    p = write_spans(tmp_path / "t.jsonl", spans)
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    assert_store_empty(db)
    return str(exc.value).removeprefix(f"{p}: {EP}: ")


U = {"gen_ai.input.messages": msgs(text("user", "cancel W1"))}
ARGS = json.dumps({"id": "W1"})

NAMELESS = {
    "flattened": ({"gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "cancel W1",
                   "gen_ai.completion.0.role": "assistant",
                   "gen_ai.completion.0.tool_calls.0.id": "call_1",
                   "gen_ai.completion.0.tool_calls.0.arguments": ARGS},
                  "gen_ai.completion.0: tool_calls[0]: a tool call without a name"),
    "openinference": ({"llm.input_messages.0.message.role": "user",
                       "llm.input_messages.0.message.content": "cancel W1",
                       "llm.output_messages.0.message.role": "assistant",
                       "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_1",
                       "llm.output_messages.0.message.tool_calls.0.tool_call.function"
                       ".arguments": ARGS},
                      "llm.output_messages.0: tool_calls[0]: a tool call without a name"),
    "role/content output": ({**U, "gen_ai.output.messages": json.dumps([
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                                              "function": {"arguments": ARGS}}]}])},
        "gen_ai.output.messages[0]: tool_calls[0]: a tool call without a name"),
    "role/content input": ({"gen_ai.input.messages": json.dumps([
        {"role": "user", "content": "cancel W1"},
        {"role": "assistant", "tool_calls": [{"id": "call_1", "arguments": ARGS}]}]),
        "gen_ai.output.messages": msgs(text("assistant", "done"))},
        "gen_ai.input.messages[1]: tool_calls[0]: a tool call without a name"),
    "a call that is no object": ({**U, "gen_ai.output.messages": json.dumps([
        {"role": "assistant", "tool_calls": ["cancel"]}])},
        "gen_ai.output.messages[0]: tool_calls[0] should be an object, found a string"),
}


@pytest.mark.parametrize("attrs, said", NAMELESS.values(), ids=NAMELESS.keys())
def test_a_tool_call_without_a_name_is_refused_in_every_form(tmp_path, worker, attrs, said):
    """The parts form refused a nameless tool_call; the others dropped the call (the
    assistant turn was stored with no call at all)."""
    assert _refused(tmp_path, [_root(), _chat("c1", attrs)]) == said


def test_a_nameless_call_in_a_choice_event_is_refused(tmp_path, worker):
    choice = {"message": json.dumps({"tool_calls": [{"id": "call_1", "arguments": ARGS}]})}
    assert _refused(tmp_path, [_root(), _chat("c1", {}, events=[
        (1, "gen_ai.user.message", {"content": "cancel W1"}), (1, "gen_ai.choice", choice)])]) \
        == "event 'gen_ai.choice': tool_calls[0]: a tool call without a name"


def test_a_tool_call_named_empty_is_kept_in_the_flattened_form(tmp_path, worker):
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, write_spans(tmp_path / "t.jsonl", [_root(), _chat("c1", {
        **NAMELESS["flattened"][0], "gen_ai.completion.0.tool_calls.0.name": ""})]))
    assert db.conn.execute("SELECT call_id, name, arguments FROM tool_calls").fetchall() == [
        ("call_1", "", ARGS)]


@pytest.mark.parametrize("value, kind", [
    ({"id": "call_1", "name": "cancel", "arguments": {}}, "an object"),
    ("cancel", "a string"), (5, "a number"), (True, "a boolean")])
def test_tool_calls_that_are_not_a_list_are_refused(tmp_path, worker, value, kind):
    """They were let through as a message with no calls (an object's call was lost)."""
    out = json.dumps([{"role": "assistant", "content": "ok", "tool_calls": value}])
    assert _refused(tmp_path, [_root(), _chat("c1", {**U, "gen_ai.output.messages": out})]) \
        == f"gen_ai.output.messages[0]: tool_calls should be a list, found {kind}"


def test_a_flattened_tool_calls_value_that_is_not_a_list_is_refused(tmp_path, worker):
    assert _refused(tmp_path, [_root(), _chat("c1", {
        "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "hi",
        "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.tool_calls": "cancel"})]) \
        == "gen_ai.completion.0: tool_calls should be a list, found a string"


def test_tool_calls_as_json_text_or_null_still_read(tmp_path, worker):
    calls = [{"id": "call_1", "type": "function",
              "function": {"name": "cancel", "arguments": ARGS}}]
    out = json.dumps([{"role": "assistant", "content": None, "tool_calls": json.dumps(calls)}])
    # (in two calls: the messages of one output are its choices, test_import_otel_choices)
    out2 = json.dumps([{"role": "assistant", "content": "done", "tool_calls": None}])
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, write_spans(tmp_path / "t.jsonl", [
        _root(), _chat("c1", {**U, "gen_ai.output.messages": out}),
        _chat("c2", {"gen_ai.output.messages": out2}, start=3)]))
    assert db.conn.execute("SELECT call_id, name FROM tool_calls").fetchall() == [
        ("call_1", "cancel")]
    assert [r[:2] for r in stored_steps(db)][1:] == [("assistant", None), ("assistant", "done")]


NO_ROLE = {
    "parts": {"gen_ai.input.messages": json.dumps([{"parts": [{"type": "text",
                                                               "content": "who am I"}]}]),
              "gen_ai.output.messages": json.dumps([{"parts": [{"type": "text",
                                                                "content": "hi"}]}])},
    "role/content": {"gen_ai.input.messages": json.dumps([{"content": "who am I"}]),
                     "gen_ai.output.messages": json.dumps([{"content": "hi"}])},
    "role given empty": {"gen_ai.input.messages": json.dumps([{"role": "",
                                                               "content": "who am I"}]),
                         "gen_ai.output.messages": json.dumps([{"role": "", "content": "hi"}])},
    "older JSON": {"gen_ai.prompt": json.dumps([{"content": "who am I"}]),
                   "gen_ai.completion": json.dumps([{"content": "hi"}])},
    "flattened": {"gen_ai.prompt.0.content": "who am I", "gen_ai.completion.0.content": "hi"},
    "openinference": {"llm.input_messages.0.message.content": "who am I",
                      "llm.output_messages.0.message.content": "hi"},
}


@pytest.mark.parametrize("attrs", NO_ROLE.values(), ids=NO_ROLE.keys())
def test_an_input_message_without_a_role_is_not_made_the_assistants(tmp_path, worker, attrs):
    """It was read as the assistant's: a speaker made up. An input without a role is
    "unknown"; an output is the model's answer, the assistant's."""
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, write_spans(tmp_path / "t.jsonl", [_root(), _chat("c1", attrs)]))
    assert [r[:2] for r in stored_steps(db)] == [("unknown", "who am I"), ("assistant", "hi")]


def test_an_input_without_a_role_in_a_prompt_event(tmp_path, worker):
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, write_spans(tmp_path / "t.jsonl", [_root(), _chat("c1", {}, events=[
        (1, "gen_ai.content.prompt", {"gen_ai.prompt": json.dumps([{"content": "who am I"}])}),
        (1, "gen_ai.content.completion",
         {"gen_ai.completion": json.dumps([{"content": "hi"}])})])]))
    assert [r[:2] for r in stored_steps(db)] == [("unknown", "who am I"), ("assistant", "hi")]


CALL = json.dumps([{"role": "assistant", "parts": [
    {"type": "tool_call", "id": "call_1", "name": "cancel", "arguments": {}}]}])


def _null_result(req, key):
    sp = req["resourceSpans"][0]["scopeSpans"][0]["spans"][2]
    sp["attributes"].append({"key": key, "value": {}})
    return req


@pytest.mark.parametrize("key", ["gen_ai.tool.call.result", "output.value"])
def test_a_tool_result_captured_as_null_is_not_content_capture_off(tmp_path, worker, key):
    """An attribute present with an empty value (OTLP's null) came back as
    "(content not captured)", under the capture-off warning: it is null content."""
    req = _null_result(request([_root(), _chat("c1", {**U, "gen_ai.output.messages": CALL}),
                                _tool({})]), key)
    (tmp_path / "t.jsonl").write_text(json.dumps(req) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, tmp_path / "t.jsonl")
    assert stored_steps(db)[2] == ("tool", None, None, "call_1")
    assert not any("not captured" in w for w in entry["warnings"])


def test_a_tool_result_not_captured_is_still_said_so(tmp_path, worker):
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, write_spans(tmp_path / "t.jsonl", [
        _root(), _chat("c1", {**U, "gen_ai.output.messages": CALL}), _tool({})]))
    assert stored_steps(db)[2] == ("tool", "(content not captured)", None, "call_1")
    # (its arguments were captured: the result shown as not captured was not counted)
    assert any("1 episode(s) have messages whose content was not captured" in w
               for w in entry["warnings"])


@pytest.mark.parametrize("result", [
    {"type": "tool_call_response", "id": "call_1", "response": None},
    {"type": "tool_call_response", "id": "call_1"}])
def test_a_null_tool_call_response_is_null_content(tmp_path, worker, result):
    """In the parts form a null response was stored as the text "null", and one without a
    response as "null" too; the role/content form stores a null content as null: one
    reading of a null result in every form."""
    t = {"role": "tool", "parts": [result]}
    u = text("user", "cancel W1")
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, write_spans(tmp_path / "t.jsonl", [
        _root(), _chat("c1", {**U, "gen_ai.output.messages": CALL}),
        _chat("c2", {"gen_ai.input.messages": msgs(u, json.loads(CALL)[0], t),
                     "gen_ai.output.messages": msgs(text("assistant", "done"))}, start=5)]))
    assert stored_steps(db)[2] == ("tool", None, None, "call_1")


def _sampled_trace(tmp_path, keep):
    """A conversation of three chat calls with one tool call after each of the first two;
    only the chat spans in `keep` (1, 2, 3) were sampled in."""
    u1, u2 = text("user", "Where is W1?"), text("user", "And W2?")
    a1, a2 = ({"role": "assistant", "parts": [{"type": "tool_call", "id": f"call_{n}",
                                               "name": "get_order", "arguments": {"id": f"W{n}"}}]}
              for n in (1, 2))
    t1, t2 = ({"role": "tool", "parts": [{"type": "tool_call_response", "id": f"call_{n}",
                                          "response": f"W{n} shipped"}]} for n in (1, 2))
    a3 = text("assistant", "Both shipped.")
    chats = {1: _chat("c1", {"gen_ai.input.messages": msgs(u1), "gen_ai.output.messages":
                             msgs(a1)}, start=1),
             2: _chat("c2", {"gen_ai.input.messages": msgs(u1, a1, t1, u2),
                             "gen_ai.output.messages": msgs(a2)}, start=5),
             3: _chat("c3", {"gen_ai.input.messages": msgs(u1, a1, t1, u2, a2, t2),
                             "gen_ai.output.messages": msgs(a3)}, start=9)}
    tools = [span(T, f"t{n}".ljust(16, "0"), "execute_tool get_order", {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_order",
        "gen_ai.tool.call.id": f"call_{n}", "gen_ai.tool.call.arguments": f'{{"id": "W{n}"}}',
        "gen_ai.tool.call.result": f"W{n} shipped"}, parent="r" * 16, start=s, end=s + 1)
        for n, s in ((1, 3), (2, 7))]
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, write_spans(tmp_path / "t.jsonl", [_root(), *tools,
                                                  *(chats[k] for k in keep)]))
    return [(r, c, [x["id"] for x in json.loads(k)] if k else None, i)
            for r, c, k, i in stored_steps(db)]


WHOLE = [("user", "Where is W1?", None, None), ("assistant", None, ["call_1"], None),
         ("tool", "W1 shipped", None, "call_1"), ("user", "And W2?", None, None),
         ("assistant", None, ["call_2"], None), ("tool", "W2 shipped", None, "call_2"),
         ("assistant", "Both shipped.", None, None)]


@pytest.mark.parametrize("keep", [(1, 2, 3), (2, 3), (1, 3), (3,)],
                         ids=["complete", "first sampled out", "second sampled out",
                              "only the last"])
def test_a_chat_span_sampled_out_leaves_the_conversation_in_order(tmp_path, worker, keep):
    """The next chat input has the call and its result: the tool span's result goes where
    that input puts it. It was placed first, in an assistant turn of its own, and the input
    then made the call a second time."""
    assert _sampled_trace(tmp_path, keep) == WHOLE


def test_an_openinference_tool_span_gives_its_input_not_its_parameter_schema(tmp_path, worker):
    """An OpenInference TOOL span's `tool.parameters` is the tool's declared parameter schema;
    the call's arguments are its `input.value`. The schema was read first and stored as the
    arguments of a call no chat span made (shown, diffed and classified as if the model had
    passed a JSON schema)."""
    schema = json.dumps({"type": "object", "properties": {"city": {"type": "string"}}})
    spans = [_root(),
             _chat("c1", {"gen_ai.input.messages": msgs(text("user", "weather in Paris?"))}),
             span(T, "t1".ljust(16, "0"), "get_weather", {
                 "openinference.span.kind": "TOOL", "tool.name": "get_weather",
                 "tool.parameters": schema, "input.value": json.dumps({"city": "Paris"}),
                 "output.value": "sunny", "tool_call.id": "w1"},
                 parent="r" * 16, start=3, end=4)]
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, write_spans(tmp_path / "t.jsonl", spans))
    calls = [json.loads(r[2]) for r in stored_steps(db) if r[2]]
    assert [[c["arguments"] for c in cs] for cs in calls] == [[{"city": "Paris"}]]


def test_an_openinference_tool_span_without_input_has_no_arguments_captured(tmp_path, worker):
    """Without `input.value` the arguments were not captured: the schema is not taken for
    them."""
    schema = json.dumps({"type": "object", "properties": {"city": {"type": "string"}}})
    spans = [_root(),
             _chat("c1", {"gen_ai.input.messages": msgs(text("user", "weather in Paris?"))}),
             span(T, "t1".ljust(16, "0"), "get_weather", {
                 "openinference.span.kind": "TOOL", "tool.name": "get_weather",
                 "tool.parameters": schema, "output.value": "sunny", "tool_call.id": "w1"},
                 parent="r" * 16, start=3, end=4)]
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, write_spans(tmp_path / "t.jsonl", spans))
    steps = stored_steps(db)
    assert [json.loads(r[2]) for r in steps if r[2]] == [[
        {"id": "w1", "name": "get_weather", "arguments": {}, "requestor": "assistant"}]]
    assert [r[1] for r in steps if r[2]] == ["(content not captured)"]
    assert any("content was not captured" in w for w in entry["warnings"])


@pytest.mark.parametrize("value, said", [
    ({"intValue": "123456789012345678901234567890"},
     "gen_ai.usage.input_tokens: a 30-digit integer (the store holds 64-bit integers)"),
    ({"intValue": "9223372036854775808"},
     "gen_ai.usage.input_tokens: the integer 9223372036854775808 (beyond the store's 64-bit "
     "range)"),
])
def test_a_token_count_past_64_bits_is_refused_as_every_format_refuses_it(tmp_path, worker,
                                                                          value, said):
    """The count was kept as its text and then left out of the usage without a word (ATIF and
    tau2 files refuse the same value, naming the field)."""
    chat = _chat("c1", {**U, "gen_ai.output.messages": msgs(text("assistant", "ok"))})
    chat["attributes"].append({"key": "gen_ai.usage.input_tokens", "value": value})
    assert _refused(tmp_path, [_root(), chat]) == said


def test_a_token_count_given_as_text_is_still_left_out(tmp_path, worker):
    """(Text is no count, as documented: left out, not refused; only a number the store cannot
    hold is refused.)"""
    chat = _chat("c1", {**U, "gen_ai.output.messages": msgs(text("assistant", "ok")),
                        "gen_ai.usage.input_tokens": "many"})
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, write_spans(tmp_path / "t.jsonl", [_root(), chat]))
    extra = db.conn.execute("SELECT extra_json FROM steps WHERE role = 'assistant'").fetchone()[0]
    assert "prompt_tokens" not in (extra or "")


def test_one_conversation_id_on_concurrent_traces_is_said_and_its_instructions_kept_once(
        tmp_path, worker):
    """Two traces that run at the same time with one gen_ai.conversation.id (a harness
    reusing ids) were read as one conversation, interleaved, without a word, and its system
    instructions listed once per restart ("You are a bot. / You are a bot. / ...")."""
    sys_msg = {"role": "system", "parts": [{"type": "text", "content": "You are a bot."}]}
    spans = []
    for trace in ("1" * 32, "2" * 32):
        spans += [
            span(trace, "r" * 16, "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent",
                                                       "gen_ai.conversation.id": "shared"},
                 start=0, end=100),
            span(trace, "c1".ljust(16, "0"), "chat m", {
                "gen_ai.operation.name": "chat",
                "gen_ai.input.messages": json.dumps([sys_msg, json.loads(
                    msgs(text("user", f"hi from {trace[0]}")))[0]]),
                "gen_ai.output.messages": msgs(text("assistant", "hello"))},
                parent="r" * 16, start=1, end=2)]
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, write_spans(tmp_path / "t.jsonl", spans))
    assert any("2" not in w and "1 conversation(s) hold traces that run at the same time" in w
               for w in entry["warnings"]), entry["warnings"]
    extra = json.loads(db.conn.execute("SELECT extra_json FROM episodes").fetchone()[0])
    assert extra["otel"]["system_instructions"] == ["You are a bot."]


def test_a_conversations_traces_one_after_another_are_not_said_to_overlap(tmp_path, worker):
    spans = []
    for n, trace in enumerate(("1" * 32, "2" * 32)):
        spans += [
            span(trace, "r" * 16, "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent",
                                                       "gen_ai.conversation.id": "shared"},
                 start=10 * n, end=10 * n + 5),
            span(trace, "c1".ljust(16, "0"), "chat m", {
                "gen_ai.operation.name": "chat",
                "gen_ai.input.messages": msgs(text("user", f"turn {n}")),
                "gen_ai.output.messages": msgs(text("assistant", "ok"))},
                parent="r" * 16, start=10 * n + 1, end=10 * n + 2)]
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, write_spans(tmp_path / "t.jsonl", spans))
    assert entry["episodes"] == 1
    assert not any("at the same time" in w for w in entry["warnings"]), entry["warnings"]
