"""GenAI content that is present but not what the conventions say: refused naming the episode,
the span, the attribute and what is wrong (it was taken for "content capture off", or stored
as something else, with exit 0), or kept as text where the text is exact (a number the store
cannot hold). In the one- and the two-process import alike; nothing is written on refusal."""

from __future__ import annotations

import json

import pytest
from otel_fixture import assert_store_empty, msgs, span, stored_steps, text, write_spans

import store
from store.importers import ImportFailure, import_path

T = "a" * 32
EP = f"episode #0 (trace {T}), span c100000000000000 ('chat m')"


def _chat(sid, inp=None, out=None, start=1, error=False, **extra):
    a = {"gen_ai.operation.name": "chat"}
    if inp is not None:
        a["gen_ai.input.messages"] = inp
    if out is not None:
        a["gen_ai.output.messages"] = out
    a.update(extra)
    return span(T, sid.ljust(16, "0"), "chat m", a, parent="r" * 16, start=start,
                end=start + 1, error=error)


def _root():
    return span(T, "r" * 16, "invoke_agent x", {"gen_ai.operation.name": "invoke_agent"},
                start=0, end=100)




@pytest.fixture(params=["0", "1"], ids=["one-process", "two-process"])
def worker(request, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", request.param)
    return request.param


CALL = {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1",
                                        "name": "get_order", "arguments": {"id": "W1"}}]}

BAD = [
    # (input, output, what the error says after the span)
    ("[{not json", msgs(text("assistant", "yo")),
     "gen_ai.input.messages is not JSON (Expecting property name enclosed in double quotes: "
     "line 1 column 3 (char 2))"),
    ('[{"role": 5, "parts": "x"}]', msgs(text("assistant", "yo")),
     "gen_ai.input.messages[0]: role should be text, found a number"),
    ('[{"role": "user", "parts": "x"}]', msgs(text("assistant", "yo")),
     "gen_ai.input.messages[0]: parts should be a list, found a string"),
    ('[{"role": "user", "parts": [7]}]', msgs(text("assistant", "yo")),
     "gen_ai.input.messages[0]: parts[0] should be an object, found a number"),
    ('"just text"', msgs(text("assistant", "yo")),
     "gen_ai.input.messages should be a list of messages, found a string"),
    (msgs(text("user", "hi")), '"done"',
     "gen_ai.output.messages should be a list of messages, found a string"),
    (msgs(text("user", "hi")), "[3]",
     "gen_ai.output.messages[0]: a message should be an object, found a number"),
    (msgs(text("user", "hi")), json.dumps([{"role": "assistant", "parts": [
        {"type": "tool_call", "id": "c", "arguments": {}}]}]),
     "gen_ai.output.messages[0]: parts[0]: a tool_call without a name"),
    # a lone surrogate (text cut inside a UTF-16 pair): no UTF-8 text holds it
    (msgs(text("user", "q")), '[{"role": "assistant", "parts": [{"type": "text", '
                              '"content": "cut at max tokens \\ud83d"}]}]',
     "gen_ai.output.messages: field [0].parts[0].content: a lone surrogate (\\ud800-\\udfff) "
     "in the text"),
]


@pytest.mark.parametrize("inp, out, message", BAD)
def test_a_malformed_message_list_is_refused_naming_span_and_attribute(
        tmp_path, worker, inp, out, message):
    db = store.open_db(tmp_path / "s.sqlite")
    p = write_spans(tmp_path / "t.jsonl", [_root(), _chat("c1", inp, out)])
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    assert str(exc.value) == f"{p}: {EP}: {message}"
    assert_store_empty(db)


def test_a_malformed_later_input_is_named_at_its_index(tmp_path, worker):
    """The second call's input repeats the first (spilled as the part it adds): the bad
    message is named at its place in the whole input."""
    u, a = text("user", "hi"), text("assistant", "yo")
    good = msgs(u)
    bad = good[:-1] + ', ' + json.dumps(a) + ', {"role": ["user"]}]'
    db = store.open_db(tmp_path / "s.sqlite")
    p = write_spans(tmp_path / "t.jsonl", [_root(), _chat("c1", good, msgs(a)),
                                      _chat("c2", bad, msgs(a), start=3)])
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    assert str(exc.value).endswith("span c200000000000000 ('chat m'): "
                                   "gen_ai.input.messages[2]: role should be text, found a list")
    assert_store_empty(db)


