"""Builders for hand-made runs in a temporary store (used by the other test_gate_* files),
through the real write API (store.writer), plus a check that they build what they claim."""

from __future__ import annotations

from pathlib import Path

import store
from store import writer

WORLD = "w" * 64


def new_store(tmp_path: Path, name: str = "gate.sqlite"):
    """A fresh migrated store connection."""
    return store.connect(tmp_path / name)


def task_dict(task_id: str, actions: list[tuple[str, str]] | None = None) -> dict:
    """A tau2-shaped task with gold actions [(name, kind)]; the kind is carried by the
    reward_info's tool_type, the name is what the store keeps."""
    acts = [{"action_id": f"{task_id}_{i}", "name": n, "arguments": {}, "requestor": "assistant"}
            for i, (n, _k) in enumerate(actions or [])]
    return {"id": task_id, "user_scenario": {"instructions": "x"},
            "evaluation_criteria": {"actions": acts, "reward_basis": ["DB"]}}


def reward_info(reward: float, actions: list[tuple[str, str, bool]]) -> dict:
    """tau2 reward_info with action_checks carrying tool_type (v1 shape)."""
    return {
        "reward": reward,
        "db_check": {"db_match": reward == 1.0, "db_reward": reward},
        "action_checks": [
            {"action": {"action_id": f"a{i}", "name": n, "arguments": {}},
             "action_match": met, "action_reward": 1.0 if met else 0.0, "tool_type": k}
            for i, (n, k, met) in enumerate(actions)],
        "reward_basis": ["DB"],
        "reward_breakdown": {"DB": reward},
    }


DEFAULT_ACTIONS = [("get_order_details", "read"), ("cancel_pending_order", "write")]


def make_run(conn, name: str, outcomes: dict[str, list], *, role: str = "development",
             world_id: str = WORLD, domain: str = "mini-retail",
             candidate_hash: str | None = None, actions: dict | None = None,
             terminations: dict | None = None, max_steps: int = 30,
             manifest: dict | None = None, source_id: int | None = None,
             agent_model: str = "scripted") -> str:
    """A run whose task `t` has one episode per entry of outcomes[t] (reward floats, or None for
    an infrastructure error). `actions[t]` lists per-trial [(name, kind, met)] action checks
    (default: both gold actions met iff the episode succeeded). `terminations[t]` lists per-trial
    termination reasons (default user_stop)."""
    writer.ensure_world(conn, world_id, kind="lock", domain=domain)
    rid = writer.create_run(conn, name=name, role=role, world_id=world_id, domain=domain,
                            candidate_hash=candidate_hash,
                            num_trials=max(map(len, outcomes.values())),
                            max_steps=max_steps, manifest=manifest, source_id=source_id,
                            agent_model=agent_model)
    writer.put_tasks(conn, rid, [task_dict(t, DEFAULT_ACTIONS) for t in outcomes])
    ord_ = 0
    for tid, rewards in outcomes.items():
        for trial, r in enumerate(rewards):
            eid = writer.begin_episode(conn, rid, episode_key=f"{tid}:{trial}", task_id=tid,
                                       trial=trial, ord=ord_)
            ord_ += 1
            writer.append_step(conn, eid, 0, {"role": "assistant", "content": "Hi!"})
            if r is None:
                writer.finish_episode(conn, eid, termination_reason="infrastructure_error",
                                      reward_info=None)
                continue
            acts = ((actions or {}).get(tid) or [None] * len(rewards))[trial]
            if acts is None:
                ok = abs(r - 1.0) <= 1e-6
                acts = [(n, k, ok) for n, k in DEFAULT_ACTIONS]
            term = ((terminations or {}).get(tid) or ["user_stop"] * len(rewards))[trial]
            writer.finish_episode(conn, eid, termination_reason=term,
                                  reward_info=reward_info(r, acts), duration=1.5,
                                  agent_cost=0.01)
    return rid


def test_builder_makes_the_episodes_it_claims(tmp_path):
    conn = new_store(tmp_path)
    rid = make_run(conn, "b", {"1": [1.0, 0.0], "2": [None, 1.0]})
    rows = conn.execute("SELECT task_id, trial, reward, termination_reason FROM episodes "
                        "WHERE run_id = ? ORDER BY ord", (rid,)).fetchall()
    assert rows == [("1", 0, 1.0, "user_stop"), ("1", 1, 0.0, "user_stop"),
                    ("2", 0, None, "infrastructure_error"), ("2", 1, 1.0, "user_stop")]
    kinds = conn.execute("SELECT tool_kind, met FROM checks c JOIN episodes e USING(episode_id) "
                         "WHERE e.run_id = ? AND e.task_id = '1' ORDER BY e.trial, c.pos",
                         (rid,)).fetchall()
    assert kinds == [("read", 1), ("write", 1), ("read", 0), ("write", 0)]
