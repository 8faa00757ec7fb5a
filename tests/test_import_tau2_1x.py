"""tau2-bench 1.x results: full-duplex ticks, the directory layout, per-simulation reviews,
new termination reasons, new task fields, grader versions. Fixtures are hand-made from tau2's
data model (tests/fixtures/tau2_1x), no tau2 file is copied."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import store
from store.exporters import export_dict
from store.importers import import_path
from store.importers.tau2_ticks import messages_from_ticks

FIX = Path(__file__).parent / "fixtures" / "tau2_1x"


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "s.sqlite")


def steps_of(db, run_id, sim_id):
    return db.conn.execute(
        "SELECT s.role, s.content, s.tool_calls, s.tool_call_id, s.extra_json FROM steps s "
        "JOIN episodes e USING (episode_id) WHERE e.run_id = ? AND e.sim_id = ? ORDER BY s.idx",
        (run_id, sim_id)).fetchall()


def test_ticks_only_simulation_gets_its_steps(db):
    entry = import_path(db, FIX / "voice_run")
    rows = steps_of(db, entry["run_id"], "sim-voice-1")
    # was: zero steps (messages null, turns only in ticks)
    assert [(r[0], r[1]) for r in rows] == [
        ("user", "Hi, where is my order?"),
        ("assistant", "Sure, your name and zip please?"),
        ("user", "Ada Lane, 10001."),
        ("assistant", None),
        ("tool", "ada_lane_1"),
        ("assistant", "Thanks Ada, it ships tomorrow."),
        ("user", "Great, bye!"),
    ]
    call = json.loads(rows[3][2])
    assert call == [{"id": "call_1", "name": "find_user_id_by_name_zip",
                     "arguments": {"first_name": "Ada", "last_name": "Lane", "zip": "10001"},
                     "requestor": "assistant"}]
    assert rows[4][3] == "call_1"
    n = db.conn.execute("SELECT n_steps, n_tool_calls FROM episodes WHERE sim_id = ?",
                        ("sim-voice-1",)).fetchone()
    assert n == (7, 1)
    assert any("ticks" in w and "1 simulation" in w for w in entry["warnings"]), entry["warnings"]
    # the first user message keeps where it came from and its audio fields as metadata
    extra = json.loads(rows[0][4])
    assert extra["ticks"] == {"start": 0, "end": 1, "chunks": 2}
    assert extra["is_audio"] is True and extra["audio_path"].endswith("user_0.wav")
    assert entry["messages"] == 2 + 7


def test_ticks_run_exports_as_it_came(db):
    entry = import_path(db, FIX / "voice_run")
    out = export_dict(db, entry["run_id"])
    sims = {s["id"]: s for s in out["simulations"]}
    src = json.loads((FIX / "voice_run/simulations/sim-voice-1.json").read_text())
    assert sims["sim-voice-1"] == src  # messages stay null, ticks untouched
    src2 = json.loads((FIX / "voice_run/simulations/sim-text-2.json").read_text())
    assert sims["sim-text-2"] == src2  # audio message fields kept


def test_overlapping_speech_orders_by_start_and_bad_ticks_are_named(db, tmp_path):
    ticks = [{"tick_id": 0, "agent_chunk": {"content": "Let me "}, "user_chunk": {"content": "wait"}},
             {"tick_id": 1, "agent_chunk": {"content": "check."}}]
    msgs = messages_from_ticks(ticks)
    assert [(m["role"], m["content"]) for m in msgs] == [("assistant", "Let me check."),
                                                         ("user", "wait")]
    d = tmp_path / "bad"
    shutil.copytree(FIX / "voice_run", d)
    sim = json.loads((d / "simulations/sim-voice-1.json").read_text())
    sim["ticks"][2]["agent_tool_calls"] = "oops"
    (d / "simulations/sim-voice-1.json").write_text(json.dumps(sim))
    with pytest.raises(store.importers.ImportFailure) as exc:
        import_path(db, d)
    msg = str(exc.value)
    assert "sim-voice-1" in msg and "tick #2" in msg and "agent_tool_calls" in msg
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
