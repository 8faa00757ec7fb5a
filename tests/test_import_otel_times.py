"""Span times that are missing or out of order: a span without a start time takes its place in
the file among its conversation's spans (it sorted first: a chat span without times came
before the earlier call whose turns its input repeats, and those turns were emitted twice), and
a span that ends before it starts has no latency (it was stored as a negative one), the run's
warnings counting such spans. One- and two-process alike."""

from __future__ import annotations

import json

import pytest
from otel_fixture import msgs, request, span, text

import store
from store.importers import import_path

T = "a" * 32
Q1, A1, Q2, A2 = (text("user", "q1"), text("assistant", "a1"), text("user", "q2"),
                  text("assistant", "a2"))


@pytest.fixture(params=["0", "1"], ids=["one-process", "two-process"])
def worker(request, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", request.param)


def _chat(sid, inp, out, start=None, end=None):
    sp = span(T, sid, "chat m", {"gen_ai.operation.name": "chat",
                                  "gen_ai.input.messages": msgs(*inp),
                                  "gen_ai.output.messages": msgs(*out)},
              parent="r1", start=start or 0, end=end or 0)
    if start is None:
        del sp["startTimeUnixNano"]
    if end is None:
        del sp["endTimeUnixNano"]
    return sp


def _import(tmp_path, spans):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request(spans)) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    res = import_path(db, p)
    return res, db.conn.execute("SELECT content, latency_ms FROM steps ORDER BY idx").fetchall()


def _root():
    return span(T, "r1", "invoke_agent x", {"gen_ai.operation.name": "invoke_agent"},
                start=0, end=50)


def test_a_span_without_times_keeps_its_place_in_the_file(tmp_path, worker):
    _, steps = _import(tmp_path, [_root(), _chat("c1", [Q1], [A1], 10, 12),
                                  _chat("c2", [Q1, A1, Q2], [A2])])
    assert steps == [("q1", None), ("a1", 2.0), ("q2", None), ("a2", None)]


def test_spans_without_times_before_timed_ones_in_the_file(tmp_path, worker):
    # the first call has no times, the second has: file order is kept
    _, steps = _import(tmp_path, [_root(), _chat("c1", [Q1], [A1]),
                                  _chat("c2", [Q1, A1, Q2], [A2], 10, 12)])
    assert [c for c, _ in steps] == ["q1", "a1", "q2", "a2"]


def test_a_span_that_ends_before_it_starts_has_no_latency(tmp_path, worker):
    res, steps = _import(tmp_path, [_root(), _chat("c1", [Q1], [A1], 10, 2),
                                    _chat("c2", [Q1, A1, Q2], [A2], 20, 23)])
    assert steps == [("q1", None), ("a1", None), ("q2", None), ("a2", 3.0)]
    assert any(w.startswith("1 span(s) end before they start") for w in res["warnings"])
