"""The OpenTelemetry import keeps a chat span's repeated history once: each chat call's input is
the conversation so far, so the spill holds only what an input adds to the previous one kept
for its trace (otel_spill._history_ref) and the episode builder puts whole inputs back together
only when it needs them (otel_inputs.Inputs). The stored rows are the same as when every
input is kept whole, whatever the order of the spans in the file."""

from __future__ import annotations

import json
import marshal

import pytest
from otel_fixture import msgs, new_convention_file, request, span, text
from test_import_otel_fast import _TABLES

import store
from store.importers import ImportFailure, import_path, otel_lines, otel_spill

INPUT = "gen_ai.input.messages"

TR, TR2 = "1" * 32, "2" * 32


def _turns(n: int) -> list[dict]:
    out = []
    for i in range(n):
        out.append(text("user", f"question {i}: where is order #W{i}?"))
        out.append({"role": "assistant", "parts": [
            {"type": "tool_call", "id": f"call_{i}", "name": "get_order_details",
             "arguments": {"order_id": f"#W{i}"}}]})
        out.append({"role": "tool", "parts": [{"type": "tool_call_response", "id": f"call_{i}",
                                               "response": f"order {i} shipped"}]})
    return out


def _chats(trace: str, n: int, *, conv: str | None = None, t0: int = 0) -> list[dict]:
    """An agent span and n chat spans, each input the conversation so far (as instrumentations
    write it), outputs the next assistant turn."""
    turns = _turns(n)
    extra = {"gen_ai.conversation.id": conv} if conv else {}
    spans = [span(trace, f"{trace[:4]}r", "invoke_agent bot",
                  {"gen_ai.operation.name": "invoke_agent", **extra}, start=t0, end=t0 + 99)]
    for i in range(n):
        spans.append(span(trace, f"{trace[:4]}c{i}", "chat m", {
            "gen_ai.operation.name": "chat", **extra,
            "gen_ai.input.messages": msgs(*turns[:3 * i + 1]),
            "gen_ai.output.messages": msgs(text("assistant", f"answer {i}")),
            "gen_ai.usage.input_tokens": 10 + i}, parent=f"{trace[:4]}r",
            start=t0 + 1 + 2 * i, end=t0 + 2 + 2 * i))
    return spans


def _records(tmp_path, *reqs: dict) -> list[list]:
    path = str(tmp_path / f"spill{len(list(tmp_path.glob('spill*.sqlite')))}.sqlite")
    sp = otel_spill.Spiller(otel_spill.open_spill(path), path)
    for req in reqs:
        sp.add("", req)
    sp.close()
    rows = sp.db.execute("SELECT off, len FROM s ORDER BY seq").fetchall()
    data = open(path + ".recs", "rb").read()
    return [marshal.loads(data[o:o + n]) for o, n in rows]


def test_the_spill_keeps_each_input_history_once(tmp_path):
    spans = _chats(TR, 4)
    # another trace with the very same first input: a history is never taken across traces
    other = _chats(TR2, 1)
    recs = _records(tmp_path, request(spans + other))
    chats = [r for r in recs if r[9] == TR and r[10] == "chat"]
    whole = [s["attributes"][1]["value"]["stringValue"]
             for s in spans[1:]]  # the inputs as written
    assert chats[0][12] is None and chats[0][1][INPUT] == whole[0]
    for prev, rec, old, new in zip(chats, chats[1:], whole, whole[1:]):
        assert rec[12] == prev[11]  # the span whose input this one extends
        assert rec[1][INPUT] == new[len(old):]  # only the added turns
        assert len(rec[1][INPUT]) < len(new) - len(old) + 1
    other_chat = next(r for r in recs if r[9] == TR2 and r[10] == "chat")
    assert other_chat[12] is None and other_chat[1][INPUT] == whole[0]


