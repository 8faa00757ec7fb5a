"""The two OTLP/JSON layouts (one request per line; pretty-printed or several objects, read by
the streaming reader) take the same requests and refuse the same ones: the streamed reader
skipped an object whose resourceSpans was no list, or that had none, and imported the rest
(exit 0) where JSON Lines refused the file; a repeated resourceSpans key was read twice by the
stream, where a decoded object keeps the last."""

from __future__ import annotations

import json

import pytest
from otel_fixture import msgs, request, span, text

import store
from store.importers import ImportFailure, import_path


def _req(i):
    tr = f"{i + 1:032x}"
    return request([span(tr, "c" * 16, "chat m", {
        "gen_ai.operation.name": "chat", "gen_ai.input.messages": msgs(text("user", f"u{i}")),
        "gen_ai.output.messages": msgs(text("assistant", f"a{i}"))}, start=i * 10,
        end=i * 10 + 1)])


def _rs(i):
    return _req(i)["resourceSpans"]


def _texts(objs, indent):
    """Each object's JSON text; a ("dup", a, b) item is an object with the key twice."""
    out = []
    for o in objs:
        if isinstance(o, tuple):
            a, b = (json.dumps(x, indent=indent) for x in o[1:])
            out.append('{"resourceSpans": ' + a + ', "resourceSpans": ' + b + "}")
        else:
            out.append(json.dumps(o, indent=indent))
    return out


def _import(tmp_path, name, objs, pretty):
    body = "\n".join(_texts(objs, 1 if pretty else None)) + "\n"
    p = tmp_path / f"{name}.{'json' if pretty else 'jsonl'}"
    p.write_text(body)
    db = store.open_db(tmp_path / f"{name}{pretty}.sqlite")
    try:
        import_path(db, p)
    except ImportFailure as exc:
        for table in ("runs", "episodes", "steps"):
            assert db.conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
        return "refused", str(exc).split(": ", 2)[-1]  # (less the path and line/object)
    return "imported", db.conn.execute("SELECT content FROM steps ORDER BY episode_id, "
                                       "idx").fetchall()


CASES = {
    "list is an object": ([_req(0), {"resourceSpans": _rs(1)[0]}],
                          ("refused", "resourceSpans should be a list, found an object")),
    "other key": ([_req(0), {"resource_spans": _rs(1)}],
                  ("refused", "no 'resourceSpans' list (found keys resource_spans)")),
    "null": ([_req(0), {"resourceSpans": None}],
             ("refused", "no 'resourceSpans' list (found keys resourceSpans)")),
    "key twice": ([_req(0), ("dup", _rs(1), _rs(2))],
                  ("imported", [("u0",), ("a0",), ("u2",), ("a2",)])),
    "key twice, last no list": ([_req(0), ("dup", _rs(1), 5)],
                                ("refused", "resourceSpans should be a list, found a number")),
}


@pytest.mark.parametrize("worker", ["0", "1"])
@pytest.mark.parametrize("case", list(CASES))
def test_both_layouts_take_and_refuse_the_same_requests(tmp_path, monkeypatch, worker, case):
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    objs, want = CASES[case]
    assert _import(tmp_path, "lines", objs, pretty=False) == want
    assert _import(tmp_path, "pretty", objs, pretty=True) == want
