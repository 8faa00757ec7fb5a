"""OTLP/JSON fields of the wrong type: each file is refused naming the line, the span's place
and the field (they were refused as "cannot be imported (AttributeError: 'str' object has no
attribute 'get')", or through the worker as "the import worker failed"), in both the one- and
the two-process import, and nothing is written. Shapes no reader needs are let through."""

from __future__ import annotations

import json
import re

import pytest
from otel_fixture import msgs, request, span, text

import store
from store.importers import ImportFailure, import_path

SPAN = "line 2, resourceSpans[0].scopeSpans[0].spans[1]"


def _file(path, mutate):
    """Two lines: a good chat span, then one whose second span `mutate` spoils."""
    def line(tr):
        req = request([
            span(tr, "r1", "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent"}),
            span(tr, "c1", "chat m", {"gen_ai.operation.name": "chat",
                                      "gen_ai.input.messages": msgs(text("user", "hi")),
                                      "gen_ai.output.messages": msgs(text("assistant", "yo"))},
                 parent="r1", start=1, end=2)])
        return req
    good, bad = line("a" * 32), line("b" * 32)
    mutate(bad)
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    return path


def _span(req):
    return req["resourceSpans"][0]["scopeSpans"][0]["spans"][1]


def _attr(req, key, value):
    _span(req)["attributes"].append({"key": key, "value": value})


CASES = [
    (lambda r: _span(r).update(status="ERROR"), f"{SPAN}: status should be an object, "
                                                "found a string"),
    (lambda r: _span(r).update(status=[2]), f"{SPAN}: status should be an object, found a list"),
    (lambda r: _span(r).update(events=5), f"{SPAN}: events should be a list, found a number"),
    (lambda r: _span(r).update(events={"a": 1}), f"{SPAN}: events should be a list, found an "
                                                 "object"),
    (lambda r: _span(r).update(events=[{"name": "e", "attributes": "x"}]),
     f"{SPAN}: events[0].attributes should be a list, found a string"),
    (lambda r: _span(r).update(attributes=7), f"{SPAN}: attributes should be a list, found a "
                                              "number"),
    (lambda r: _attr(r, "x", {"arrayValue": "nope"}),
     f"{SPAN}: attribute 'x': arrayValue should be an object with a 'values' list"),
    (lambda r: _attr(r, "x", {"kvlistValue": {"values": 3}}),
     f"{SPAN}: attribute 'x': kvlistValue should be an object with a 'values' list"),
    # an attribute that is no key/value object, or whose value is no AnyValue: it was
    # dropped without a word (the span then read as another kind, or its field as absent)
    (lambda r: _span(r)["attributes"].append(7),
     f"{SPAN}: attribute #3 should be an object with a key and a value, found a number"),
    (lambda r: _span(r)["attributes"].append({"key": 5, "value": {"stringValue": "x"}}),
     f"{SPAN}: attribute #3: key should be a string, found a number"),
    (lambda r: _span(r)["attributes"].__setitem__(0, {"key": "gen_ai.operation.name",
                                                       "value": "chat"}),
     f"{SPAN}: attribute 'gen_ai.operation.name': value should be an AnyValue object "
     '({"stringValue": ...}), found a string'),
    (lambda r: _attr(r, "x", {"arrayValue": {"values": ["a"]}}),
     f"{SPAN}: attribute 'x': value should be an AnyValue object "
     '({"stringValue": ...}), found a string'),
    (lambda r: _attr(r, "n", {"intValue": "abc"}),
     f'{SPAN}: attribute \'n\': intValue should be an integer, found a string "abc"'),
    (lambda r: _attr(r, "n", {"intValue": 7.5}),
     f"{SPAN}: attribute 'n': intValue should be an integer, found a number 7.5"),
    (lambda r: r["resourceSpans"][0].update(resource="x"),
     "line 2, resourceSpans[0].resource should be an object, found a string"),
    (lambda r: r["resourceSpans"][0].update(resource={"attributes": [
        {"key": "service.name", "value": {"intValue": "5"}}]}),
     "line 2, resourceSpans[0].resource: service.name should be a string, found int"),
    (lambda r: r["resourceSpans"][0].update(resource={"attributes": {"a": 1}}),
     "line 2, resourceSpans[0].resource: attributes should be a list"),
    (lambda r: r.update(resourceSpans={"a": 1}),
     "line 2: resourceSpans should be a list, found an object"),
]


