"""Our OTel export's fidelity fields (t2e.simulation_fields, t2e.message_fields,
t2e.latencies, t2e.simulation_keys) only add what the spans cannot say: a key the spans give
that the fields give otherwise is refused, naming the root span, the attribute, the item and
the key; a value of another shape is left out, and the run's warnings say so (review S2: an
edited trace came back with a user message's text 'REPLACED' and a refund_all call, or as
task-99 trial 7, the spans saying otherwise, with no word).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import store
from store.exporters import export_run
from store.importers import import_path
from store.importers.common import ImportFailure

_MSGS = [{"role": "user", "content": "Please help with task-00."},
         {"role": "assistant", "content": None, "raw_data": {"id": "resp-1"},
          "tool_calls": [{"id": "c", "name": "lookup", "arguments": {"q": 1}}]},
         {"role": "tool", "id": "c", "content": "found"},
         {"role": "assistant", "content": "done"}]


@pytest.fixture(params=["0", "1"], ids=["one-process", "two-process"])
def worker(request, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", request.param)


def _exported(tmp_path: Path, n: int = 1) -> tuple[dict, list[list]]:
    """The OTLP request of `n` exported JSON Lines episodes (task-00, trial 0, a reward, a
    termination, a call, its result, an answer) and their root spans' attribute lists."""
    src = tmp_path / "src.jsonl"
    src.write_text("".join(json.dumps({
        "run": "r", "id": f"e{i}", "task_id": "task-00", "trial": i,
        "termination_reason": "user_stop", "reward_info": {"reward": 1.0},
        "duration": 1.25, "messages": _MSGS}) + "\n" for i in range(n)), encoding="utf-8")
    db = store.open_db(tmp_path / "src.sqlite")
    export_run(db, import_path(db, src)["run_id"], "otel", tmp_path / "o.jsonl")
    reqs = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    roots = [sp["attributes"] for r in reqs for rs in r["resourceSpans"]
             for ss in rs["scopeSpans"] for sp in ss["spans"]
             if sp["name"].startswith("invoke_agent")]
    assert len(roots) == n
    return reqs, roots


def _set(attrs: list, key: str, value: dict) -> None:
    attrs[:] = [a for a in attrs if a["key"] != key] + [{"key": key, "value": value}]


def _text(v: str) -> dict:
    return {"stringValue": v}


def _import(tmp_path: Path, reqs: list):
    path = tmp_path / "edited.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in reqs), encoding="utf-8")
    db = store.open_db(tmp_path / f"d{len(list(tmp_path.glob('d*.sqlite')))}.sqlite")
    return db, import_path(db, path)


def _refused(tmp_path: Path, reqs: list) -> str:
    n = len(list(tmp_path.glob("d*.sqlite")))
    with pytest.raises(ImportFailure) as exc:
        _import(tmp_path, reqs)
    db = store.open_db(tmp_path / f"d{n}.sqlite")
    assert db.conn.execute("SELECT count(*) FROM episodes").fetchone() == (0,)
    return str(exc.value)


@pytest.mark.parametrize("entries, what", [
    # review S2's: a user message turned system, its text replaced, a call given to it
    ('[[0, {"role": "system", "content": "REPLACED", "tool_calls": [{"id": "x", "name": '
     '"refund_all", "arguments": {}}]}, ["role", "content", "tool_calls"]]]',
     't2e.message_fields[0] (message 0): role "system" where the spans say "user"'),
    ('[[0, {"content": "REPLACED"}]]',
     't2e.message_fields[0] (message 0): content "REPLACED" where the spans say '
     '"Please help with task-00."'),
    ('[[0, {"tool_calls": [{"id": "x", "name": "refund_all", "arguments": {}}]}]]',
     't2e.message_fields[0] (message 0): tool_calls [{"id": "x", "name": "refund_all"'),
    ('[[3, {}], [1, {"tool_calls": [{"id": "c", "name": "refund_all", "arguments": {"q": 1}}'
     ']}]]', 't2e.message_fields[1] (message 1): tool_calls'),
    ('[[1, {"tool_calls": [{"id": "c", "name": "lookup", "arguments": {"q": 2}}]}]]',
     't2e.message_fields[0] (message 1): tool_calls'),
    ('[[2, {"id": "other"}]]', 't2e.message_fields[0] (message 2): id "other" where the '
                               'spans say "c"'),
    ('[[3, {"content": [{"type": "text", "text": "not done"}]}]]',
     't2e.message_fields[0] (message 3): content [{"type": "text", "text": "not done"}]'),
])
def test_message_fields_that_contradict_the_spans_are_refused(tmp_path, worker, entries,
                                                              what):
    reqs, (root,) = _exported(tmp_path)
    _set(root, "t2e.message_fields", _text(entries))
    err = _refused(tmp_path, reqs)
    assert "invoke_agent" in err and what in err, err


