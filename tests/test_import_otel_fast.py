"""The OpenTelemetry import's fast line decoder (orjson, store/importers/json_fast.py): it
gives the rows the strict reader gives, and every value the strict reader refuses is still
refused, with the strict reader's message (file line and field), exit 2."""

from __future__ import annotations

import json
import sqlite3

import pytest
from otel_fixture import msgs, new_convention_file, openinference_file, request, span, text
from test_import_otel_split import _lines_file, _one

import store
from store.importers import ImportFailure, import_path
from store.importers.json_fast import FastObjects

_TABLES = {
    "episodes": "SELECT episode_key, sim_id, ord, task_id, trial, status, termination_reason, "
                "start_time, end_time, duration, reward, extra_json, n_steps, n_tool_calls, "
                "n_tool_errors, tokens_in, tokens_out, has_huge FROM episodes ORDER BY ord",
    "steps": "SELECT e.ord, s.idx, s.role, s.content, s.tool_calls, s.tool_call_id, "
             "s.tool_name, s.error, s.requestor, s.timestamp, s.latency_ms, s.tokens_in, "
             "s.tokens_out, s.cost, s.huge, s.extra_json FROM steps s JOIN episodes e USING "
             "(episode_id) ORDER BY e.ord, s.idx",
    "tool_calls": "SELECT e.ord, s.idx, t.pos, t.call_id, t.name, t.arguments, t.kind FROM "
                  "tool_calls t JOIN steps s USING (step_id) JOIN episodes e ON e.episode_id "
                  "= t.episode_id ORDER BY e.ord, s.idx, t.pos",
    "runs": "SELECT domain, agent_model, grading, status, info_json FROM runs",
}


def _rows(tmp_path, path, name, monkeypatch, *, fast: bool, worker: str = "0"):
    calls = []
    real = FastObjects.loads_padded

    def spy(self, raw):  # (loads_object and the history skip's decoding come here)
        calls.append(raw)
        return real(self, raw) if fast else None  # None: the strict reader decodes the line

    with monkeypatch.context() as m:
        m.setattr(FastObjects, "loads_padded", spy)
        m.setenv("T2E_IMPORT_WORKER", worker)
        db = store.open_db(tmp_path / f"{name}-{fast}-{worker}.sqlite")
        import_path(db, path)
    got = {t: db.conn.execute(q).fetchall() for t, q in _TABLES.items()}
    return got, calls


def _fixture_files(tmp_path):
    new = new_convention_file(tmp_path / "new.jsonl")
    oi = tmp_path / "oi.jsonl"
    openinference_file(oi)  # one object on one line: a JSON Lines file of one record
    odd = tmp_path / "odd.jsonl"
    tr = "d" * 32
    lines = [
        # duplicate keys (the last one counts, in both readers), escaped pairs and non-ASCII,
        # numbers as numbers: a 19-digit time in range, floats, a negative integer
        '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "' + tr + '", "spanId": '
        '"s1", "spanId": "s2", "name": "chat m", "startTimeUnixNano": 1767000000000000000, '
        '"endTimeUnixNano": 1767000000500000000, "attributes": ['
        '{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}, '
        '{"key": "gen_ai.usage.input_tokens", "value": {"intValue": 9223372036854775807}}, '
        '{"key": "app.score", "value": {"doubleValue": 1.5e300}}, '
        '{"key": "app.delta", "value": {"intValue": -9223372036854775808}}, '
        '{"key": "gen_ai.output.messages", "value": {"stringValue": '
        + json.dumps(msgs(text("assistant", "caf\u00e9 \U0001f600 \\ud83d"))) + '}}]}]}]}]}',
        json.dumps(request([span(tr, "s3", "execute_tool x", {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "x",
            "gen_ai.tool.call.arguments": json.dumps({"n": 12345678901234567890}),
            "gen_ai.tool.call.result": "r \u2028 \ud83d\ude00"}, start=2, end=3)])),
    ]
    odd.write_text("\n".join(lines) + "\n")
    return [new, oi, odd, _lines_file(tmp_path / "many.jsonl", n=30)]


def test_fast_and_strict_readers_store_the_same_rows(tmp_path, monkeypatch):
    for path in _fixture_files(tmp_path):
        strict, _ = _rows(tmp_path, path, path.stem, monkeypatch, fast=False)
        fast, calls = _rows(tmp_path, path, path.stem, monkeypatch, fast=True)
        assert calls and strict["steps"] and fast == strict, path.name
    # and through the worker process (both processes take blocks of the file)
    many = tmp_path / "many.jsonl"
    monkeypatch.setattr("store.importers.otel_lines.SPILL_BLOCK", 512)
    split, _ = _rows(tmp_path, many, "split", monkeypatch, fast=True, worker="1")
    assert split == _rows(tmp_path, many, "many", monkeypatch, fast=False)[0]


