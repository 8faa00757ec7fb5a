"""Span and event times that are not OTLP fixed64 nanoseconds (an integer from 0 to 2^64 - 1,
or its decimal text): read as no time, as before, but counted and named in the run's warnings
(episode, span, field, value). Before, `startTimeUnixNano: "yesterday"`, a negative time, a
boolean (read as 1 ns) or a fraction (cut to an integer) were taken silently. Absent times
and valid ones give no such warning. One- and two-process alike."""

from __future__ import annotations

import json

import pytest
from otel_fixture import T0, msgs, request, span, text

import store
from store.importers import import_path

T = "b" * 32
BAD = "span time(s) are not OTLP fixed64 nanoseconds"


@pytest.fixture(params=["0", "1"], ids=["one-process", "two-process"])
def worker(request, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", request.param)


def _spans():
    root = span(T, "r1", "invoke_agent x", {"gen_ai.operation.name": "invoke_agent"},
                start=0, end=50, events=[(40, "gen_ai.user.message", {"content": "bye"})])
    chat = span(T, "c1", "chat m", {"gen_ai.operation.name": "chat",
                                    "gen_ai.input.messages": msgs(text("user", "q")),
                                    "gen_ai.output.messages": msgs(text("assistant", "a"))},
                parent="r1", start=10, end=12)
    return root, chat


def _import(tmp_path, spans):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request(list(spans))) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    res = import_path(db, p)
    steps = db.conn.execute("SELECT role, content FROM steps ORDER BY idx").fetchall()
    return res, steps


def test_times_that_are_no_fixed64_are_counted_and_named(tmp_path, worker):
    root, chat = _spans()
    chat["startTimeUnixNano"] = "yesterday"
    chat["endTimeUnixNano"] = -5
    root["events"][0]["timeUnixNano"] = True
    res, steps = _import(tmp_path, (root, chat))
    assert steps == [("user", "q"), ("assistant", "a"), ("user", "bye")]
    (w,) = [w for w in res["warnings"] if BAD in w]
    label = f"episode #0 (trace {T})"
    assert w == (f"3 {BAD} (an integer from 0 to 2^64 - 1, or its decimal text) and were "
                 f"read as no time: {label}, span r1 ('invoke_agent x'): events[0].timeUnixNano "
                 f"true; {label}, span c1 ('chat m'): startTimeUnixNano \"yesterday\"; {label}, "
                 "span c1 ('chat m'): endTimeUnixNano -5"), w


@pytest.mark.parametrize("value", [1.5, str(1 << 64), "", {"a": 1}, "-1"])
def test_each_kind_of_non_fixed64_is_counted(tmp_path, worker, value):
    root, chat = _spans()
    chat["endTimeUnixNano"] = value
    res, _ = _import(tmp_path, (root, chat))
    assert [w for w in res["warnings"] if BAD in w][0].startswith(f"1 {BAD}")


@pytest.mark.parametrize("value", [str(T0), T0, float(T0), str((1 << 64) - 1), "0", 0])
def test_fixed64_times_and_absent_ones_say_nothing(tmp_path, worker, value):
    root, chat = _spans()
    chat["endTimeUnixNano"] = value
    del root["events"][0]["timeUnixNano"]
    res, _ = _import(tmp_path, (root, chat))
    assert not [w for w in res["warnings"] if BAD in w], res["warnings"]


def test_more_than_three_are_counted_the_first_three_named(tmp_path, worker):
    spans = []
    for i in range(3):
        tr = f"{i + 1:032x}"
        spans.append(span(tr, f"r{i}", "invoke_agent x", {"gen_ai.operation.name":
                                                          "invoke_agent"}, start=0, end=9))
        spans.append(span(tr, f"c{i}", "chat m", {
            "gen_ai.operation.name": "chat", "gen_ai.input.messages": msgs(text("user", "q")),
            "gen_ai.output.messages": msgs(text("assistant", "a"))}, parent=f"r{i}",
            start=1, end=2))
        spans[-1]["startTimeUnixNano"] = spans[-1]["endTimeUnixNano"] = "soon"
    res, _ = _import(tmp_path, spans)
    (w,) = [w for w in res["warnings"] if BAD in w]
    assert w.startswith(f"6 {BAD}") and w.endswith(" ..."), w
    assert w.count("\"soon\"") == 3