def test_a_conversation_exported_in_several_batches_is_kept_once_too(tmp_path, monkeypatch):
    """Exporters send spans in batches (a line each): a later batch's input is shortened by the
    last one kept for its trace; past the bound, the oldest traces' inputs are forgotten and a
    later input of theirs is spilled whole."""
    spans = _chats(TR, 3)
    recs = _records(tmp_path, *[request([s]) for s in spans])
    chats = [r for r in recs if r[10] == "chat"]
    assert chats[0][12] is None and [r[12] for r in chats[1:]] == [r[11] for r in chats[:-1]]
    first = spans[1]["attributes"][1]["value"]["stringValue"]
    monkeypatch.setattr(otel_spill, "KEEP_INPUT_CHARS", len(first) * 3 // 2)
    a, b = _chats(TR, 2), _chats(TR2, 2)
    recs = _records(tmp_path, request(a[:2]), request(b[:2]), request(b[2:] + a[2:]))
    later = {r[9]: r for r in recs if r[10] == "chat" and r[12] is not None}
    assert list(later) == [TR2]  # TR's input was forgotten when TR2's came: spilled whole


def _file(path, lines: list[dict]):
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def _shapes(tmp_path):
    """Files where the history is kept once, in the file order instrumentations write and in
    orders where the previous span read is not the one an input extends."""
    a = _chats(TR, 5, conv="conv-a")
    b = _chats(TR2, 3, conv="conv-a", t0=500)  # the same conversation, a second trace
    c = _chats("3" * 32, 4)
    odd = _chats("4" * 32, 3)
    return {
        "in_order": _file(tmp_path / "in_order.jsonl", [request(a + b), request(c + odd)]),
        # later calls first in the file (times unchanged): the builder rebuilds whole inputs
        "reversed": _file(tmp_path / "reversed.jsonl",
                          [request(a[:1] + a[:0:-1] + b[::-1]), request(c[::-1] + odd)]),
        "shuffled": _file(tmp_path / "shuffled.jsonl",
                          [request([a[0], a[3], a[1], a[5], a[4], a[2]] + b),
                           request([c[1], c[3], c[0], c[2], c[4]] + odd[::-1])]),
        "one_span_a_line": _file(tmp_path / "one.jsonl", [request([s]) for s in a + b + c]),
        "new_convention": new_convention_file(tmp_path / "new.jsonl"),
    }


def _malformed(tmp_path, which):
    """Inputs that are no message list (refused, naming the span: they were taken for
    "content capture off"): plain text, and inputs that extend a list but are not JSON."""
    c = _chats("3" * 32, 4)
    if which == "plain":
        c[2]["attributes"][1]["value"]["stringValue"] = "plain text prompt"
        return _file(tmp_path / "plain.jsonl", [request(c)]), "span 3333c1 ('chat m'): " \
            "gen_ai.input.messages is not JSON (Expecting value: line 1 column 1 (char 0))"
    first = c[1]["attributes"][1]["value"]["stringValue"]
    c[2]["attributes"][1]["value"]["stringValue"] = first[:-1] + ', {"role": "user"]'
    c[3]["attributes"][1]["value"]["stringValue"] = first[:-1] + ', {"role": "user"],' \
        ' {"role": "user", "content": "x"}]'
    return _file(tmp_path / "extends.jsonl", [request(c)]), "span 3333c1 ('chat m'): " \
        "gen_ai.input.messages is not JSON (Expecting ',' delimiter: line 1 column 110 (char 109))"


def _rows(tmp_path, monkeypatch, path, label, *, whole: bool, worker: str = "0",
          keep: int | None = None):
    with monkeypatch.context() as m:
        m.setenv("T2E_IMPORT_WORKER", worker)
        m.setattr(otel_lines, "SPILL_BLOCK", 512)
        if keep is not None:  # a small bound: inputs forgotten on the way
            m.setattr(otel_spill, "KEEP_INPUT_CHARS", keep)
        if whole:  # every input kept whole: what the spill did before
            m.setattr(otel_spill, "_history_ref", lambda a, text_, prev: None)
        db = store.open_db(tmp_path / f"{label}-{whole}-{worker}.sqlite")
        import_path(db, path)
        return {t: db.conn.execute(q).fetchall() for t, q in _TABLES.items()}


@pytest.mark.parametrize("shape", ["in_order", "reversed", "shuffled", "one_span_a_line",
                                   "new_convention"])
def test_inputs_kept_once_store_the_rows_of_whole_inputs(tmp_path, monkeypatch, shape):
    path = _shapes(tmp_path)[shape]
    want = _rows(tmp_path, monkeypatch, path, shape, whole=True)
    assert _rows(tmp_path, monkeypatch, path, shape, whole=False) == want
    assert _rows(tmp_path, monkeypatch, path, shape, whole=False, worker="1") == want
    assert _rows(tmp_path, monkeypatch, path, shape, whole=False, keep=600) == want
    assert want["steps"]  # the fixture has messages


@pytest.mark.parametrize("which", ["plain", "extends"])
def test_a_malformed_input_is_refused_alike_whole_or_kept_once(tmp_path, monkeypatch, which):
    path, message = _malformed(tmp_path, which)
    for kw in ({"whole": True}, {"whole": False}, {"whole": False, "worker": "1"},
               {"whole": False, "keep": 600}):
        with pytest.raises(ImportFailure) as exc:
            _rows(tmp_path, monkeypatch, path, f"{which}{len(kw)}{kw.get('worker')}", **kw)
        assert str(exc.value).endswith(message), kw


def test_reordered_spans_read_the_same_conversation(tmp_path, monkeypatch):
    """The shapes hold one set of conversations: whatever their order in the file, the same
    steps come out (file order only decides which span's input the spill shortens)."""
    shapes = _shapes(tmp_path)
    base = _rows(tmp_path, monkeypatch, shapes["in_order"], "base", whole=False)
    for shape in ("reversed", "shuffled"):
        got = _rows(tmp_path, monkeypatch, shapes[shape], shape, whole=False)
        assert got["steps"] == base["steps"]
        assert got["tool_calls"] == base["tool_calls"]
