"""`t2e export --format otel` of a tau2 1.x run carries what the detail pane shows beside the
messages: the simulation's reviews (review, user_only_review, hallucination_check,
auth_classification), its agent_usage, per-simulation policy and mode, and each message's
audio and tick metadata (store/export_otel_extra.py: `t2e.simulation_fields` and
`t2e.message_fields` on the root). It dropped them all. The import reads them back
(test_export_otel_stored.py compares the stored episodes field by field)."""

from __future__ import annotations

import json
from pathlib import Path

import store
from store.exporters import export_dict, export_run
from store.importers import import_path

FIX = Path(__file__).parent / "fixtures" / "tau2_1x" / "voice_run"


def test_a_1x_runs_reviews_and_audio_metadata_ride_on_the_root(tmp_path):
    db = store.open_db(tmp_path / "a.sqlite")
    rid = import_path(db, FIX)["run_id"]
    out = tmp_path / "o.jsonl"
    export_run(db, rid, "otel", out)
    sims = {s["id"]: s for s in export_dict(db, rid)["simulations"]}
    roots = []
    for line in out.read_text().splitlines():
        spans = json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"]
        roots.append({a["key"]: a["value"].get("stringValue") for a in spans[0]["attributes"]})
    voice = next(r for r in roots if r["t2e.sim_id"] == "sim-voice-1")
    sim = sims["sim-voice-1"]
    fields = json.loads(voice["t2e.simulation_fields"])
    for key in ("review", "user_only_review", "hallucination_check", "auth_classification",
                "agent_usage", "policy"):
        assert fields[key] == sim[key], key
    assert fields["review"]["critical_user_error"] is True  # (the flag the header shows)
    meta = {k: fields for k, fields, _ in json.loads(voice["t2e.message_fields"])}
    steps = db.conn.execute("SELECT s.idx, s.extra_json FROM steps s JOIN episodes e USING "
                            "(episode_id) WHERE e.sim_id = 'sim-voice-1' ORDER BY idx")
    for idx, extra in steps:
        ex = json.loads(extra or "{}")
        if ex.get("is_audio"):
            assert meta[idx]["is_audio"] is True and meta[idx]["ticks"] == ex["ticks"]
    assert meta[0]["audio_path"] == "artifacts/sim-voice-1/user_0.wav"
    # the round trip gives them back, and the review header with them
    db2 = store.open_db(tmp_path / "b.sqlite")
    import_path(db2, out)
    (extra,) = db2.conn.execute("SELECT extra_json FROM episodes WHERE sim_id = 'sim-voice-1'"
                                ).fetchone()
    extra = json.loads(extra)
    for key in ("review", "user_only_review", "hallucination_check", "auth_classification",
                "agent_usage", "policy", "mode"):
        assert extra[key] == sim[key], key
    q = "SELECT role, content, extra_json FROM steps ORDER BY episode_id, idx"
    assert sorted(db2.conn.execute(q).fetchall(), key=repr) == \
        sorted(db.conn.execute(q).fetchall(), key=repr)


def test_they_are_not_trace_attributes(tmp_path):
    """Read back into the episode, they are not kept a second time among the attributes
    of the trace (`--reward-attr` candidates, the trace attributes `t2e show` lists)."""
    from store.outcomes import trace_attributes

    db = store.open_db(tmp_path / "a.sqlite")
    rid = import_path(db, FIX)["run_id"]
    export_run(db, rid, "otel", tmp_path / "o.jsonl")
    db2 = store.open_db(tmp_path / "b.sqlite")
    import_path(db2, tmp_path / "o.jsonl")
    for (extra,) in db2.conn.execute("SELECT extra_json FROM episodes"):
        assert trace_attributes(json.loads(extra)) == {}  # (as before the round trip)
    # nor in the attributes an OTel-sourced episode keeps (its own block comes back)
    src = _otel_source(tmp_path / "otel.jsonl")
    db3 = store.open_db(tmp_path / "c.sqlite")
    rid = import_path(db3, src)["run_id"]
    export_run(db3, rid, "otel", tmp_path / "o3.jsonl")
    text = (tmp_path / "o3.jsonl").read_text()
    assert "t2e.simulation_fields" in text and "t2e.message_fields" in text
    db4 = store.open_db(tmp_path / "d.sqlite")
    import_path(db4, tmp_path / "o3.jsonl")
    for (extra,) in db4.conn.execute("SELECT extra_json FROM episodes"):
        attrs = trace_attributes(json.loads(extra))
        assert attrs and not [k for k in attrs if k.startswith("t2e.")]


def _otel_source(path: Path) -> Path:
    from otel_fixture import new_convention_file

    return new_convention_file(path)