@pytest.mark.parametrize("worker", ["0", "1"])
@pytest.mark.parametrize("mutate, message", CASES)
def test_a_field_of_the_wrong_type_is_named(tmp_path, monkeypatch, worker, mutate, message):
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    db = store.open_db(tmp_path / "s.sqlite")
    p = _file(tmp_path / "t.jsonl", mutate)
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    assert str(exc.value) == f"{p}: {message}"
    for table in ("runs", "sources", "episodes", "steps"):
        assert db.conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


@pytest.mark.parametrize("mutate", [
    lambda r: _attr(r, "gen_ai.operation.name", {"arrayValue": {"values": []}}),
    lambda r: _attr(r, "gen_ai.prompt.99999999999999999999.content", {"stringValue": "x"}),
    lambda r: _attr(r, "gen_ai.prompt.0.tool_calls.x.name", {"stringValue": "f"}),
    lambda r: (_attr(r, "gen_ai.prompt.0.tool_calls", {"stringValue": "f"}),
               _attr(r, "gen_ai.prompt.0.tool_calls.0.name", {"stringValue": "g"})),
])
def test_shapes_no_reader_needs_are_let_through(tmp_path, mutate):
    """A non-string operation name names no operation; numbered keys that cannot be message
    or call indexes carry no message or call. (A message's tool_calls that is no list is
    malformed content, refused: test_import_otel_fidelity.)"""
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, _file(tmp_path / "t.jsonl", mutate))
    assert entry["episodes"] == 2


def test_an_episode_that_cannot_be_built_is_named(tmp_path, monkeypatch):
    """Whatever the episode builder did not foresee is the episode's error, named (it was
    "cannot be imported (TypeError: ...)"), without blaming the file for it."""
    from store.importers import otel_groups

    def broken(key, conv, spans, models=None):
        raise TypeError("'int' object is not iterable")

    monkeypatch.setenv("T2E_IMPORT_WORKER", "0")
    monkeypatch.setattr(otel_groups, "build_episode", broken)
    db = store.open_db(tmp_path / "s.sqlite")
    p = _file(tmp_path / "t.jsonl", lambda r: None)
    with pytest.raises(ImportFailure, match=r"t\.jsonl: episode #0 \(trace a{32}\): cannot be "
                                            r"built \(TypeError: 'int' object is not "
                                            r"iterable\)$"):
        import_path(db, p)


@pytest.mark.parametrize("worker", ["0", "1"])
def test_json_lines_with_byte_order_marks_are_read(tmp_path, monkeypatch, worker):
    """A BOM before the first line (an editor's), or before a line in the middle (files with
    one each, joined by cat): read as the JSON it prefixes (it was "line 1: not JSON")."""
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    one = _file(tmp_path / "one.jsonl", lambda r: None).read_bytes()
    first, second = one.splitlines(keepends=True)
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + first + b"\xef\xbb\xbf" + second)
    db = store.open_db(tmp_path / "s.sqlite")
    assert import_path(db, p)["episodes"] == 2


def test_a_file_name_that_is_not_utf8_is_imported_and_shown_escaped(tmp_path):
    """A name in another system's encoding: imported, its bytes shown as \\xNN (SQLite refused
    the name at the end: "cannot be imported (UnicodeEncodeError ...)")."""
    import os

    from store.importers import import_paths
    src = _file(tmp_path / "one.jsonl", lambda r: None)
    odd = os.path.join(os.fsencode(tmp_path), b"ok\xff.jsonl")
    os.rename(src, odd)
    db = store.open_db(tmp_path / "s.sqlite")
    res = import_paths(db, [os.fsdecode(odd)])
    assert not res["rejected"], res
    entry = res["imported"][0]
    assert entry["path"].endswith("ok\\xff.jsonl") and entry["episodes"] == 2
    assert db.conn.execute("SELECT name FROM runs").fetchone() == ("ok\\xff",)
    assert import_paths(db, [os.fsdecode(odd)])["imported"][0]["duplicate"]


