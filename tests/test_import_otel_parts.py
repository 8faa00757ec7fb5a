"""Message content in parts is kept whole: OpenInference's multi-part content
(`message.contents.N.message_content.*`) gives its text and keeps its images; a GenAI tool
message answering several calls is one tool message per `tool_call_response` part; parts of
other types (reasoning, uri, blob, file...) are kept as the message's `content_parts`, as the
ATIF importer keeps them; `gen_ai.system_instructions` is the episode's system instructions.
In the one- and the two-process import alike."""

from __future__ import annotations

import json

import pytest
from otel_fixture import msgs, request, span, text

import store
from store.importers import import_path

T = "a" * 32


@pytest.fixture(params=["0", "1"], ids=["one-process", "two-process"])
def worker(request, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", request.param)


def _chat(sid, attrs, start=1):
    return span(T, sid.ljust(16, "0"), "chat m", {"gen_ai.operation.name": "chat", **attrs},
                start=start, end=start + 1)


def _import(tmp_path, spans):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request(spans)) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, p)
    rows = db.conn.execute("SELECT role, content, tool_call_id, extra_json FROM steps "
                           "ORDER BY idx").fetchall()
    ep = json.loads(db.conn.execute("SELECT extra_json FROM episodes").fetchone()[0] or "{}")
    return [r[:3] for r in rows], [json.loads(r[3]) if r[3] else {} for r in rows], ep


IMG = "https://example.com/cat.png"


def test_openinference_multi_part_content(tmp_path, worker):
    pre = "llm.input_messages.0.message."
    steps, extra, _ = _import(tmp_path, [_chat("c1", {
        "openinference.span.kind": "LLM", pre + "role": "user",
        pre + "contents.0.message_content.type": "text",
        pre + "contents.0.message_content.text": "What is in ",
        pre + "contents.1.message_content.type": "image",
        pre + "contents.1.message_content.image.image.url": IMG,
        pre + "contents.2.message_content.type": "text",
        pre + "contents.2.message_content.text": "this picture?",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "A cat."})])
    assert steps == [("user", "What is in this picture?", None), ("assistant", "A cat.", None)]
    assert extra[0]["content_parts"] == [{"type": "image", "image": {"image": {"url": IMG}}}]


def test_a_tool_message_answering_two_calls_is_two_results(tmp_path, worker):
    calls = {"role": "assistant", "parts": [
        {"type": "reasoning", "content": "call weather twice"},
        {"type": "tool_call", "id": "t1", "name": "weather", "arguments": {"city": "Paris"}},
        {"type": "tool_call", "id": "t2", "name": "weather", "arguments": {"city": "Rome"}}]}
    results = {"role": "tool", "parts": [
        {"type": "tool_call_response", "id": "t1", "response": "sunny"},
        {"type": "tool_call_response", "id": "t2", "response": "rainy"}]}
    user = {"role": "user", "parts": [{"type": "text", "content": "weather?"},
                                      {"type": "uri", "modality": "image", "uri": IMG}]}
    steps, extra, _ = _import(tmp_path, [
        _chat("c1", {"gen_ai.input.messages": msgs(user), "gen_ai.output.messages": msgs(calls)}),
        _chat("c2", {"gen_ai.input.messages": msgs(user, calls, results),
                     "gen_ai.output.messages": msgs(text("assistant", "sunny, rainy"))}, 5)])
    assert steps == [("user", "weather?", None), ("assistant", None, None),
                     ("tool", "sunny", "t1"), ("tool", "rainy", "t2"),
                     ("assistant", "sunny, rainy", None)]
    assert extra[0]["content_parts"] == [{"type": "uri", "modality": "image", "uri": IMG}]
    assert extra[1]["content_parts"] == [{"type": "reasoning", "content": "call weather twice"}]


