"""An OTLP/JSON file that is one object (or several, pretty-printed) is streamed down to its
spans: resourceSpans[i] -> its resource, scopeSpans[j] -> its scope, spans[k] one at a time,
handed to the spill in requests of bounded size. It was streamed only item by item of
resourceSpans, so the usual export (one resourceSpans, one scopeSpans holding every span) was
held whole: 216 MB RSS for a 25.5 MB file, 413 MB for 51 MB (the JSON Lines layout of the
same spans: 57 MB). The stored rows are the JSON Lines layout's, whatever the order of the
keys, and errors name the span's place."""

from __future__ import annotations

import importlib.util
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from otel_fixture import msgs, span, text

import store
from store.importers import ImportFailure, import_path
from store.importers.otel_spill import Spiller, open_spill
from store.importers.otel_stream import spill_stream
from world.jsonstream import JsonStream, JsonStreamError

_RESOURCE = {"attributes": [{"key": "service.name", "value": {"stringValue": "support-bot"}}]}
_SCOPE = {"name": "hand-made", "version": "1"}


def _rows_hash():
    path = Path(__file__).resolve().parents[1] / "bench" / "rows_hash.py"
    spec = importlib.util.spec_from_file_location("rows_hash", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _trace_spans(c: int, pad: int = 0) -> list[dict]:
    """One conversation: an agent span, chat spans whose inputs repeat the history (so the
    spill keeps only what each adds), a tool span."""
    tr = f"{c + 1:032x}"
    root = f"{c:08x}00000000"
    hist = [text("user", f"hello {c} " + "x" * pad)]
    out = [span(tr, root, "invoke_agent b", {"gen_ai.operation.name": "invoke_agent"},
                start=c, end=c + 100)]
    for t in range(3):
        answer = text("assistant", f"answer {c}.{t}")
        out.append(span(tr, f"{c:08x}{t + 1:08x}", "chat m", {
            "gen_ai.operation.name": "chat", "gen_ai.input.messages": msgs(*hist),
            "gen_ai.output.messages": msgs(answer), "gen_ai.usage.input_tokens": 10},
            parent=root, start=c + t * 10 + 1, end=c + t * 10 + 5))
        hist = hist + [answer, text("user", f"next {c}.{t}")]
    out.append(span(tr, f"{c:08x}{9:08x}", "execute_tool get_order", {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_order",
        "gen_ai.tool.call.arguments": json.dumps({"order_id": f"#W{c}"}),
        "gen_ai.tool.call.result": "shipped"}, parent=root, start=c + 40, end=c + 41))
    return out


def _one_object(path: Path, traces: int, *, pad: int = 0, order: str = "usual",
                resource: dict | None = _RESOURCE) -> Path:
    """Every span of `traces` conversations in one pretty-printed object: one resourceSpans
    item, one scopeSpans item, written span by span (the test holds one at a time too).
    `order`: "usual" (resource, scopeSpans; scope, spans), or "late" (spans before scope,
    scopeSpans before resource)."""
    res = "" if resource is None else '"resource": ' + json.dumps(resource, indent=1)
    scope = '"scope": ' + json.dumps(_SCOPE)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('{\n "resourceSpans": [\n  {\n')
        if order == "usual" and res:
            fh.write(res + ",\n")
        fh.write('   "scopeSpans": [\n    {\n')
        if order == "usual":
            fh.write(scope + ",\n")
        fh.write('     "spans": [\n')
        first = True
        for c in range(traces):
            for sp in _trace_spans(c, pad):
                fh.write(("" if first else ",\n") + json.dumps(sp, indent=1))
                first = False
        fh.write("\n     ]")
        if order == "late":
            fh.write(",\n" + scope)
        fh.write("\n    }\n   ]")
        if order == "late" and res:
            fh.write(",\n" + res)
        fh.write("\n  }\n ]\n}\n")
    return path


def _json_lines(path: Path, traces: int, *, resource: dict | None = _RESOURCE) -> Path:
    """The same spans in the collector's layout: one request (a conversation) per line."""
    with open(path, "w", encoding="utf-8") as fh:
        for c in range(traces):
            rs = {"scopeSpans": [{"scope": _SCOPE, "spans": _trace_spans(c)}]}
            if resource is not None:
                rs = {"resource": resource, **rs}
            fh.write(json.dumps({"resourceSpans": [rs]}) + "\n")
    return path


def _peak_spill_bytes(tmp_path: Path, path: Path) -> tuple[int, int]:
    """(spans spilled, tracemalloc's peak while spill_stream read the file)."""
    spill = str(tmp_path / "spill.sqlite")
    sp = Spiller(open_spill(spill), spill)
    with open(path, "rb") as fh:
        tracemalloc.start()
        try:
            spill_stream(sp, fh)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return sp.spans, peak


def test_one_object_of_many_spans_is_read_in_bounded_memory(tmp_path):
    """A 9.6 MB object of one resourceSpans and one scopeSpans: the old reader held all of it
    as Python objects (a peak of ~100 MB here, 259 MB for 23 MB); streamed, ~10 MB (the read
    buffer, one request handed to the spill, the chat inputs kept for the next ones: 11 MB
    for 23 MB)."""
    path = _one_object(tmp_path / "one.json", 2500)
    assert path.stat().st_size > 9 << 20
    spans, peak = _peak_spill_bytes(tmp_path, path)
    assert spans == 2500 * 5
    assert peak < 16 << 20, f"peak {peak / 2**20:.1f} MB"


_ORDERS = {
    "usual": {},
    # a resource after the spans still names their service; a scope after its spans changes
    # nothing (the spill reads none of the scope)
    "resource and scope after the spans": {"order": "late"},
    "no resource": {"resource": None},
}


@pytest.mark.parametrize("worker", ["0", "1"])
@pytest.mark.parametrize("case", list(_ORDERS))
def test_stored_rows_are_the_json_lines_layouts(tmp_path, monkeypatch, worker, case):
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    kw = _ORDERS[case]
    resource = kw.get("resource", _RESOURCE)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    lines = _json_lines(tmp_path / "a" / "t.jsonl", 40, resource=resource)
    one = _one_object(tmp_path / "b" / "t.json", 40, **kw)
    digests = []
    for p in (lines, one):
        st = tmp_path / f"{p.parent.name}.sqlite"
        entry = import_path(store.open_db(st), p)
        assert entry["episodes"] == 40
        digests.append(_rows_hash().digest(str(st)))
    for d in digests:  # the source row differs by design: another file, another hash
        d.pop("sources")
    assert digests[0] == digests[1]
    assert digests[0]["steps"].startswith(str(40 * 8) + " ")


def test_a_resource_after_the_spans_names_their_service(tmp_path):
    p = _one_object(tmp_path / "late.json", 3, order="late", resource={"attributes": [
        {"key": "service.name", "value": {"stringValue": "late-bot"}}]})
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, p)
    assert db.conn.execute("SELECT domain FROM runs").fetchone() == ("late-bot",)