def test_a_number_the_store_cannot_hold_is_kept_as_its_text(tmp_path, worker):
    """One out-of-range number in a tool call's arguments made the whole message list
    unreadable: every turn was dropped under "content capture off". The number is kept as
    its JSON text, and every turn is stored."""
    big = {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1",
                                           "name": "get_account",
                                           "arguments": {"account_id": 7, "nonce": 1}}]}
    raw = json.dumps([big]).replace('"nonce": 1', '"nonce": 9999999999999999999')
    res = {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1",
                                      "response": "ok"}]}
    u1, a2 = text("user", "check account 7"), text("assistant", "Account 7 is fine.")
    inp2 = "[" + json.dumps(u1) + ", " + raw[1:-1] + ", " + json.dumps(res) + "]"
    db = store.open_db(tmp_path / "s.sqlite")
    p = write_spans(tmp_path / "t.jsonl", [
        _root(), _chat("c1", msgs(u1), raw),
        span(T, "t1".ljust(16, "0"), "execute_tool get_account",
             {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_account",
              "gen_ai.tool.call.id": "call_1", "gen_ai.tool.call.result": "ok",
              "gen_ai.tool.call.arguments": '{"account_id": 7, "nonce": 9999999999999999999}'},
             parent="r" * 16, start=3, end=4),
        _chat("c2", inp2, msgs(a2), start=5)])
    entry = import_path(db, p)
    assert not any("not captured" in w for w in entry["warnings"])
    rows = stored_steps(db)
    assert [r[0] for r in rows] == ["user", "assistant", "tool", "assistant"]
    assert json.loads(rows[1][2])[0]["arguments"] == {"account_id": 7,
                                                      "nonce": "9999999999999999999"}
    assert rows[3][1] == "Account 7 is fine."


def test_absent_content_is_still_content_capture_off(tmp_path, worker):
    db = store.open_db(tmp_path / "s.sqlite")
    p = write_spans(tmp_path / "t.jsonl", [_root(), _chat("c1", None, None)])
    entry = import_path(db, p)
    assert any("not captured" in w for w in entry["warnings"])
    assert [r[:2] for r in stored_steps(db)] == [("user", "(content not captured)"),
                                           ("assistant", "(content not captured)")]


@pytest.mark.parametrize("key", ["gen_ai.tool.name", "tool.name"])
def test_a_tool_name_that_is_not_text_is_refused_where_no_message_shows_it(
        tmp_path, worker, key):
    """The tool span answers a call the chat output made (its name is not stored from the
    span): a number as the span's tool name was let through."""
    db = store.open_db(tmp_path / "s.sqlite")
    p = write_spans(tmp_path / "t.jsonl", [
        _root(), _chat("c1", msgs(text("user", "hi")), msgs(CALL)),
        span(T, "t1".ljust(16, "0"), "execute_tool get_order",
             {"gen_ai.operation.name": "execute_tool", key: 7, "gen_ai.tool.call.id": "call_1",
              "gen_ai.tool.call.arguments": '{"id": "W1"}', "gen_ai.tool.call.result": "ok"},
             parent="r" * 16, start=3, end=4)])
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    assert str(exc.value) == (f"{p}: episode #0 (trace {T}), span t100000000000000 "
                              f"('execute_tool get_order'): {key} should be a string, found "
                              "int 7")
    assert_store_empty(db)


def _tool_turns(tmp_path, *, span_id: bool, ids: bool):
    """A call, its tool span (with or without gen_ai.tool.call.id), and the next input
    repeating the call and its result (with ids, or none anywhere)."""
    u = text("user", "where is my order?")
    call = {"type": "tool_call", "name": "get_order", "arguments": {"order_id": "W1"}}
    res = {"type": "tool_call_response", "response": "shipped"}
    if ids:
        call["id"] = res["id"] = "call_1"
    a, t = {"role": "assistant", "parts": [call]}, {"role": "tool", "parts": [res]}
    tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_order",
            "gen_ai.tool.call.arguments": '{"order_id": "W1"}',
            "gen_ai.tool.call.result": "shipped"}
    if span_id:
        tool["gen_ai.tool.call.id"] = "call_1"
    return write_spans(tmp_path / "t.jsonl", [
        _root(), _chat("c1", msgs(u), msgs(a)),
        span(T, "t1".ljust(16, "0"), "execute_tool get_order", tool, parent="r" * 16,
             start=3, end=4),
        _chat("c2", msgs(u, a, t), msgs(text("assistant", "It shipped.")), start=5)])