def test_unknown_part_types_are_kept_not_dropped(tmp_path, worker):
    blob = {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBO"}
    steps, extra, _ = _import(tmp_path, [_chat("c1", {
        "gen_ai.input.messages": msgs({"role": "user", "parts": [blob, {"type": "file",
                                                                        "file_id": "f1"}]}),
        "gen_ai.output.messages": msgs(text("assistant", "ok"))})])
    assert steps[0] == ("user", None, None)
    assert extra[0]["content_parts"] == [blob, {"type": "file", "file_id": "f1"}]


def test_system_instructions_attribute_is_kept(tmp_path, worker):
    instr = [{"type": "text", "content": "You are a pirate. "},
             {"type": "text", "content": "Never refund."}]
    steps, _, ep = _import(tmp_path, [
        _chat("c1", {"gen_ai.system_instructions": json.dumps(instr),
                     "gen_ai.input.messages": msgs(text("user", "refund me")),
                     "gen_ai.output.messages": msgs(text("assistant", "Arr, no."))}),
        _chat("c2", {"gen_ai.system_instructions": json.dumps(instr),
                     "gen_ai.input.messages": msgs(text("user", "refund me"),
                                                   text("assistant", "Arr, no."),
                                                   text("user", "please")),
                     "gen_ai.output.messages": msgs(text("assistant", "No."))}, 5)])
    assert [s[1] for s in steps] == ["refund me", "Arr, no.", "please", "No."]
    # once, though every call carries it; as system messages in the input are
    assert ep["otel"]["system_instructions"] == ["You are a pirate. Never refund."]


def test_show_prints_the_kept_parts(tmp_path):
    from click.testing import CliRunner

    from t2e_tui.cli import cli

    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request([_chat("c1", {
        "openinference.span.kind": "LLM", "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.contents.0.message_content.type": "image",
        "llm.input_messages.0.message.contents.0.message_content.image.image.url": IMG})]))
        + "\n")
    st = str(tmp_path / "s.sqlite")
    assert CliRunner().invoke(cli, ["--store", st, "import", str(p)]).exit_code == 0
    res = CliRunner().invoke(cli, ["--store", st, "show", "1"])
    assert res.exit_code == 0, res.output
    assert f'content_parts: [{{"type": "image", "image": {{"image": {{"url": "{IMG}"}}}}}}]' \
        in res.output.replace("\n", "")  # (wrapped at the terminal's width)


def test_an_output_of_several_results_counts_as_one_input_item(tmp_path, worker):
    results = {"role": "tool", "parts": [
        {"type": "tool_call_response", "id": "t1", "response": "sunny"},
        {"type": "tool_call_response", "id": "t2", "response": "rainy"}]}
    u, nxt = text("user", "weather?"), text("user", "and tomorrow?")
    steps, _, _ = _import(tmp_path, [
        _chat("c1", {"gen_ai.input.messages": msgs(u), "gen_ai.output.messages": msgs(results)}),
        _chat("c2", {"gen_ai.input.messages": msgs(u, results, nxt),
                     "gen_ai.output.messages": msgs(text("assistant", "cloudy"))}, 5)])
    assert [s[1] for s in steps] == ["weather?", "sunny", "rainy", "and tomorrow?", "cloudy"]


def test_system_instructions_as_plain_text_or_on_the_agent_span(tmp_path, worker):
    root = span(T, "r" * 16, "invoke_agent x", {"gen_ai.operation.name": "invoke_agent",
                                                 "gen_ai.system_instructions": "Be brief."},
                start=0, end=50)
    chat = _chat("c1", {"gen_ai.system_instructions": json.dumps(
        [{"type": "text", "content": "Be brief."}, {"type": "uri", "uri": IMG}]),
        "gen_ai.input.messages": msgs(text("user", "hi")),
        "gen_ai.output.messages": msgs(text("assistant", "Hi."))})
    _, _, ep = _import(tmp_path, [root, chat])
    assert ep["otel"]["system_instructions"] == ["Be brief."]
    assert ep["otel"]["system_instructions_parts"] == [{"type": "uri", "uri": IMG}]
    assert "gen_ai.system_instructions" not in ep["otel"]["attributes"]


def test_system_instructions_that_are_no_parts_are_refused(tmp_path, worker):
    from store.importers import ImportFailure

    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request([_chat("c1", {
        "gen_ai.system_instructions": "[1, 2]",
        "gen_ai.input.messages": msgs(text("user", "hi"))})])) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    assert str(exc.value).endswith("span c100000000000000 ('chat m'): "
                                   "gen_ai.system_instructions: parts[0] should be an object, "
                                   "found a number")
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
