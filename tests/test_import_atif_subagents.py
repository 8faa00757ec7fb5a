"""ATIF subagent trajectories belong to their parent's episode (review s15 S4), and an agent
step's `reasoning_content` is shown wherever a step's metadata is (review s15 C4).

Before: each embedded subagent trajectory was an episode whose task was
`<parent trajectory id>/<sub trajectory id>`; real trajectory ids are UUIDs, so two runs never
shared those tasks and the gate refused them ("cover different task sets"). And the reasoning
an ATIF step carried was stored but shown by nothing (`t2e show`, `--full`, the detail pane).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from click.testing import CliRunner

import store
from store.importers import import_path
from t2e_tui.cli import cli
from t2e_tui.reviews import step_lines

FIX = Path(__file__).parent / "fixtures" / "atif"


def _steps(db, run_id=None):
    return db.conn.execute(
        "SELECT s.role, s.content, s.extra_json FROM steps s JOIN episodes e USING "
        "(episode_id) ORDER BY e.episode_id, s.idx").fetchall()


def test_a_subagent_is_part_of_its_parents_episode(tmp_path):
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, FIX / "support_v17.json")
    assert entry["episodes"] == 1
    assert db.conn.execute("SELECT task_id FROM episodes").fetchall() == [("refund-7",)]
    rows = _steps(db)
    # the subagent's messages follow the observation that refers to it (step 4's result)
    assert [(r[0], r[1]) for r in rows] == [
        ("user", "Refund order #W7, it arrived broken."),
        ("assistant", "Let me look it up."), ("tool", '{"status": "delivered"}'),
        ("assistant", None), ("tool", "refunds allowed"),
        ("user", "check policy"), ("assistant", "refunds allowed"),
        ("assistant", "Your refund is on its way.")]
    marks = [json.loads(r[2] or "{}").get("subagent") for r in rows]
    assert marks == [None] * 5 + ["traj-sub", "traj-sub", None]
    (extra,), = db.conn.execute("SELECT extra_json FROM episodes").fetchall()
    (sub,) = json.loads(extra)["atif"]["subagents"]
    assert sub["trajectory_id"] == "traj-sub" and sub["at_message"] == 5
    assert sub["messages"] == 2 and sub["agent"]["name"] == "policy-checker"
    assert any("kept in their parent's episode" in w for w in entry["warnings"])


def _with_subagents(tid: str, task: str, reward: float, nested: bool = False) -> dict:
    sub_id, inner_id = str(uuid.uuid4()), str(uuid.uuid4())
    inner = {"schema_version": "ATIF-v1.7", "trajectory_id": inner_id,
             "agent": {"name": "inner", "version": "1"},
             "steps": [{"step_id": 1, "source": "agent", "message": "deep"}]}
    sub = {"schema_version": "ATIF-v1.7", "trajectory_id": sub_id,
           "agent": {"name": "helper", "version": "1"},
           "steps": [{"step_id": 1, "source": "user", "message": "look it up"},
                     {"step_id": 2, "source": "agent", "message": "found"}]}
    if nested:
        sub["subagent_trajectories"] = [inner]
    return {"schema_version": "ATIF-v1.7", "trajectory_id": tid,
            "agent": {"name": "a", "version": "1"}, "extra": {"task_id": task, "reward": reward},
            "steps": [{"step_id": 1, "source": "user", "message": "help"},
                      {"step_id": 2, "source": "agent", "message": "",
                       "tool_calls": [{"tool_call_id": "d1", "function_name": "delegate",
                                       "arguments": {}}],
                       "observation": {"results": [{"source_call_id": "d1", "content": "ok",
                                                    "subagent_trajectory_ref": [
                                                        {"trajectory_id": sub_id}]}]}},
                      {"step_id": 3, "source": "agent", "message": "done"}],
            "subagent_trajectories": [sub]}


def test_two_runs_with_subagents_gate_on_their_tasks(tmp_path):
    """The reviewer's repro: two runs of 4 trajectories with a subagent each (UUID ids) were
    refused by the gate (8 tasks each, half of them `<uuid>/<uuid>`)."""
    s = str(tmp_path / "s.sqlite")
    for name, rewards in (("a", [1, 1, 0, 1]), ("b", [1, 0, 0, 1])):
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps([_with_subagents(str(uuid.uuid4()), f"t{i}", r,
                                                 nested=(i == 0))
                                 for i, r in enumerate(rewards)]))
        res = CliRunner().invoke(cli, ["--store", s, "import", str(p), "--name", name])
        assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["--store", s, "gate", "a", "b", "--reward-attr", "reward",
                                   "--json"])
    assert res.exit_code in (1, 3, 4), res.output
    doc = json.loads(res.stdout)
    assert doc["metrics"]["baseline"]["reward"] == 0.75
    assert doc["metrics"]["candidate"]["reward"] == 0.5
    assert "lack" not in res.output  # no unscored subagent episodes
    db = store.open_db(s)
    assert sorted({t for (t,) in db.conn.execute("SELECT task_id FROM episodes")}) == [
        "t0", "t1", "t2", "t3"]
    # a subagent's own subagent: inside the subagent's messages, marked with both ids
    marks = [json.loads(e or "{}").get("subagent") for (e,) in db.conn.execute(
        "SELECT s.extra_json FROM steps s JOIN episodes e USING (episode_id) WHERE e.ord = 0 "
        "AND e.run_id = (SELECT run_id FROM runs WHERE name = 'a') ORDER BY s.idx")]
    assert [m.count("/") for m in marks if m] == [0, 0, 1]


def test_reasoning_and_subagent_are_shown_with_the_step(tmp_path):
    db = store.open_db(tmp_path / "s.sqlite")
    import_path(db, FIX / "support_v17.json")
    rows = db.conn.execute("SELECT extra_json FROM steps ORDER BY idx").fetchall()
    assert step_lines({"extra_json": rows[1][0]}) == ["reasoning: Need the order first."]
    assert step_lines({"extra_json": rows[5][0]}) == ["subagent: traj-sub"]


def test_show_prints_reasoning(tmp_path):
    s = str(tmp_path / "s.sqlite")
    res = CliRunner().invoke(cli, ["--store", s, "import", str(FIX / "support_v17.json")])
    assert res.exit_code == 0, res.output
    for args in ([], ["--full"]):
        res = CliRunner().invoke(cli, ["--store", s, "show", "support_v17:refund-7", *args])
        assert res.exit_code == 0, res.output
        assert "reasoning: Need the order first." in res.output, res.output
        assert "subagent: traj-sub" in res.output