def test_fast_reader_takes_the_usual_lines():
    fast = FastObjects()
    line = json.dumps(request([span("a" * 32, "s1", "chat m", {"gen_ai.operation.name": "chat",
                                                               "n": 3})])).encode()
    assert fast.loads_object(line) == json.loads(line)
    # digits in strings (times, ids) and a 19-digit number within 64 bits stay on the fast path
    assert fast.loads_object(b'{"t": "17670000000000000000000", "n": 9223372036854775807}') \
        == {"t": "17670000000000000000000", "n": 9223372036854775807}
    assert fast.loads_object(b'{"n": -9223372036854775808}') == {"n": -(1 << 63)}


@pytest.mark.parametrize("raw", [
    b'{"n": 9223372036854775808}',  # orjson keeps it as an int
    b'{"n": [1, -9223372036854775809]}',  # orjson reads it as a float
    b'{"n":123456789012345678901234567890}',
    b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}",  # orjson reads 1,024 levels
    b'{"a": 1} {"b": 2}', b'{"a": NaN}', b'{"a": "\\ud800"}', b'{"a": 1e999}', b'[1]',
    b'{"a": "\xff"}', b' {"a": 1}',
], ids=["int-2^63", "below-64-bits", "30-digits", "nesting-1001", "two-objects", "nan",
        "lone-surrogate", "infinity", "not-an-object", "bad-utf-8", "space-first"])
def test_fast_reader_leaves_to_the_strict_reader(raw):
    assert FastObjects().loads_object(raw) is None


@pytest.mark.parametrize("line, said", [
    (json.dumps(_one({"x": {"intValue": 1 << 63}})),
     r"line 2: field resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.attributes\[2\]\.value"
     r"\.intValue: the integer 9223372036854775808 \(beyond the store's 64-bit range\)"),
    (json.dumps(_one({"x": {"intValue": (1 << 64) - 1}})),
     r"line 2: field .*intValue: the integer 18446744073709551615 \(beyond"),
    (json.dumps(_one({"x": {"intValue": -(1 << 63) - 1}})),
     r"line 2: field .*intValue: the integer -9223372036854775809 \(beyond"),
    (json.dumps(_one({"x": {"intValue": 10 ** 25}}), separators=(",", ":")),
     r"line 2: field .*intValue: a 26-digit integer"),
    (json.dumps(_one(startTimeUnixNano=1 << 64)),
     r"line 2: field .*spans\[0\]\.startTimeUnixNano: the integer 18446744073709551616 "),
    (json.dumps(_one({"x": {"doubleValue": 1.0}})).replace("1.0", "1e999"),
     r"line 2: field .*doubleValue: the number 1e999 \(too large: it reads as infinity\)"),
    (json.dumps(_one({"x": {"doubleValue": 1.0}})).replace("1.0", "-Infinity"),
     r"line 2: field .*doubleValue: -Infinity \(not a number JSON allows\)"),
    ('{"resourceSpans": [], "x": ' + "[" * 1000 + "]" * 1000 + "}",
     r"line 2: nesting too deep"),
    (json.dumps(_one()) + " " + json.dumps(_one()), r"line 2: not JSON \(Extra data"),
    (json.dumps(_one({"x": {"stringValue": "a\x01b"}}))[:-1].replace("\\u0001", "\x01") + "}",
     r"line 2: not JSON \(Invalid control character"),
], ids=["int-2^63", "int-2^64-1", "int-below-64-bits", "compact-26-digits", "time-2^64",
        "infinity", "minus-infinity", "nesting-orjson-reads", "two-objects", "control-char"])
def test_values_the_fast_reader_would_take_are_refused_as_before(tmp_path, line, said):
    # after a good line (a first line that is not one object is read as a stream of objects)
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps(_one()) + "\n" + line + "\n", encoding="utf-8")
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure, match=said):
        import_path(db, p)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


@pytest.mark.parametrize("mode", ["0", "1"])
def test_bad_bytes_on_a_later_line_are_named(tmp_path, monkeypatch, mode):
    # invalid UTF-8 (orjson refuses it too): the strict reader names the line, on either side
    # of the split
    monkeypatch.setenv("T2E_IMPORT_WORKER", mode)
    monkeypatch.setattr("store.importers.otel_lines.SPILL_BLOCK", 512)
    p = _lines_file(tmp_path / "t.jsonl")
    lines = p.read_bytes().split(b"\n")
    lines[36] = lines[36].replace(b'"q36', b'"q\xff36')
    p.write_bytes(b"\n".join(lines))
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure, match=r"line 37: not JSON \(.*utf-8"):
        import_path(db, p)


