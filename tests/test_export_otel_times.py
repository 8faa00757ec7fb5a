"""`t2e export --format otel` of a run whose episodes and messages carry no times: OTLP makes a
span's start time "semantically required" (fixed64 nanoseconds; proto3 JSON reads an absent
one as 0), and 0 is 1970-01-01, a time no episode had. Such an episode's spans are laid out
from the run's own time (its file's `timestamp`, else when t2e made the run), in message
order, and the root says so (`t2e.time_source` "run")."""

from __future__ import annotations

import json

from test_store_data import make_results, write_json

import store
from store.exporters import export_run
from store.importers import import_path

RUN_TIME_NS = 1_754_042_400_000_001_000  # 2025-08-01T10:00:00.000001 (UTC), make_results'


def _untimed(tmp_path, **kw):
    r = make_results(4, **kw)
    for s in r["simulations"]:
        for k in ("start_time", "end_time", "timestamp", "duration"):
            s.pop(k, None)
        for m in s["messages"]:
            m.pop("timestamp", None)
    return write_json(tmp_path / "untimed.json", r), r


def _spans(path):
    out = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        out.append(d["resourceSpans"][0]["scopeSpans"][0]["spans"])
    return out


def test_an_untimed_run_is_laid_out_from_the_runs_time(tmp_path):
    db = store.open_db(tmp_path / "a.sqlite")
    p, _ = _untimed(tmp_path)
    rid = import_path(db, p)["run_id"]
    out = tmp_path / "o.jsonl"
    export_run(db, rid, "otel", out)
    for spans in _spans(out):
        root, rest = spans[0], spans[1:]
        assert int(root["startTimeUnixNano"]) == RUN_TIME_NS
        attrs = {a["key"]: a["value"] for a in root["attributes"]}
        assert attrs["t2e.time_source"] == {"stringValue": "run"}
        starts = [int(s["startTimeUnixNano"]) for s in rest]
        assert starts == sorted(starts) and starts[0] >= RUN_TIME_NS  # message order kept
        assert all(int(s["endTimeUnixNano"]) <= int(root["endTimeUnixNano"]) for s in rest)


def test_an_untimed_runs_round_trip_keeps_its_episodes_and_order(tmp_path):
    db = store.open_db(tmp_path / "a.sqlite")
    p, _ = _untimed(tmp_path)
    rid = import_path(db, p)["run_id"]
    out = tmp_path / "o.jsonl"
    export_run(db, rid, "otel", out)
    db2 = store.open_db(tmp_path / "b.sqlite")
    entry = import_path(db2, out)
    # every span has its start time: the import has nothing to place by file order
    assert not [w for w in entry["warnings"] if "no start time" in w]
    got = db2.conn.execute("SELECT sim_id, start_time, reward FROM episodes ORDER BY ord"
                           ).fetchall()
    was = db.conn.execute("SELECT sim_id, reward FROM episodes ORDER BY ord").fetchall()
    assert [(s, r) for s, _, r in got] == was
    # laid out from the run's time on the way, the episodes and steps come back as untimed
    # as they went out: no start time, and no latency (the spans' 1 ms were made up)
    assert {t for _, t, _ in got} == {None}
    steps = "SELECT role, content, tool_calls, latency_ms FROM steps ORDER BY episode_id, idx"
    assert {x[3] for x in db.conn.execute(steps)} == {None}
    assert db2.conn.execute(steps).fetchall() == db.conn.execute(steps).fetchall()


def test_a_timed_episode_keeps_its_own_times(tmp_path):
    db = store.open_db(tmp_path / "a.sqlite")
    r = make_results(1)
    rid = import_path(db, write_json(tmp_path / "t.json", r))["run_id"]
    out = tmp_path / "o.jsonl"
    export_run(db, rid, "otel", out)
    (spans,) = _spans(out)
    attrs = {a["key"] for a in spans[0]["attributes"]}
    assert "t2e.time_source" not in attrs
    assert int(spans[0]["startTimeUnixNano"]) != RUN_TIME_NS
