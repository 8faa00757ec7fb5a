"""What the episode builder makes is checked as every importer's episodes are: its messages are
not walked again when they are its own (episodes.validate_sim, messages=False), so the one
value it keeps as the file gave it, a tool call's name, must still be refused where it is no
text, named with its message, wherever the call ends up (an output's message, the choice that
went on, an input's); and one left among the unchosen choices is no step's, as before."""

from __future__ import annotations

import json

import pytest
from otel_fixture import msgs, request, span, text

import store
from store.importers import ImportFailure, import_path

T = "a" * 32
ASK = text("user", "find order 7")


@pytest.fixture(params=["0", "1"], ids=["one-process", "two-process"])
def worker(request, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", request.param)


def _chat(sid, inp, out, start):
    return span(T, sid.ljust(16, "0"), "chat m", {
        "gen_ai.operation.name": "chat", "gen_ai.input.messages": msgs(*inp),
        "gen_ai.output.messages": msgs(*out)}, start=start, end=start + 1)


def _call(name, cid="c1"):
    return {"role": "assistant", "parts": [{"type": "tool_call", "id": cid, "name": name,
                                            "arguments": {"id": 7}}]}


def _import(tmp_path, spans):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request(spans)) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    return db, import_path(db, p)


_BAD = (r"t\.jsonl: episode #0 \(trace a{32}\), message #1: tool_calls\[0\]\.name should be a "
        r"string, found dict \{\"x\": 1\}$")


def test_an_output_call_named_by_no_text_is_refused(tmp_path, worker):
    with pytest.raises(ImportFailure, match=_BAD):
        _import(tmp_path, [_chat("c1", [ASK], [_call({"x": 1})], 1)])


def test_an_input_call_named_by_no_text_is_refused(tmp_path, worker):
    """(The input's message is emitted: no output of an earlier call made it.)"""
    with pytest.raises(ImportFailure, match=_BAD):
        _import(tmp_path, [_chat("c1", [ASK, _call({"x": 1})], [text("assistant", "ok")], 1)])


def test_the_choice_that_went_on_is_checked(tmp_path, worker):
    """A choice not first when the call returned becomes the step when the next input
    carries it: its call's name is then checked as the step's."""
    bad = _call({"x": 1})
    with pytest.raises(ImportFailure, match=_BAD):
        _import(tmp_path, [_chat("c1", [ASK], [text("assistant", "7"), bad], 1),
                           _chat("c2", [ASK, bad, text("user", "and?")],
                                 [text("assistant", "done")], 5)])


def test_an_unchosen_choice_is_no_step(tmp_path, worker):
    """Left among the unchosen choices, a call named by no text is kept there, as before."""
    db, res = _import(tmp_path, [
        _chat("c1", [ASK], [text("assistant", "7"), _call({"x": 1})], 1),
        _chat("c2", [ASK, text("assistant", "7"), text("user", "and?")],
              [text("assistant", "done")], 5)])
    assert res["episodes"] == 1
    extra, = db.conn.execute("SELECT extra_json FROM steps WHERE idx = 1").fetchone()
    assert json.loads(extra)["unchosen_choices"][0]["tool_calls"][0]["name"] == {"x": 1}
