"""Valid GenAI shapes that the stricter message checks must keep importing (a review found
them refused or misread): the older gen_ai.prompt / gen_ai.completion as plain text (the
conventions only recommend JSON there), one message object where a list is expected, a
gen_ai.choice event whose message is the content alone (text, or Strands Agents' list of
content blocks, read as its text: test_import_otel_strands), a tool span's gen_ai.tool.message event (the tool's input, not a result),
and a tool call whose name was stored empty coming back from our own export."""

from __future__ import annotations

import json

import pytest
from otel_fixture import msgs, request, span, text

import store
from store.exporters import export_run
from store.importers import import_path

T = "b" * 32


def _root(events=()):
    return span(T, "r" * 16, "invoke_agent x", {"gen_ai.operation.name": "invoke_agent"},
                start=0, end=100, events=events)


def _chat(sid, start, attrs, events=()):
    return span(T, sid.ljust(16, "0"), "chat m", {"gen_ai.operation.name": "chat", **attrs},
                parent="r" * 16, start=start, end=start + 1, events=events)


@pytest.fixture(params=["0", "1"], ids=["one-process", "two-process"])
def worker(request, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", request.param)


def _import(tmp_path, spans):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(request(spans)) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    out = import_path(db, path)
    steps = db.conn.execute("SELECT role, content, tool_calls, tool_call_id FROM steps "
                            "ORDER BY idx").fetchall()
    return out, steps


def test_plain_text_prompt_and_completion(tmp_path, worker):
    _, steps = _import(tmp_path, [_root(), _chat("c1", 1, {
        "gen_ai.prompt": "What is my order's status?", "gen_ai.completion": "It shipped."})])
    assert [(r, c) for r, c, _, _ in steps] == [("user", "What is my order's status?"),
                                                ("assistant", "It shipped.")]


def test_one_message_object_stands_for_a_list_of_it(tmp_path, worker):
    _, steps = _import(tmp_path, [_root(), _chat("c1", 1, {
        "gen_ai.input.messages": json.dumps(text("user", "hi")),
        "gen_ai.output.messages": json.dumps(text("assistant", "hello"))})])
    assert [(r, c) for r, c, _, _ in steps] == [("user", "hi"), ("assistant", "hello")]


def test_a_choice_event_whose_message_is_the_content_alone(tmp_path, worker):
    blocks = json.dumps([{"text": "It is sunny."}])
    _, steps = _import(tmp_path, [_root(), _chat("c1", 1, {}, events=[
        (1, "gen_ai.user.message", {"content": "weather?"}),
        (1, "gen_ai.choice", {"message": "plain answer"})]),
        _chat("c2", 3, {}, events=[(3, "gen_ai.choice", {"message": blocks})])])
    assert [(r, c) for r, c, _, _ in steps] == [
        ("user", "weather?"), ("assistant", "plain answer"), ("assistant", "It is sunny.")]


def test_a_tool_spans_tool_message_event_is_not_a_result(tmp_path, worker):
    call = {"role": "assistant", "parts": [{"type": "tool_call", "id": "t1", "name": "weather",
                                            "arguments": {"city": "Paris"}}]}
    tool = span(T, "d" * 16, "execute_tool weather", {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather",
        "gen_ai.tool.call.id": "t1", "gen_ai.tool.call.result": "sunny"},
        parent="r" * 16, start=3, end=4,
        events=[(3, "gen_ai.tool.message", {"role": "tool", "id": "t1",
                                            "content": '{"city": "Paris"}'})])
    _, steps = _import(tmp_path, [_root(), _chat("c1", 1, {
        "gen_ai.input.messages": msgs(text("user", "weather?")),
        "gen_ai.output.messages": msgs(call)}), tool])
    assert [(r, c, i) for r, c, _, i in steps] == [
        ("user", "weather?", None), ("assistant", None, None), ("tool", "sunny", "t1")]


def test_an_empty_tool_name_comes_back_from_our_export(tmp_path):
    src = tmp_path / "empty-name.jsonl"
    src.write_text(json.dumps({"run": "e", "id": "s0", "task_id": "t", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "name": "", "arguments": {}}]},
        {"role": "tool", "id": "c1", "content": "r"},
        {"role": "assistant", "content": "ok"}]}) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    rid = import_path(db, src)["run_id"]
    export_run(db, rid, "otel", tmp_path / "o.jsonl")
    again = import_path(store.open_db(tmp_path / "b.sqlite"), tmp_path / "o.jsonl")
    assert again["messages"] == 4
    b = store.open_db(tmp_path / "b.sqlite")
    assert b.conn.execute("SELECT name FROM tool_calls").fetchall() == [("",)]


@pytest.mark.parametrize("prompt", ["[INST] What is my order's status? [/INST]",
                                    "{user} asks: where is it?"])
def test_plain_text_prompt_that_starts_like_json(tmp_path, worker, prompt):
    """Llama's chat template starts a prompt with [INST]: plain text in the older attribute,
    not malformed JSON (the whole file was refused)."""
    _, steps = _import(tmp_path, [_root(), _chat("c1", 1, {
        "gen_ai.prompt": prompt, "gen_ai.completion": "It shipped."})])
    assert [(r, c) for r, c, _, _ in steps] == [("user", prompt), ("assistant", "It shipped.")]