def _steps(db, run_id):
    return db.conn.execute("SELECT s.role, s.content, s.tool_calls FROM steps s JOIN episodes e "
                           "USING (episode_id) WHERE e.run_id = ? ORDER BY e.ord, s.idx",
                           (run_id,)).fetchall()


def _chat(tr, sid, inp, out, at, sep=(",", ":")):
    return span(tr, sid, "chat m", {
        "gen_ai.operation.name": "chat",
        "gen_ai.input.messages": json.dumps(inp, separators=sep),
        "gen_ai.output.messages": json.dumps(out, separators=(",", ":"))},
        parent="r", start=at, end=at + 1)


U, A1, A2, A3 = (text("user", "hi"), text("assistant", "a1"), text("assistant", "a2"),
                 text("assistant", "a3"))


@pytest.mark.parametrize("worker", ["0", "1"])
def test_a_batch_written_twice_is_imported_once(tmp_path, monkeypatch, worker):
    """A collector's retry writes a batch twice: its spans are read once, with a warning (the
    episode had every message twice), also when a later batch's input goes on from the
    copy's (traces spread over lines)."""
    from store.importers import otel_lines
    monkeypatch.setattr(otel_lines, "SPILL_BLOCK", 256)  # both processes take lines
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    tr = "c" * 32
    first = request([span(tr, "r", "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent"},
                          end=50), _chat(tr, "c1", [U], [A1], 1)])
    second = request([_chat(tr, "c2", [U, A1, text("user", "more")], [A2], 5)])
    db = store.open_db(tmp_path / "s.sqlite")
    runs = []
    for name, lines in (("once", [first, second]), ("retried", [first, first, second])):
        p = tmp_path / f"{name}.jsonl"
        p.write_text("".join(json.dumps(x) + "\n" for x in lines))
        runs.append(import_path(db, p))
    once, retried = runs
    assert _steps(db, retried["run_id"]) == _steps(db, once["run_id"])
    assert [r for r, *_ in _steps(db, once["run_id"])] == ["user", "assistant", "user",
                                                           "assistant"]
    assert any("2 span(s) repeated a trace and span id" in w for w in retried["warnings"])
    assert not any("repeated" in w for w in once["warnings"])


def test_the_same_conversation_gives_the_same_steps_however_it_is_serialised(tmp_path):
    """The second call's input goes on from the first's by value, written with spaces after
    the separators: the same steps as when it is written compactly (byte for byte the first
    input, then more). The spaced one emitted the whole history again."""
    tr = "d" * 32
    db = store.open_db(tmp_path / "s.sqlite")
    got = []
    for sep in ((",", ":"), (", ", ": ")):
        p = tmp_path / f"t{len(got)}.jsonl"
        p.write_text(json.dumps(request([
            span(tr, "r", "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent"},
                 end=50),
            _chat(tr, "c1", [U], [A1, A2], 1), _chat(tr, "c2", [U, A1], [A3], 5, sep)])) + "\n")
        got.append(_steps(db, import_path(db, p)["run_id"]))
    assert got[0] == got[1]
    # (a2: the first call's other choice, kept on a1's step: test_import_otel_choices)
    assert [c for _, c, _ in got[0]] == ["hi", "a1", "a3"]


def _conversation(tmp_path, name, spans):
    tr = "e" * 32
    p = tmp_path / f"{name}.jsonl"
    p.write_text(json.dumps(request([
        span(tr, "r", "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent"}, end=50),
        *spans(tr)])) + "\n")
    db = store.open_db(tmp_path / f"{name}.sqlite")
    entry = import_path(db, p)
    return [c for _, c, _ in _steps(db, entry["run_id"])], entry["warnings"]


@pytest.mark.parametrize("sid", ["", "0000000000000000"])
def test_spans_without_an_id_are_not_taken_for_copies(tmp_path, sid):
    """No id at all ("" or zeros): each span is its own (they collapsed into one)."""
    got, warnings = _conversation(tmp_path, "noid", lambda tr: [
        _chat(tr, sid, [U], [A1], 1), _chat(tr, sid, [U, A1, text("user", "u2")], [A2], 5)])
    assert got == ["hi", "a1", "u2", "a2"]
    assert not any("repeated" in w for w in warnings)


