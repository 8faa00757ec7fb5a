"""Span fields and id attributes of the wrong type are refused, naming the span and the field
or attribute and what was expected: an id given as a map or an array (`t2e.task_id`,
`gen_ai.conversation.id`, ...) was stored as Python's repr ("{'k': 'v'}", "['c1', 'c2']"),
as the ATIF importer refuses a task id that is not text; an event `name` or a `parentSpanId`
that is a list gave "cannot be built (TypeError: unhashable type: 'list')". Integers stay ids
(their text), as in ATIF. Nothing is written on refusal; one- and two-process alike."""

from __future__ import annotations

import json

import pytest
from otel_fixture import msgs, request, span, text

import store
from store.importers import ImportFailure, import_path

T = "a" * 32


@pytest.fixture(params=["0", "1"], ids=["one-process", "two-process"])
def worker(request, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", request.param)


def _root(attrs=None):
    return span(T, "r1", "invoke_agent x", {"gen_ai.operation.name": "invoke_agent",
                                             **(attrs or {})}, start=0, end=10)


def _chat(attrs=None):
    return span(T, "c1", "chat m", {"gen_ai.operation.name": "chat",
                                     "gen_ai.input.messages": msgs(text("user", "q")),
                                     "gen_ai.output.messages": msgs(text("assistant", "a")),
                                     **(attrs or {})}, parent="r1", start=1, end=2)


def _refused(tmp_path, spans):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request(spans)) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    for table in ("runs", "episodes", "steps"):
        assert db.conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    return str(exc.value).removeprefix(f"{p}: ")


@pytest.mark.parametrize("attr", ["t2e.task_id", "task.id", "t2e.sim_id"])
@pytest.mark.parametrize("value,said", [({"k": "v"}, 'an object {"k": "v"}'),
                                        (["c1", "c2"], 'a list ["c1", "c2"]'),
                                        (True, "a boolean true"), (1.5, "a number 1.5")])
def test_a_root_id_that_is_not_text_is_refused(tmp_path, worker, attr, value, said):
    assert _refused(tmp_path, [_root({attr: value}), _chat()]) == (
        f"episode #0 (trace {T}), span r1 ('invoke_agent x'): {attr} should be a string "
        f"(or an integer), found {said}")


@pytest.mark.parametrize("attr", ["gen_ai.conversation.id", "session.id"])
def test_a_conversation_id_that_is_not_text_is_refused(tmp_path, worker, attr):
    assert _refused(tmp_path, [_root({attr: ["c1", "c2"]}), _chat()]) == (
        f"line 1, resourceSpans[0].scopeSpans[0].spans[0]: {attr} should be a string "
        '(or an integer), found a list ["c1", "c2"]')


def test_integer_ids_are_their_text(tmp_path, worker):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request([_root({"t2e.task_id": 7,
                                             "gen_ai.conversation.id": 12}), _chat()])) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, p)
    assert db.conn.execute("SELECT episode_key, task_id FROM episodes").fetchall() == [
        ("12", "7")]
