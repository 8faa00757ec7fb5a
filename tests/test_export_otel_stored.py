"""Import -> `t2e export --format otel` -> import gives back the stored episode, field by field:
every column of its episode, step and tool call rows and every key of their extra_json.

The export gave back every message, tool call and argument (the issue's bar), but not what
triage relies on beside them: every message's `raw_data` (the provider response the compare
screen's `x` shows), its `timestamp` and `turn_idx`, the episode's exact times and duration
(~1 ms off), tau2 1.x reviews, usage, policy, mode and audio/tick metadata, ATIF's
`reasoning_content`, `step_id`, `model_name` and a call's `extra`, an OTel message's
`provider`, an OTel trace's not-captured count; an untimed episode's steps came back with 1 ms
latencies and a tau2 run's with the gaps between its messages (store/export_otel_extra.py,
store/importers/otel_fidelity.py). Sources: a real retail run (../shared), the tau2 1.x
fixture, an ATIF fixture and OTel fixtures, each imported in one and two processes.

The differences kept (store/formats.md): the re-import of a run from another format records
the OTel file it read (`otel`), and a tau2 1.x simulation whose steps were rebuilt from its
ticks comes back with those steps as its messages (the ticks beside them).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from otel_fixture import (
    exported_and_back,
    new_convention_file,
    old_convention_file,
    openinference_file,
)

import store
from store.exporters import export_run
from store.importers import import_path

FIX = Path(__file__).parent / "fixtures"
# what places a row, not what it holds (a re-import orders episodes by time)
_EPISODE_IDS = ("episode_id", "run_id", "ord")
_STEP_IDS = ("step_id", "episode_id")


@pytest.fixture(params=["0", "1"], ids=["one-process", "two-process"])
def worker(request, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", request.param)


def _row(cols: list, values: tuple, skip: tuple) -> dict:
    out = {}
    for c, v in zip(cols, values):
        if c in skip:
            continue
        out[c] = json.loads(v) if c.endswith("_json") and v is not None else v
    return out


def stored(db, run_id: str) -> dict:
    """The run's episodes by episode key: every column of the episode row (its *_json
    decoded) but its ids and place, with `steps`: every column of each step row (the same
    way) and its tool call rows."""
    out = {}
    cur = db.conn.execute("SELECT * FROM episodes WHERE run_id = ?", (run_id,))
    cols = [d[0] for d in cur.description]
    for values in cur.fetchall():
        eid = values[0]
        ep = _row(cols, values, _EPISODE_IDS)
        sc = db.conn.execute("SELECT * FROM steps WHERE episode_id = ? ORDER BY idx", (eid,))
        scols = [d[0] for d in sc.description]
        steps = []
        for s in sc.fetchall():
            step = _row(scols, s, _STEP_IDS)
            step["calls"] = db.conn.execute(
                "SELECT pos, call_id, name, arguments, kind FROM tool_calls WHERE step_id = ? "
                "ORDER BY pos", (s[0],)).fetchall()
            steps.append(step)
        ep["steps"] = steps
        out[ep["episode_key"]] = ep
    return out


def differences(before: dict, after: dict) -> list[str]:
    """Every field that differs, named (episode key, step, column, extra_json key), less the
    differences kept: an `otel` block where the original had none (the re-import's record
    of the file it read, without trace attributes: `t2e show` lists none) and the note of a
    simulation whose steps came from its ticks."""
    out = []
    if set(before) != set(after):
        return [f"episodes {sorted(before)} -> {sorted(after)}"]
    for key, a in before.items():
        b = after[key]
        ax, bx = dict(a["extra_json"] or {}), dict(b["extra_json"] or {})
        if "otel" not in ax and "attributes" in bx.pop("otel", {}):  # (none to list)
            out.append(f"{key}: extra otel: trace attributes where the episode had none")
        meta = dict(ax.get("_t2e") or {})
        if meta.get("steps_from") == "ticks":
            meta.pop("steps_from")
            meta.get("raw", {}).pop("messages", None)
            meta = {k: v for k, v in meta.items() if v}
            ax.pop("_t2e")
            if meta:
                ax["_t2e"] = meta
        for f in sorted((set(a) | set(b)) - {"steps", "extra_json"}):
            if a.get(f) != b.get(f):
                out.append(f"{key}: {f}: {a.get(f)!r} -> {b.get(f)!r}")
        for f in sorted(set(ax) | set(bx)):
            if ax.get(f, "(absent)") != bx.get(f, "(absent)"):
                out.append(f"{key}: extra {f}: {str(ax.get(f, '(absent)'))[:80]} -> "
                           f"{str(bx.get(f, '(absent)'))[:80]}")
        if len(a["steps"]) != len(b["steps"]):
            out.append(f"{key}: {len(a['steps'])} steps -> {len(b['steps'])}")
            continue
        for i, (s, t) in enumerate(zip(a["steps"], b["steps"])):
            sx, tx = s["extra_json"] or {}, t["extra_json"] or {}
            for f in sorted((set(s) | set(t)) - {"extra_json"}):
                if s.get(f) != t.get(f):
                    out.append(f"{key} step {i}: {f}: {str(s.get(f))[:80]} -> "
                               f"{str(t.get(f))[:80]}")
            for f in sorted(set(sx) | set(tx)):
                if sx.get(f, "(absent)") != tx.get(f, "(absent)"):
                    out.append(f"{key} step {i}: extra {f}: {str(sx.get(f, '(absent)'))[:80]}"
                               f" -> {str(tx.get(f, '(absent)'))[:80]}")
    return out


def roundtrip(tmp_path: Path, src: Path) -> tuple[dict, dict, dict]:
    """(the run stored, the run after export and re-import, the re-import's summary)."""
    a, rid, b, back = exported_and_back(tmp_path, src)
    return stored(a, rid), stored(b, back["run_id"]), back


def test_a_real_retail_run_comes_back_field_by_field(tmp_path, worker, shared_results):
    """40 episodes: every message's raw_data, timestamp and turn_idx came back null, the
    durations ~1 ms off, and the steps had latencies (the gaps between messages) the file
    never recorded."""
    before, after, _ = roundtrip(tmp_path, shared_results[0])
    assert len(before) == 40
    raw = [s for e in before.values() for s in e["steps"] if "raw_data" in (s["extra_json"] or {})]
    assert len(raw) > 700 and all(s["timestamp"] for s in raw)
    assert differences(before, after) == []


def test_a_tau2_1x_run_comes_back_field_by_field(tmp_path, worker):
    """The voice run's reviews, usage, policy, mode, info, ticks and its messages' audio
    fields and tick ranges: the review header and every review line were gone."""
    before, after, _ = roundtrip(tmp_path, FIX / "tau2_1x" / "voice_run")
    voice = before["sim-voice-1"]["extra_json"]
    assert voice["review"]["critical_user_error"] is True and voice["mode"] == "full_duplex"
    assert any((s["extra_json"] or {}).get("is_audio") for s in before["sim-voice-1"]["steps"])
    assert differences(before, after) == []


def test_an_atif_trajectory_comes_back_field_by_field(tmp_path, worker):
    """ATIF: reasoning_content, step_id, model_name, a call's extra, the cached-token count
    under its own name, the subagent's reference, the trajectory block and the times."""
    before, after, _ = roundtrip(tmp_path, FIX / "atif" / "support_v17.json")
    step = before["traj-main"]["steps"][1]
    assert step["extra_json"]["reasoning_content"] == "Need the order first."
    assert json.loads(step["tool_calls"])[0]["extra"] == {"latency_ms": 12}
    assert differences(before, after) == []


def test_a_harbor_job_comes_back_field_by_field(tmp_path, worker):
    """A Harbor job (its trials' ATIF trajectories and verifier rewards)."""
    before, after, _ = roundtrip(tmp_path, FIX / "harbor" / "job_a")
    assert len(before) == 3
    assert differences(before, after) == []


@pytest.mark.parametrize("make", [new_convention_file, old_convention_file,
                                  openinference_file])
def test_an_otel_trace_comes_back_field_by_field(tmp_path, worker, make):
    """OTel: every message's provider, and the trace's own record (its trace ids, root
    attributes, the count of messages not captured) were lost."""
    before, after, _ = roundtrip(tmp_path, make(tmp_path / "src.jsonl"))
    assert differences(before, after) == []


def _jsonl(path: Path, episodes: list[dict]) -> Path:
    path.write_text("".join(json.dumps({"run": "r", **e}) + "\n" for e in episodes),
                    encoding="utf-8")
    return path


def _u(text, **kw):
    return {"role": "user", "content": text, **kw}


def _a(text, calls=None, **kw):
    return {"role": "assistant", "content": text, "tool_calls": calls, **kw}


@pytest.mark.parametrize("episodes", [
    # values the columns hold as their text, the message's own kept raw: a content that is a
    # list of blocks, integer call ids (they came back as their text, the raw values gone)
    pytest.param([{"id": "e", "task_id": "t", "messages": [
        _u([{"type": "text", "text": "hi"}]),
        _a(None, [{"id": 1, "name": "get", "arguments": {"a": 1}, "requestor": "assistant"}]),
        {"role": "tool", "id": 1, "content": "r", "error": False}, _a("done")]}],
        id="raw-values"),
    # keys of any name (one spelled like the store's own note), a message's model, provider,
    # costs and usage with a key no attribute has (total_tokens), seed and costs
    pytest.param([{"id": "e", "task_id": "t", "seed": 3, "agent_cost": 0.5, "user_cost": 0.1,
                   "reward": 1.0, "_t2e": {"y": 2}, "messages": [
                       _u("hi", _t2e={"x": 1}, cost=0.1, usage={"prompt_tokens": 3,
                                                                 "total_tokens": 5}),
                       _a("a", model="m1", provider="p", cost=0.5,
                          usage={"prompt_tokens": 10, "completion_tokens": 4})]}],
        id="any-keys"),
    # tau2 dual control (the user's own call and result), system turns, other choices
    pytest.param([{"id": "e", "task_id": "t", "messages": [
        {"role": "system", "content": "sys"},
        _u("hi", tool_calls=[{"id": "u1", "name": "toggle", "arguments": {},
                              "requestor": "user"}]),
        {"role": "tool", "id": "u1", "content": "on", "requestor": "user", "error": False},
        _a("one", unchosen_choices=[{"index": 1, "role": "assistant", "content": "two"}]),
        _u("bye"), {"role": "system", "content": "late"}]}], id="dual-control-and-choices"),
])
def test_a_json_lines_run_comes_back_field_by_field(tmp_path, worker, episodes):
    before, after, _ = roundtrip(tmp_path, _jsonl(tmp_path / "src.jsonl", episodes))
    assert differences(before, after) == []


def test_an_untimed_episode_comes_back_without_times_or_latencies(tmp_path, worker):
    """Its spans are laid out from the run's time, 1 ms apart (the root says t2e.time_source
    "run"): its steps came back with 1 ms latencies and the episode with the run's time."""
    src = tmp_path / "untimed.jsonl"
    src.write_text(json.dumps({"run": "u", "id": "e1", "task_id": "t", "messages": [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": None,
                                           "tool_calls": [{"id": "c", "name": "f",
                                                           "arguments": {}}]},
        {"role": "tool", "id": "c", "content": "r"}, {"role": "assistant", "content": "a"}]})
        + "\n", encoding="utf-8")
    before, after, _ = roundtrip(tmp_path, src)
    assert [s["latency_ms"] for s in after["e1"]["steps"]] == [None] * 4
    assert after["e1"]["start_time"] is None
    assert differences(before, after) == []