def _bad(tmp_path: Path, name: str, body: str) -> str:
    p = tmp_path / f"{name}.json"
    p.write_text(body, encoding="utf-8")
    db = store.open_db(tmp_path / f"{name}.sqlite")
    with pytest.raises(ImportFailure) as err:
        import_path(db, p)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    return str(err.value).split(": ", 1)[1]  # (less the path)


def _good_spans(n: int) -> list[dict]:
    return [sp for c in range(n) for sp in _trace_spans(c)]


@pytest.mark.parametrize("worker", ["0", "1"])
def test_errors_name_the_spans_place(tmp_path, monkeypatch, worker):
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    spans = _good_spans(300)  # 1,500 spans: past any request handed to the spill
    spans[1234] = {**spans[1234], "status": "bad"}
    ok = {"resource": _RESOURCE, "scopeSpans": [{"scope": _SCOPE, "spans": _good_spans(1)}]}
    doc = {"resourceSpans": [ok, {"resource": _RESOURCE, "scopeSpans": [
        {"scope": _SCOPE, "spans": []}, {"scope": _SCOPE, "spans": spans}]}]}
    assert _bad(tmp_path, "status", json.dumps(doc, indent=1)) == (
        "object #1, resourceSpans[1].scopeSpans[1].spans[1234]: status should be an object, "
        "found a string")
    # in a second object, after the spans' own keys
    late = {"resourceSpans": [{"scopeSpans": [{"spans": [spans[0], 7]}]}]}
    assert _bad(tmp_path, "second", json.dumps({"resourceSpans": [ok]}, indent=1) + "\n"
                + json.dumps(late, indent=1)) == (
        "object #2, resourceSpans[0].scopeSpans[0].spans[1]: expected an object")


