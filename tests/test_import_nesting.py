"""One nesting limit for every JSON reader of the import (world/jsonstream.MAX_DEPTH, 500 levels
of [ and { from the document's root): the verdict on a file, and its message, never depend on
the process that reads it (T2E_IMPORT_WORKER), the layout (JSON Lines or one pretty-printed
object), the call site (CLI or API, a deep stack) or the reader (orjson or the strict one).

The reviewer's case: 975 levels inside an unknown key of a span were imported in one process and
refused by the worker; 501 levels were imported everywhere."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from otel_fixture import msgs, request, span, text
from test_store_data import make_results

import store
from store.importers import ImportFailure, import_path
from store.importers.json_fast import FastObjects, loads_keeping_numbers, loads_text
from world.jsonstream import MAX_DEPTH, TooDeep, loads, too_deep

ROOT = Path(__file__).resolve().parents[1]
HOLE = "@@DEEP@@"
CORE = r"nesting too deep \(more than 500 levels of \[ and \{\)"
ATIF = Path(__file__).parent / "fixtures" / "atif" / "support_v17.json"


def _depth_at(doc: str, i: int) -> int:
    """The containers open at doc[i] (brackets in strings do not count)."""
    d, in_str, esc = 0, False, False
    for c in doc[:i]:
        if in_str:
            esc, in_str = (False, True) if esc else (c == "\\", c != '"')
        elif c == '"':
            in_str = True
        elif c in "[{":
            d += 1
        elif c in "]}":
            d -= 1
    return d


def _fill(doc: str, depth: int, *, quoted: bool = True) -> str:
    """doc with its HOLE (a string, or bare) made a value nesting `depth` levels from the
    root: as deep as the document goes."""
    hole = f'"{HOLE}"' if quoted else HOLE
    at = doc.index(hole)
    n = depth - _depth_at(doc, at)
    out = doc.replace(hole, "[" * n + "]" * n, 1)
    assert not too_deep(out, depth) and too_deep(out, depth - 1)  # the file is that deep
    return out


def _chat(**extra) -> dict:
    sp = span("a" * 32, "b" * 16, "chat m", {
        "gen_ai.operation.name": "chat",
        "gen_ai.input.messages": extra.pop("inputs", msgs(text("user", "hi"))),
        "gen_ai.output.messages": msgs(text("assistant", "yo"))})
    sp.update(extra)
    return request([sp])


def _otel(tmp_path: Path, depth: int, layout: str) -> Path:
    """The reviewer's file: a span with an unknown key nesting `depth` levels in all."""
    req = _chat(x=HOLE)
    doc = json.dumps(req) + "\n" if layout == "lines" else json.dumps(req, indent=2) + "\n"
    p = tmp_path / f"d{depth}-{layout}.{'jsonl' if layout == 'lines' else 'json'}"
    p.write_text(_fill(doc, depth), encoding="utf-8")
    return p


def _where(layout: str) -> str:
    if layout == "lines":
        return r"\.jsonl: line 1: " + CORE + "$"
    # (the place of the span that holds the value: the stream reads the file span by span)
    return r"\.json: object #1, resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]: " + CORE + \
        r" in the value at character \d+ \(line \d+\)$"


def _cli(tmp_path: Path, path: Path, worker: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, T2E_IMPORT_WORKER=worker)
    return subprocess.run([sys.executable, "-m", "t2e_tui.cli", "--store",
                           str(tmp_path / f"cli-{path.stem}-{worker}.sqlite"), "import",
                           str(path)], capture_output=True, text=True, env=env, cwd=ROOT)


@pytest.mark.parametrize("layout", ["lines", "pretty"])
@pytest.mark.parametrize("worker", ["0", "1"])
@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1, 975])
def test_otel_verdict_is_the_same_in_both_processes_layouts_and_call_sites(
        tmp_path, monkeypatch, layout, worker, depth):
    path = _otel(tmp_path, depth, layout)
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    db = store.open_db(tmp_path / "api.sqlite")
    proc = _cli(tmp_path, path, worker)
    if depth <= MAX_DEPTH:
        assert import_path(db, path)["episodes"] == 1
        assert proc.returncode == 0, proc.stderr
    else:
        with pytest.raises(ImportFailure, match=_where(layout)):
            import_path(db, path)
        assert db.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
        assert proc.returncode == 2, proc.stderr
        said = proc.stderr.strip().splitlines()[-1]
        assert re.search(_where(layout), said), said
        assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("worker", ["0", "1"])