# -- our fields, damaged: refused as any file's would be, or left out --------------------------

def _exported(tmp_path: Path) -> tuple[dict, list]:
    """The OTLP request of a small JSON Lines episode, exported (a call, its result, answer),
    and its root span's attributes (a list: set one with _set)."""
    src = tmp_path / "src.jsonl"
    src.write_text(json.dumps({"run": "r", "id": "e1", "task_id": "t", "messages": [
        {"role": "user", "content": "q", "timestamp": "2026-01-01T00:00:00Z"},
        {"role": "assistant", "content": None, "raw_data": {"id": "resp-1"},
         "tool_calls": [{"id": "c", "name": "f", "arguments": {}}]},
        {"role": "tool", "id": "c", "content": "r"},
        {"role": "assistant", "content": "a"}]}) + "\n", encoding="utf-8")
    db = store.open_db(tmp_path / "src.sqlite")
    export_run(db, import_path(db, src)["run_id"], "otel", tmp_path / "o.jsonl")
    req = json.loads((tmp_path / "o.jsonl").read_text())
    return req, req["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]


def _set(attrs: list, key: str, text: str) -> None:
    attrs[:] = [a for a in attrs if a["key"] != key] + [
        {"key": key, "value": {"stringValue": text}}]


def _import(tmp_path: Path, req: dict):
    path = tmp_path / "damaged.jsonl"
    path.write_text(json.dumps(req) + "\n", encoding="utf-8")
    db = store.open_db(tmp_path / f"d{len(list(tmp_path.glob('d*.sqlite')))}.sqlite")
    return db, import_path(db, path)


@pytest.mark.parametrize("entries, what", [
    ('[[1, {"tool_calls": [1]}, ["role", "content", "tool_calls"]]]',
     "t2e.message_fields[0]: tool_calls should be a list of objects"),
    ('[[3, {}], [1, {"tool_calls": [{"id": "c", "name": 7}]}]]',
     "t2e.message_fields[1]: tool_calls[0].name should be a string, found int 7"),
    ('[[0, {"usage": {"prompt_tokens": -5}}]]',
     "t2e.message_fields[0]: usage.prompt_tokens is negative (-5)"),
])
def test_damaged_message_fields_are_refused_naming_the_attribute(tmp_path, worker, entries,
                                                                 what):
    """What the store refuses from any file (calls that are no list of objects, a call's name
    that is no text, a negative token count) is refused from our fields too, naming the root
    span and the item; nothing is stored. (The OTel import's own messages skip those checks:
    they are made to pass them.)"""
    from store.importers.common import ImportFailure

    req, attrs = _exported(tmp_path)
    _set(attrs, "t2e.message_fields", entries)
    with pytest.raises(ImportFailure) as exc:
        _import(tmp_path, req)
    assert "invoke_agent" in str(exc.value) and what in str(exc.value), str(exc.value)
    db = store.open_db(tmp_path / "d0.sqlite")
    assert db.conn.execute("SELECT count(*) FROM episodes").fetchone() == (0,)


@pytest.mark.parametrize("key, text", [
    ("t2e.message_fields", "not json"), ("t2e.message_fields", '{"1": {}}'),
    ("t2e.message_fields", '[[9, {"x": 1}], [1, "x"], ["1", {"x": 1}], [1, {"x": 1}, 5, 6]]'),
    ("t2e.latencies", "[1, 2]"), ("t2e.latencies", "[1, 2, -3, 4]"),
    ("t2e.latencies", '[1, 2, "3", 4]'), ("t2e.simulation_fields", "[1]"),
    ("t2e.simulation_keys", '["id", 3]'),
])
def test_fields_of_another_shape_are_left_out(tmp_path, worker, key, text):
    """A field of another shape (no JSON, no list of [k, {...}, [...]], a k past the
    messages, a latency list that is not one number or null per message) changes nothing, as
    our export's other fields of the wrong type: the episode is what its spans say."""
    req, attrs = _exported(tmp_path)
    _set(attrs, key, text)
    db, _ = _import(tmp_path, req)
    assert [json.loads(x or "{}").get("x") for (x,) in db.conn.execute(
        "SELECT extra_json FROM steps ORDER BY idx")] == [None] * 4
    if key != "t2e.latencies":
        return
    attrs[:] = [a for a in attrs if a["key"] != key]
    spans_own, _ = _import(tmp_path, req)
    q = "SELECT latency_ms FROM steps ORDER BY idx"
    assert db.conn.execute(q).fetchall() == spans_own.conn.execute(q).fetchall()
    assert spans_own.conn.execute(q).fetchall()[1:3] == [(1.0,), (1.0,)]


def test_a_simulation_field_of_the_wrong_type_is_refused_as_any_files(tmp_path, worker):
    """The fields set the simulation's keys, which are checked as any file's are."""
    from store.importers.common import ImportFailure

    req, attrs = _exported(tmp_path)
    _set(attrs, "t2e.simulation_fields", '{"duration": "long"}')
    _set(attrs, "t2e.simulation_keys", '["id", "task_id", "duration", "messages"]')
    with pytest.raises(ImportFailure, match="field 'duration' should be a number, found str"):
        _import(tmp_path, req)


def test_untrusted_field_text_is_stored_as_text(tmp_path):
    """Markup and control characters in a carried field are text like any other (shown
    escaped by every display): stored as given."""
    req, attrs = _exported(tmp_path)
    hostile = "[bold]x[/bold] \x1b[31m"
    _set(attrs, "t2e.message_fields", json.dumps([[0, {"note": hostile}]]))
    db, _ = _import(tmp_path, req)
    (extra,) = db.conn.execute("SELECT extra_json FROM steps WHERE idx = 0").fetchone()
    assert json.loads(extra)["note"] == hostile