@pytest.mark.parametrize("body, said", [
    # a resource after the spans: read (the item again, whole), and refused in its words
    ({"resourceSpans": [{"scopeSpans": [{"spans": "SPANS"}], "resource": "x"}]},
     "resourceSpans[0].resource should be an object, found a string"),
    ({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {
        "intValue": "3"}}]}, "scopeSpans": [{"spans": "SPANS"}]}]},
     "resourceSpans[0].resource: service.name should be a string, found int"),
    ({"resourceSpans": [{"resource": _RESOURCE, "scopeSpans": {"spans": "SPANS"}}]},
     "resourceSpans[0]: scopeSpans should be a list"),
    ({"resourceSpans": [{"resource": _RESOURCE, "scopeSpans": [3]}]},
     "resourceSpans[0].scopeSpans[0]: expected an object with a 'spans' list"),
    ({"resourceSpans": [{"resource": _RESOURCE, "scopeSpans": [{"spans": {"a": 1}}]}]},
     "resourceSpans[0].scopeSpans[0]: expected an object with a 'spans' list"),
    ({"resourceSpans": [5]}, "resourceSpans[0]: expected an object"),
], ids=["resource-late", "service-type", "scopes-object", "scope-number", "spans-object",
        "item-number"])
def test_wrong_shapes_are_refused_in_the_json_lines_words(tmp_path, body, said):
    text_ = json.dumps(body, indent=1).replace('"SPANS"', json.dumps(_good_spans(2)))
    assert _bad(tmp_path, "shape", text_) == "object #1, " + said
    # the JSON Lines layout: the same words after its line
    line = json.dumps(json.loads(text_))
    p = tmp_path / "shape.jsonl"
    p.write_text(line + "\n")
    with pytest.raises(ImportFailure) as err:
        import_path(store.open_db(tmp_path / "l.sqlite"), p)
    assert str(err.value).split(": ", 1)[1] == "line 1, " + said


def _dup(*pairs: tuple[str, object]) -> str:
    """A JSON object text with keys that may repeat."""
    return "{" + ", ".join(f"{json.dumps(k)}: {v if isinstance(v, str) else json.dumps(v)}"
                           for k, v in pairs) + "}"


