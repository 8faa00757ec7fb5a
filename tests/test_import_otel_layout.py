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
    # (it said "no 'resourceSpans' list (found keys resourceSpans)": the key it found)
    "null": ([_req(0), {"resourceSpans": None}],
             ("refused", "resourceSpans should be a list, found null")),
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


def _steps(db):
    return db.conn.execute("SELECT e.episode_key, s.content FROM steps s JOIN episodes e USING "
                           "(episode_id) ORDER BY e.episode_key, s.idx").fetchall()


@pytest.mark.parametrize("worker", ["0", "1"])
@pytest.mark.parametrize("compact", [1, 3])
def test_compact_objects_then_pretty_ones_are_read_as_objects_in_a_row(
        tmp_path, monkeypatch, worker, compact):
    """Several objects one after another (store/formats.md), the first ones compact on one line
    each, the rest pretty-printed: "line 2: not JSON (Expecting property name...)" (the layout
    was decided on the first line). A line that is the start of a longer value, with more text
    after it, sends the file to the stream reader, whichever process read it."""
    from store.importers import otel_lines

    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    monkeypatch.setattr(otel_lines, "SPILL_BLOCK", 512)  # small files: many blocks
    objs = [_req(i) for i in range(8)]
    body = "".join(json.dumps(o) + "\n" for o in objs[:compact]) + \
        "".join(json.dumps(o, indent=2) + "\n" for o in objs[compact:])
    p = tmp_path / "mixed.json"
    p.write_text(body)
    db = store.open_db(tmp_path / "s.sqlite")
    assert import_path(db, p)["episodes"] == 8
    ref = tmp_path / "ref.jsonl"
    ref.write_text("".join(json.dumps(o) + "\n" for o in objs))
    db_ref = store.open_db(tmp_path / "ref.sqlite")
    import_path(db_ref, ref)
    assert _steps(db) == _steps(db_ref) and len(_steps(db)) == 16
    # a fault in a pretty object is the stream's error, saying why the file was streamed
    at = body.rindex('"kind": 3') + len('"kind": 3')
    bad = body[:at] + " 3" + body[at:]
    p.write_text(bad)
    with pytest.raises(ImportFailure, match=r"mixed\.json: invalid JSON at character \d+ "
                       r"\(line \d+\): .* \(read as JSON objects one after another: line "
                       + str(compact + 1) + r" holds no whole object\)$"):
        import_path(store.open_db(tmp_path / "bad.sqlite"), p)


@pytest.mark.parametrize("worker", ["0", "1"])
def test_a_json_lines_file_cut_short_is_still_named_by_its_line(tmp_path, monkeypatch, worker):
    """A last line cut short (a collector stopped mid-write) is no start of objects in a row:
    the line is named as before; so is a line with a fault inside it."""
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    lines = [json.dumps(_req(i)) for i in range(5)]
    p = tmp_path / "cut.jsonl"
    p.write_text("\n".join(lines[:4]) + "\n" + lines[4][:40] + "\n\n")
    with pytest.raises(ImportFailure, match=r"cut\.jsonl: line 5: not JSON \("):
        import_path(store.open_db(tmp_path / "s.sqlite"), p)
    p.write_text("\n".join(lines[:2]) + "\n" + lines[2][:40] + "}" + "\n" + lines[3] + "\n")
    with pytest.raises(ImportFailure, match=r"cut\.jsonl: line 3: not JSON \("):
        import_path(store.open_db(tmp_path / "s2.sqlite"), p)