@pytest.mark.parametrize("fields, what", [
    ({"task_id": "task-99"}, 'task_id "task-99" where the spans say "task-00"'),
    ({"trial": 7}, "trial 7 where the spans say 0"),
    ({"id": "zzz"}, 'id "zzz" where the spans say "e0"'),
    ({"termination_reason": "[red]x[/red]"},
     'termination_reason "[red]x[/red]" where the spans say "user_stop"'),
    ({"reward_info": {"reward": 0.0}}, "reward_info {\"reward\": 0.0} where the spans say"),
    ({"messages": []}, "messages [] where the spans say"),
])
def test_simulation_fields_that_contradict_the_root_span_are_refused(tmp_path, worker, fields,
                                                                     what):
    reqs, (root,) = _exported(tmp_path)
    _set(root, "t2e.simulation_fields", _text(json.dumps({"duration": 1.25, **fields})))
    err = _refused(tmp_path, reqs)
    assert "invoke_agent" in err and f"t2e.simulation_fields: {what}" in err, err


def test_fields_that_agree_with_the_spans_are_taken(tmp_path, worker):
    """The same values (a content of text blocks whose text is the span's, an integer
    result id whose text is the span's, the root's own task and trial) pass, and the fields'
    own keys come back."""
    reqs, (root,) = _exported(tmp_path)
    _set(root, "t2e.message_fields", _text(json.dumps([
        [0, {"content": [{"type": "text", "text": "Please help with task-00."}], "note": 1}],
        [3, {"content": "done", "role": "assistant"}]])))
    _set(root, "t2e.simulation_fields", _text(json.dumps(
        {"task_id": "task-00", "trial": 0, "duration": 1.25, "policy": "p"})))
    db, res = _import(tmp_path, reqs)
    (extra,) = db.conn.execute("SELECT extra_json FROM steps WHERE idx = 0").fetchone()
    assert json.loads(extra)["note"] == 1
    assert db.conn.execute("SELECT task_id, trial FROM episodes").fetchall() == [("task-00", 0)]


@pytest.mark.parametrize("key, value, why", [
    ("t2e.simulation_fields", _text("{not json"), "not JSON (Expecting property name"),
    ("t2e.simulation_fields", _text("[1, 2]"), "not an object (a list)"),
    ("t2e.simulation_fields", {"intValue": "5"}, "not text (a number)"),
    ("t2e.simulation_fields", _text('{"a":' * 5000 + "1" + "}" * 5000),
     "not JSON (nesting too deep"),
    ("t2e.message_fields", _text('{"x": 1}'), "not a list (an object)"),
    ("t2e.message_fields", _text('[[99, {"timestamp": "x"}, ["role"]]]'),
     "item [0]: message 99 is none of the 4 message(s)"),
    ("t2e.message_fields", _text('[[-1, {"content": "INJECTED"}]]'),
     "item [0]: message -1 is none of the 4 message(s)"),
    ("t2e.message_fields", _text('[[1, "x"]]'), "item [0] is no [k, {field: value}"),
    ("t2e.latencies", _text('["a", "b", -5, 1e308]'), "not one latency"),
    ("t2e.latencies", _text("[1.5]"), "for each of the 4 message(s)"),
    ("t2e.latencies", _text("[NaN, Infinity, 1, 2]"), "not JSON (field [0]: NaN"),
    ("t2e.simulation_keys", _text('["messages", "messages", 5]'), "not a list of texts"),
])
def test_a_malformed_field_is_left_out_and_said(tmp_path, worker, key, value, why):
    """Left out (the spans' values stay) and named in the run's warnings with why, counted
    per attribute: both episodes' roots carry it."""
    reqs, roots = _exported(tmp_path, n=2)
    for root in roots:
        _set(root, key, value)
    db, res = _import(tmp_path, reqs)
    warnings = res["warnings"]
    said = [w for w in warnings if w.startswith(f"{key} ")]
    assert len(said) == 1, warnings
    assert "ignored 2 time(s)" in said[0] and why in said[0], said[0]
    assert db.conn.execute("SELECT task_id, trial FROM episodes ORDER BY trial").fetchall() \
        == [("task-00", 0), ("task-00", 1)]
    assert db.conn.execute("SELECT content FROM steps WHERE idx = 0").fetchall() \
        == [("Please help with task-00.",)] * 2


def test_well_formed_fields_say_nothing(tmp_path, worker):
    reqs, _ = _exported(tmp_path, n=2)
    _, res = _import(tmp_path, reqs)
    assert not [w for w in res["warnings"] if w.startswith("t2e.")]


def test_an_otel_block_cannot_restate_the_roots_outcome_attributes(tmp_path, worker):
    """An OTel run's `otel` block rides in the fields; its root attributes are on the root
    span again (what `--reward-attr` maps): one it gives otherwise is refused."""
    reqs, (root,) = _exported(tmp_path)
    _set(root, "eval.score", {"intValue": "1"})
    block = {"key": "k", "attributes": {"eval.score": 1, "other": "x"}}
    _set(root, "t2e.simulation_fields", _text(json.dumps({"duration": 1.25, "otel": block})))
    db, _ = _import(tmp_path, reqs)  # (agreeing: taken)
    assert db.conn.execute("SELECT count(*) FROM episodes").fetchone() == (1,)
    block["attributes"]["eval.score"] = 0
    _set(root, "t2e.simulation_fields", _text(json.dumps({"duration": 1.25, "otel": block})))
    err = _refused(tmp_path, reqs)
    assert "t2e.simulation_fields: otel.attributes.eval.score 0 where the spans say 1" in err, err