def test_rows_made_by_the_worker_are_the_parents(tmp_path, monkeypatch):
    # the worker makes the step rows while the parent is behind; here always (0 chunks)
    monkeypatch.setattr("store.importers.otel_lines.SPILL_BLOCK", 512)
    for path in _fixture_files(tmp_path):
        alone, _ = _rows(tmp_path, path, "alone", monkeypatch, fast=True)
        with monkeypatch.context() as m:
            m.setenv("T2E_OTEL_ROWS_BEHIND", "0")
            shared, _ = _rows(tmp_path, path, "shared", monkeypatch, fast=True, worker="1")
        assert shared == alone and alone["steps"], path.name
        if path.name == "new.jsonl":  # tool results carry their call's tool name
            assert [r[6] for r in alone["steps"] if r[2] == "tool"] == ["get_order_details",
                                                                        "cancel_order"]


@pytest.mark.parametrize("text_", [
    '[{"a": 1, "b": [true, null, 1.5, -2]}]', '{"n": 9223372036854775808}',
    '{"n": 123456789012345678901234567890}', '{"n": -123456789012345678901}',
    '[NaN, Infinity]', '{"s": "\\ud800 lone"}', '{"s": "caf\\u00e9 \\ud83d\\ude00"}',
    '{"a": 1, "a": 2}', '[1] x', '{"s": "a\x01"}', "[" * 1100 + "]" * 1100,
    "[" * 1000 + "]" * 1000,  # orjson reads it; the strict reader stops at the recursion limit
    # a number that is the whole text (a reward_info string): orjson read it as a float
    "12345678901234567890123", "9223372036854775808", "-9223372036854775809",
    "9223372036854775807", " 92233720368547758080",
    # loads_text's own look at the bytes (json_fast._long_run): a long run of digits in a
    # string, then a number past 64 bits (found after the run is passed over), or one after
    # a bracket; levels of [ and { together past the limit
    '["1234567890123456789012345678901234567890", 12345678901234567890]',
    '["12345678901234567890", [123456789012345678901]]',
    '{"t": "1234567890123456789", "n": 1234567890123456789}',
    '[{"a": ' * 251 + "1" + "}]" * 251, '[{"a": ' * 250 + "1" + "}]" * 250,
    # many runs of 19 digits in strings (times as text): past the first few, one search for
    # a number's byte and 19 digits; a number past 64 bits among them is still found
    json.dumps([str(10 ** 19 + i) for i in range(12)] + [[10 ** 20]]),
    json.dumps([str(10 ** 19 + i) for i in range(12)] + [[10 ** 18]]),
])
def test_text_fields_decode_as_the_strict_reader_does(text_):
    # the reference is the store's strict reader, not json.loads: NaN, numbers beyond 64 bits
    # and lone surrogates inside an attribute's JSON are refused (the text is kept as text)
    from store.importers.json_fast import loads_text
    from world.jsonstream import loads as strict
    try:
        want = strict(text_)
    except ValueError as exc:
        with pytest.raises(type(exc)):
            loads_text(text_)
        return
    got = loads_text(text_)
    assert got == want and json.dumps(got) == json.dumps(want)  # same types: int stays int


def test_attribute_json_the_store_cannot_hold_stays_text(tmp_path):
    """Tool arguments holding NaN, a number beyond 64 bits or a lone surrogate escape: once
    stored as NaN / an 80-bit int (invalid JSON in the store), or the import died on a Python
    UnicodeEncodeError. Now the attribute is kept as the text it is, and the import goes on."""
    bad = ['{"order_id": NaN}', '{"n": 123456789012345678901234}', '{"s": "\\ud800"}']
    spans = [span("d" * 32, "r", "invoke_agent support",
                  {"gen_ai.operation.name": "invoke_agent"}, start=0, end=100)]
    for i, args in enumerate(bad):
        spans.append(span("d" * 32, f"t{i}", "execute_tool get_order_details",
                          {"gen_ai.operation.name": "execute_tool",
                           "gen_ai.tool.name": "get_order_details",
                           "gen_ai.tool.call.id": f"call_{i}", "gen_ai.tool.call.arguments": args,
                           "gen_ai.tool.call.result": "ok"}, parent="r", start=10 + i, end=11 + i))
    p = tmp_path / "bad_args.jsonl"
    p.write_text(json.dumps(request(spans)) + "\n")
    import_path(store.open_db(tmp_path / "s.sqlite"), p)
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    calls = [c for (t,) in conn.execute("SELECT tool_calls FROM steps WHERE tool_calls IS NOT NULL"
                                        " ORDER BY rowid") for c in json.loads(
        t, parse_constant=lambda c: pytest.fail(f"{c} in the store"))]
    conn.close()
    assert [c["arguments"] for c in calls] == bad