@pytest.mark.parametrize("worker", ["0", "1"])
def test_repeated_keys_count_once_the_last_as_a_decoded_object(tmp_path, monkeypatch, worker):
    """A key given twice (spans, scopeSpans, resource; the old form instrumentationLibrarySpans
    beside scopeSpans): the value that counts is the decoded object's, in both layouts."""
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    a, b = json.dumps(_trace_spans(0)), json.dumps(_trace_spans(1))
    other = {"attributes": [{"key": "service.name", "value": {"stringValue": "other"}}]}
    items = [
        _dup(("resource", _RESOURCE), ("scopeSpans", f'[{_dup(("spans", a), ("spans", b))}]')),
        _dup(("resource", _RESOURCE), ("scopeSpans", f'[{{"spans": {a}}}]'),
             ("scopeSpans", f'[{{"spans": {b}}}]')),
        _dup(("resource", _RESOURCE), ("instrumentationLibrarySpans", f'[{{"spans": {a}}}]'),
             ("scopeSpans", f'[{{"spans": {b}}}]')),
        _dup(("resource", _RESOURCE), ("scopeSpans", "[]"),
             ("instrumentationLibrarySpans", f'[{{"spans": {b}}}]')),
        _dup(("resource", other), ("scopeSpans", f'[{{"spans": {b}}}]'),
             ("resource", _RESOURCE)),
        _dup(("resource", other), ("resource", _RESOURCE), ("scopeSpans", f'[{{"spans": {b}}}]')),
        # a resource of the wrong shape, replaced after the spans: the last one counts
        _dup(("resource", '"bad"'), ("scopeSpans", f'[{{"spans": {b}}}]'), ("resource", _RESOURCE)),
        _dup(("resource", _RESOURCE), ("scopeSpans", f'[{_dup(("spans", 5), ("spans", b))}]')),
        _dup(("resource", _RESOURCE), ("scopeSpans", "7"), ("scopeSpans", f'[{{"spans": {b}}}]')),
    ]
    for n, item in enumerate(items):
        doc = '{"resourceSpans": [' + item + "]}"
        got = []
        # (the second: its first line no whole object, so streamed)
        for suffix, body in ((".jsonl", doc + "\n"), (".json", "{\n" + doc[1:] + "\n")):
            p = tmp_path / f"d{n}{suffix}"
            p.write_text(body)
            db = store.open_db(tmp_path / f"d{n}{suffix}.sqlite")
            import_path(db, p)
            got.append((db.conn.execute("SELECT domain FROM runs").fetchall(),
                        db.conn.execute("SELECT content FROM steps ORDER BY step_id")
                        .fetchall()))
        assert got[0] == got[1], n
        assert got[0][0] == [("support-bot",)], n
        assert ("hello 1 ",) in got[0][1] and ("hello 0 ",) not in got[0][1], n


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 64, 1 << 20])
def test_the_stream_walks_items_and_rewinds_to_a_mark(chunk):
    """iter_items leaves each item to the caller; rewind reads again from a mark, the
    positions in messages included, across chunk edges, multi-byte characters and a BOM."""
    items = [{"a": "caf\u00e9 \u2603" * 3}, [1, {"b": "\U0001f600"}], "x\ny", 12.5]
    raw = b"\xef\xbb\xbf" + json.dumps({"k": items}, indent=1, ensure_ascii=False).encode()
    st = JsonStream(io.BytesIO(raw), chunk=chunk)
    keys = st.iter_object_keys()
    assert next(keys) == "k"
    got = []
    for i in st.iter_items():
        if i == 1:
            back, depth = st.mark(), st.depth
            where = st.where()
            assert next(st.iter_items()) == 0 and st.read_value() == 1  # part of the item
            st.rewind(back)
            assert st.depth == depth and st.where() == where
        got.append(st.read_value())
    assert got == items and list(keys) == [] and st.at_end()
    # after a rewind, an error still names its place
    bad = JsonStream(io.BytesIO(b'[1,\n 2,\n 3 4]'), chunk=chunk)
    it = bad.iter_items()
    next(it)
    bad.read_value()
    next(it)
    back = bad.mark()
    bad.read_value()
    bad.rewind(back)
    bad.read_value()
    next(it)
    bad.read_value()
    with pytest.raises(JsonStreamError, match=r"character 11 \(line 3\)"):
        next(it)


@pytest.mark.parametrize("order, resource", [
    ("usual", _RESOURCE), ("late", _RESOURCE), ("late", None), ("usual", "bad")])
def test_streaming_leaves_nothing_for_the_cyclic_collector(tmp_path, order, resource):
    """The OTLP import runs without the cyclic collector: an item read again whole, or one
    refused, makes no reference cycle (a refused resource kept as an exception in the frame
    its traceback holds made one, with the spill and its connection in it)."""
    import gc

    path = _one_object(tmp_path / "o.json", 30, order=order, resource=resource)
    spill = str(tmp_path / "spill.sqlite")
    gc.collect()
    gc.disable()
    try:
        db = open_spill(spill)
        sp = Spiller(db, spill)
        with open(path, "rb") as fh:
            try:
                spill_stream(sp, fh)
            except ImportFailure:
                assert resource == "bad"
            else:
                assert sp.spans == 150
        db.close()
        del db, sp
        assert gc.collect() == 0
    finally:
        gc.enable()