@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1])
def test_message_list_text_past_the_limit_is_refused_naming_the_attribute(
        tmp_path, monkeypatch, worker, depth):
    """A chat input's message list is JSON held in a string, decoded when episodes are built
    (by the worker, or this process): the same limit, counted from the text's root."""
    inputs = _fill(json.dumps([{**text("user", "hi"), "x": HOLE}]), depth)
    p = tmp_path / "m.jsonl"
    p.write_text(json.dumps(_chat(inputs=inputs)) + "\n", encoding="utf-8")
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    db = store.open_db(tmp_path / "s.sqlite")
    if depth <= MAX_DEPTH:
        assert import_path(db, p)["episodes"] == 1
        assert db.conn.execute("SELECT content FROM steps WHERE role = 'user'").fetchone() \
            == ("hi",)
    else:
        with pytest.raises(ImportFailure, match=r"gen_ai\.input\.messages: " + CORE):
            import_path(db, p)


@pytest.mark.parametrize("fast", ["1", "0"])
@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1])
def test_tau2_simulations_share_the_limit(tmp_path, monkeypatch, fast, depth):
    """orjson (fastsims) or the strict stream: a simulation's value counted from the file's
    root (the top-level object and the simulations array included)."""
    good = json.dumps(make_results(3), indent=2)
    at = good.index('"id": "sim-0001"')
    p = tmp_path / "r.json"
    p.write_text(_fill(good[:at] + f'"x": "{HOLE}", ' + good[at:], depth), encoding="utf-8")
    monkeypatch.setenv("T2E_IMPORT_ORJSON", fast)
    db = store.open_db(tmp_path / "s.sqlite")
    if depth <= MAX_DEPTH:
        assert import_path(db, p)["episodes"] == 3
    else:
        with pytest.raises(ImportFailure, match=CORE + r" in the value at character"):
            import_path(db, p)


@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1])
def test_atif_shares_the_limit(tmp_path, depth):
    t = json.loads(ATIF.read_text())
    t["extra"] = {**(t.get("extra") or {}), "x": HOLE}
    p = tmp_path / "a.json"
    p.write_text(_fill(json.dumps(t), depth), encoding="utf-8")
    db = store.open_db(tmp_path / "s.sqlite")
    if depth <= MAX_DEPTH:
        assert import_path(db, p)["episodes"] >= 1
    else:
        with pytest.raises(ImportFailure, match=CORE):
            import_path(db, p)


def _at_stack_depth(frames: int, fn, *args):
    """fn(*args) called under `frames` more frames (a deep call site)."""
    if frames:
        return _at_stack_depth(frames - 1, fn, *args)
    return fn(*args)


def _nest(n: int) -> str:
    return "[" * n + "]" * n


@pytest.mark.parametrize("frames", [0, 300, 700])
def test_every_reader_draws_the_line_at_the_limit_from_any_call_site(frames):
    deep_ok, too = _nest(MAX_DEPTH), _nest(MAX_DEPTH + 1)
    for read in (loads, loads_text, loads_keeping_numbers):
        assert _at_stack_depth(frames, read, deep_ok) is not None, read
        with pytest.raises(TooDeep, match="^" + CORE + "$"):
            _at_stack_depth(frames, read, too)
    obj = '{"a": %s}'
    assert _at_stack_depth(frames, FastObjects().loads_object,
                           (obj % _nest(MAX_DEPTH - 1)).encode()) is not None
    assert _at_stack_depth(frames, FastObjects().loads_object,
                           (obj % _nest(MAX_DEPTH)).encode()) is None  # the strict reader's


def test_brackets_inside_strings_do_not_count():
    doc = json.dumps({"a": "[" * 2000, "b": '\\"[{' * 400, "c": ["\\", "]" * 900],
                      "d": _nest(10)})
    assert not too_deep(doc)
    assert loads(doc) == json.loads(doc)
    # malformed text that nests past the limit before it fails: judged deep first, as every
    # reader does (the decoder's own limit is never the verdict)
    for bad in ("[" * 600, "[" * 600 + "x", _nest(600)[:-1], "[" * 980):
        with pytest.raises(TooDeep):
            loads(bad)
    with pytest.raises(json.JSONDecodeError):
        loads("[" * 400 + "x")