@pytest.mark.parametrize("span_id, ids", [(True, True), (False, True), (False, False)],
                         ids=["span id", "no span id", "no ids at all"])
def test_a_tool_span_without_a_call_id_stores_its_result_once(tmp_path, worker, span_id, ids):
    """The conventions only recommend gen_ai.tool.call.id: without it the result was stored
    twice (tool id '' from the span, then tool call_1 from the next input)."""
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, _tool_turns(tmp_path, span_id=span_id, ids=ids))
    rows = stored_steps(db)
    assert [(r[0], r[1]) for r in rows] == [
        ("user", "where is my order?"), ("assistant", None), ("tool", "shipped"),
        ("assistant", "It shipped.")]
    assert rows[2][3] == ("call_1" if ids else "")
    assert db.conn.execute("SELECT count(*) FROM tool_calls").fetchone() == (1,)


def test_a_structured_tool_result_keeps_its_text_as_written(tmp_path, worker):
    """A tool_call_response whose response is an object was stored as ASCII JSON
    (M\\u00fcnchen), which search for the word missed."""
    from store.search import search

    u = text("user", "weather?")
    a = {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "weather",
                                         "arguments": {}}]}
    t = {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1",
                                    "response": {"city": "München"}}]}
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, write_spans(tmp_path / "t.jsonl", [
        _root(), _chat("c1", msgs(u), msgs(a)),
        _chat("c2", msgs(u, a, t), msgs(text("assistant", "Sunny.")), start=3)]))
    assert stored_steps(db)[2][1] == '{"city": "München"}'
    assert len(search(db.conn, "München")) == 1


def test_token_totals_beyond_64_bits_are_left_out_not_a_crash(tmp_path, worker):
    big = 5 * 10**18
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, write_spans(tmp_path / "t.jsonl", [
        _root(),
        _chat("c1", msgs(text("user", "hi")), msgs(text("assistant", "a")),
              **{"gen_ai.usage.input_tokens": big, "gen_ai.usage.output_tokens": 1}),
        _chat("c2", msgs(text("user", "hi")), msgs(text("assistant", "b")), start=3,
              **{"gen_ai.usage.input_tokens": big, "gen_ai.usage.output_tokens": 2})]))
    assert db.conn.execute("SELECT tokens_in, tokens_out FROM episodes").fetchone() == (None, 3)
    said = [w for w in entry["warnings"] if "1 episode(s) have token totals beyond" in w]
    assert len(said) == 1 and said[0].endswith(f": {T}")  # once (it was said twice)


def test_a_failed_chat_call_is_said_to_have_failed(tmp_path, worker):
    """A chat span with an error status and no output (a failed LLM call, retried) was an
    assistant "(content not captured)" under the "content capture off" warning."""
    u1, a1, u2, a2 = (text("user", "u1"), text("assistant", "a1"), text("user", "u2"),
                      text("assistant", "a2"))
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, write_spans(tmp_path / "t.jsonl", [
        _root(), _chat("c1", msgs(u1), msgs(a1)),
        _chat("c2", msgs(u1, a1, u2), None, start=3, error=True,
              **{"error.type": "RateLimitError"}),
        _chat("c3", msgs(u1, a1, u2), msgs(a2), start=5)]))
    assert [r[:2] for r in stored_steps(db)] == [
        ("user", "u1"), ("assistant", "a1"), ("user", "u2"),
        ("assistant", "(model call failed: RateLimitError)"), ("assistant", "a2")]
    assert not any("not captured" in w for w in entry["warnings"])
    assert any(w.startswith("1 episode(s) have chat calls that failed without an answer")
               for w in entry["warnings"])