def test_a_span_id_reused_with_other_content_is_kept(tmp_path):
    got, warnings = _conversation(tmp_path, "reused", lambda tr: [
        _chat(tr, "c1", [U], [A1], 1), _chat(tr, "c1", [U, A1, text("user", "u2")], [A2], 5)])
    assert got == ["hi", "a1", "u2", "a2"]
    assert not any("repeated" in w for w in warnings)


def test_the_same_input_again_is_a_second_sample_not_a_continuation(tmp_path):
    """The same input twice (a retry or a second sample) keeps its own turn, as before; so
    does a shorter input after an empty first one."""
    got, _ = _conversation(tmp_path, "twice", lambda tr: [
        _chat(tr, "c1", [U], [A1], 1), _chat(tr, "c2", [U], [A2], 5)])
    assert got == ["hi", "a1", "hi", "a2"]
    q2, q3 = text("user", "q2"), text("user", "q3")
    got, _ = _conversation(tmp_path, "empty", lambda tr: [
        _chat(tr, "c1", [], [A1, A2, A3], 1), _chat(tr, "c2", [q2, q3], [A1], 5)])
    assert got == ["a1", "q2", "q3", "a1"]  # (a2, a3: a1's unchosen choices)


def test_copies_are_compared_without_keeping_every_history():
    """A long conversation whose batches are all written twice: the copies are found while
    memory stays near one input (the first version kept every rebuilt history: ~10x the
    file's size for 300 calls)."""
    import tracemalloc

    from store.importers.otel_groups import _once_each
    from store.importers.otel_spans import INPUT

    n, part = 200, "x" * 2000
    spans, seq = [], 0
    for i in range(n):  # call i adds one item; spilled as its part, referring to call i-1
        for copy in (0, 1):
            ref = None if i == 0 or copy else seq - 2  # the previous call's first span
            text = f'[{{"c": "{part}"}}]' if ref is None and i == 0 else \
                f'{{"c": "{part}{i}"}}]'
            if copy:  # a copy spilled whole: the history again
                text = "[" + ",".join(f'{{"c": "{part}{k if k else ""}"}}'
                                      for k in range(i + 1)) + "]"
            spans.append(["chat", {INPUT: text}, [], False, i, i + 1, f"{i + 1:016x}", None,
                          "svc", "t" * 32, "chat", seq, ref])
            seq += 1
    tracemalloc.start()
    stats: dict = {}
    out = _once_each(spans, stats)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert stats["duplicates"] == n and len(out) == n
    assert peak < 4 * len(spans[-1][1][INPUT]) + (1 << 20), peak


@pytest.mark.parametrize("where", ["tool span", "chat output"])
@pytest.mark.parametrize("name,shown", [(7, "int 7"), ({"a": 1}, 'dict {"a": 1}')])
def test_a_tool_call_name_that_is_not_text_is_refused(tmp_path, where, name, shown):
    """As in every importer (store/messages.bad_call_name): the OTel import stored Python's
    repr ("7", "{'a': 1}") as the tool's name."""
    tr = "a" * 32
    call = {"type": "tool_call", "id": "c9", "name": name, "arguments": {}}
    spans = [span(tr, "r1", "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent"}),
             span(tr, "c1", "chat m", {"gen_ai.operation.name": "chat",
                                       "gen_ai.input.messages": msgs(text("user", "hi")),
                                       "gen_ai.output.messages": msgs(
                                           {"role": "assistant", "parts": [call]}
                                           if where == "chat output" else text("assistant", "ok"))},
                  parent="r1", start=1, end=2)]
    if where == "tool span":
        spans.append(span(tr, "t1", "execute_tool x", {"gen_ai.operation.name": "execute_tool",
                                                       "gen_ai.tool.name": name,
                                                       "gen_ai.tool.call.id": "c8"},
                          parent="r1", start=3, end=4))
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request(spans)) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    # (the tool span's own attribute is named: no message may show the name, test_import_
    # otel_content)
    field = r"gen_ai\.tool\.name" if where == "tool span" else r"tool_calls\[0\]\.name"
    with pytest.raises(ImportFailure, match=rf"{field} should be a string, found "
                                            rf"{re.escape(shown)}"):
        import_path(db, p)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
