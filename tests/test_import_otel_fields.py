"""Span fields and id attributes of the wrong type are refused, naming the span and the field
or attribute and what was expected: an id given as a map or an array (`t2e.task_id`,
`gen_ai.conversation.id`, ...) was stored as Python's repr ("{'k': 'v'}", "['c1', 'c2']"),
as the ATIF importer refuses a task id that is not text; an event `name` or a `parentSpanId`
that is a list gave "cannot be built (TypeError: unhashable type: 'list')". Integers stay ids
(their text), as in ATIF. Nothing is written on refusal; one- and two-process alike."""

from __future__ import annotations

import json

import pytest
from otel_fixture import msgs, request, span, text

import store
from store.importers import ImportFailure, import_path

T = "a" * 32


@pytest.fixture(params=["0", "1"], ids=["one-process", "two-process"])
def worker(request, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", request.param)


def _root(attrs=None):
    return span(T, "r1", "invoke_agent x", {"gen_ai.operation.name": "invoke_agent",
                                             **(attrs or {})}, start=0, end=10)


def _chat(attrs=None):
    return span(T, "c1", "chat m", {"gen_ai.operation.name": "chat",
                                     "gen_ai.input.messages": msgs(text("user", "q")),
                                     "gen_ai.output.messages": msgs(text("assistant", "a")),
                                     **(attrs or {})}, parent="r1", start=1, end=2)


def _refused(tmp_path, spans):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request(spans)) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    for table in ("runs", "episodes", "steps"):
        assert db.conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    return str(exc.value).removeprefix(f"{p}: ")


@pytest.mark.parametrize("attr", ["t2e.task_id", "task.id", "t2e.sim_id"])
@pytest.mark.parametrize("value,said", [({"k": "v"}, 'an object {"k": "v"}'),
                                        (["c1", "c2"], 'a list ["c1", "c2"]'),
                                        (True, "a boolean true"), (1.5, "a number 1.5")])
def test_a_root_id_that_is_not_text_is_refused(tmp_path, worker, attr, value, said):
    assert _refused(tmp_path, [_root({attr: value}), _chat()]) == (
        f"episode #0 (trace {T}), span r1 ('invoke_agent x'): {attr} should be a string "
        f"(or an integer), found {said}")


@pytest.mark.parametrize("attr", ["gen_ai.conversation.id", "session.id"])
def test_a_conversation_id_that_is_not_text_is_refused(tmp_path, worker, attr):
    assert _refused(tmp_path, [_root({attr: ["c1", "c2"]}), _chat()]) == (
        f"line 1, resourceSpans[0].scopeSpans[0].spans[0]: {attr} should be a string "
        '(or an integer), found a list ["c1", "c2"]')


def test_integer_ids_are_their_text(tmp_path, worker):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request([_root({"t2e.task_id": 7,
                                             "gen_ai.conversation.id": 12}), _chat()])) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, p)
    assert db.conn.execute("SELECT episode_key, task_id FROM episodes").fetchall() == [
        ("12", "7")]


PLACE = "line 1, resourceSpans[0].scopeSpans[0].spans[0]: "


@pytest.mark.parametrize("field,value,said", [
    ("name", ["chat"], "name should be a string, found a list"),
    ("parentSpanId", ["r0"], "parentSpanId should be a string, found a list"),
    ("events", [{"name": ["gen_ai.user.message"], "timeUnixNano": "1", "attributes": []}],
     "events[0].name should be a string, found a list"),
    ("events", [{"name": "gen_ai.user.message"}, "hi"],
     "events[1] should be an object, found a string"),
])
def test_a_span_field_of_the_wrong_type_is_named(tmp_path, worker, field, value, said):
    root = _root()
    root[field] = value
    assert _refused(tmp_path, [root, _chat()]) == PLACE + said


_LIST = 'should be a string (or an integer), found a list ["x"]'


@pytest.mark.parametrize("attrs,said", [
    ({"gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
        {"type": "tool_call", "id": ["x"], "name": "look", "arguments": {}}]}])},
     f"gen_ai.output.messages[0]: parts[0].id {_LIST}"),
    ({"gen_ai.output.messages": json.dumps([{"role": "assistant", "tool_calls": [
        {"id": ["x"], "function": {"name": "look", "arguments": "{}"}}]}])},
     f"gen_ai.output.messages[0]: tool_calls[0].id {_LIST}"),
    ({"gen_ai.input.messages": json.dumps([{"role": "tool", "parts": [
        {"type": "tool_call_response", "id": ["x"], "response": "ok"}]}])},
     f"gen_ai.input.messages[0]: parts[0].id {_LIST}"),
    ({"gen_ai.input.messages": json.dumps([{"role": "tool", "tool_call_id": ["x"],
                                            "content": "ok"}])},
     f"gen_ai.input.messages[0]: tool_call_id {_LIST}"),
])
def test_a_call_id_in_a_message_that_is_not_text_is_refused(tmp_path, worker, attrs, said):
    assert _refused(tmp_path, [_root(), _chat(attrs)]) == (
        f"episode #0 (trace {T}), span c1 ('chat m'): {said}")


def test_a_tool_span_call_id_that_is_not_text_is_refused(tmp_path, worker):
    tool = span(T, "t1", "execute_tool look", {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "look",
        "gen_ai.tool.call.id": {"k": "v"}, "gen_ai.tool.call.result": "ok"},
        parent="r1", start=3, end=4)
    assert _refused(tmp_path, [_root(), _chat(), tool]) == (
        f"episode #0 (trace {T}), span t1 ('execute_tool look'): gen_ai.tool.call.id should "
        'be a string (or an integer), found an object {"k": "v"}')


def test_a_requestor_that_is_not_text_is_left_out(tmp_path, worker):
    # (our export's field: a value of the wrong type is left out, as its costs are; str()
    # stored "['user']")
    tool = span(T, "t1", "execute_tool look", {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "look",
        "gen_ai.tool.call.id": "call_1", "gen_ai.tool.call.result": "ok",
        "t2e.requestor": ["user"]}, parent="r1", start=3, end=4)
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request([_root(), _chat(), tool])) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, p)
    assert db.conn.execute("SELECT DISTINCT requestor FROM steps WHERE role = 'tool'"
                           ).fetchall() == [("assistant",)]


def test_a_tool_span_named_empty_keeps_the_empty_name(tmp_path, worker):
    # ('' is a name given empty, as in a message's call; it took the span's name,
    # "execute_tool", which our export writes for a call without a name)
    tool = span(T, "t1", "execute_tool", {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "",
        "gen_ai.tool.call.id": "call_1", "gen_ai.tool.call.result": "ok"},
        parent="r1", start=3, end=4)
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request([_root(), _chat(), tool])) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, p)
    assert db.conn.execute("SELECT call_id, name FROM tool_calls").fetchall() == [("call_1", "")]


def test_a_bad_conversation_id_in_a_streamed_file_is_named_with_its_place(tmp_path, worker):
    # (one pretty-printed object: the streamed layout hands the spill part of a scope's spans)
    chat = _chat({"gen_ai.conversation.id": {"k": "v"}})
    p = tmp_path / "t.json"
    p.write_text(json.dumps(request([_root(), chat]), indent=2))
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    assert str(exc.value) == (f"{p}: object #1, resourceSpans[0].scopeSpans[0].spans[1]: "
                              'gen_ai.conversation.id should be a string (or an integer), '
                              'found an object {"k": "v"}')