@pytest.mark.parametrize("worker", ["0", "1"])
def test_otel_batches_share_fts_statements_and_every_step_is_indexed(tmp_path, monkeypatch,
                                                                      worker):
    """An OTel import filled the FTS rows of each 2,000-message batch in its own statement
    (one FTS5 segment each, merged again and again); batches now carry an empty range until
    INDEX_EVERY messages wait, and the last one (otel.py's take()) fills the rest."""
    from store.importers import episodes, otel

    monkeypatch.setattr(episodes, "BATCH_MESSAGES", 5)
    monkeypatch.setattr(episodes, "INDEX_EVERY", 13)
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    ranges = []
    real = otel.write_batch

    def spy(conn, batch):
        ranges.append((batch[4], batch[5]))
        real(conn, batch)

    monkeypatch.setattr(otel, "write_batch", spy)
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, _lines_file(tmp_path / "many.jsonl", n=30))
    conn = db.conn
    first, last, n = conn.execute("SELECT min(step_id), max(step_id), count(*) FROM steps") \
        .fetchone()
    assert entry["messages"] == n > 26
    filled = [r for r in ranges if r[0] < r[1]]
    assert filled[0][0] == first and filled[-1][1] == last + 1  # every step, once, in order
    assert all(a[1] == b[0] for a, b in zip(filled, filled[1:]))
    assert all(b - a >= 13 for a, b in filled[:-1])
    assert len(ranges) > 2 * len(filled)
    assert conn.execute("SELECT count(*) FROM steps_fts_docsize").fetchone()[0] == n
    conn.execute("INSERT INTO steps_fts (steps_fts, rank) VALUES ('integrity-check', 1)")
    word = conn.execute("SELECT content FROM steps WHERE step_id = ?", (last,)).fetchone()[0]
    word = next(w for w in word.split() if w.isalnum())
    assert last in [r[0] for r in conn.execute(
        "SELECT rowid FROM steps_fts WHERE steps_fts MATCH ?", (f'"{word}"',))]


def test_a_builders_last_take_fills_the_rest_of_the_index():
    """take() from outside is the last batch: with index_every waiting unmet, its FTS range
    still covers every step not yet indexed (otel.py's and EpisodeWriter's final take)."""
    from store.importers.episodes import RowBuilder

    sim = {"id": "s", "messages": [{"role": "user", "content": "hi"}] * 3}
    b = RowBuilder("r", 1, 1, batch_messages=3, index_every=100)
    full = b.add(sim, 0)
    assert full is not None and full[4] == full[5] == 1  # a full batch: nothing indexed yet
    assert b.add(dict(sim, id="t"), 1) is not None
    b.add({"id": "u", "messages": [{"role": "user", "content": "x"}]}, 2)
    last = b.take()
    assert (last[4], last[5]) == (1, 8) and len(last[1]) == 1
    assert b.take() is None


def test_fts_fills_grow_with_what_is_indexed():
    """Fills of index_every each made a big file's index of many statements (FTS5 segments,
    merged whole at 16): after 15 fills of index_every, a fill also waits for a quarter of the
    steps indexed, so the statements stay few while a smaller file's fills, and so its last,
    stay small."""
    from store.importers.episodes import RowBuilder

    b = RowBuilder("r", 1, 1, batch_messages=2, index_every=4)
    ranges = []
    for k in range(300):
        batch = b.add({"id": f"s{k}", "messages": [{"role": "user", "content": "hi"}] * 2}, k)
        if batch is not None:
            ranges.append((batch[4], batch[5]))
    ranges.append(b.take()[4:])
    filled = [r for r in ranges if r[0] < r[1]]
    assert filled[0][0] == 1 and filled[-1][1] == 601  # every step, once, in order
    assert all(a[1] == b[0] for a, b in zip(filled, filled[1:]))
    assert filled[:15] == [(1 + 4 * k, 5 + 4 * k) for k in range(15)]
    for lo, hi in filled[15:-1]:
        assert hi - lo >= (lo - 1) // 4
    assert len(filled) <= 30  # (a fill per 4 steps: 150)
