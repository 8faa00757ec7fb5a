"""Small tau2-shaped results built on the spot for the store tests (no ../shared needed).

Imported by the other test_store_/test_import_/test_export_/test_cli_store modules; the one test
here checks the builder itself produces what those tests assume.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path


def make_task(tid: str, user: str, order: str) -> dict:
    return {
        "id": tid,
        "description": {"purpose": None, "relevant_policies": None, "notes": None},
        "user_scenario": {"persona": None, "instructions": {
            "domain": "retail", "reason_for_call": f"cancel order {order}",
            "known_info": f"user {user}", "unknown_info": None, "task_instructions": "be brief"}},
        "initial_state": None,
        "evaluation_criteria": {
            "actions": [
                {"action_id": f"{tid}_0", "requestor": "assistant", "name": "get_user_details",
                 "arguments": {"user_id": user}, "info": None, "compare_args": None},
                {"action_id": f"{tid}_1", "requestor": "assistant",
                 "name": "cancel_pending_order",
                 "arguments": {"order_id": order, "reason": "no longer needed"}, "info": None,
                 "compare_args": None}],
            "env_assertions": None, "communicate_info": ["cancelled"], "nl_assertions": None,
            "reward_basis": ["DB", "COMMUNICATE"]},
    }


TASKS = [make_task("0", "ava_lee_1", "#W1000001"), make_task("1", "bo_kim_2", "#W1000002"),
         make_task("2", "cy_ng_3", "#W1000003")]


def make_sim(i: int, task: dict, *, reward: float = 1.0, termination: str = "user_stop",
             error: bool = False, nl: bool = False) -> dict:
    acts = task["evaluation_criteria"]["actions"]
    user = acts[0]["arguments"]["user_id"]
    order = acts[1]["arguments"]["order_id"]
    msgs = [
        {"role": "assistant", "content": "Hi! How can I help you today?", "tool_calls": None,
         "turn_idx": 0, "timestamp": "2025-08-01T10:00:00", "cost": 0.0, "usage": None},
        {"role": "user", "content": f"Please cancel {order}. I am {user}.", "tool_calls": None,
         "turn_idx": 1, "timestamp": "2025-08-01T10:00:01", "cost": 0.001,
         "usage": {"prompt_tokens": 10, "completion_tokens": 5}},
        {"role": "assistant", "content": None, "turn_idx": 2, "timestamp": "2025-08-01T10:00:02",
         "cost": 0.002, "usage": {"prompt_tokens": 100, "completion_tokens": 20},
         "tool_calls": [{"id": f"call_{i}_a", "name": "get_user_details",
                         "arguments": {"user_id": user}, "requestor": "assistant"}],
         "raw_data": {"finish_reason": "tool_calls", "index": 0}},
        {"role": "tool", "id": f"call_{i}_a", "content":
            "Error: user not found" if error else json.dumps({"user_id": user,
                                                              "orders": [order]}),
         "requestor": "assistant", "error": error, "turn_idx": 3,
         "timestamp": "2025-08-01T10:00:03"},
        {"role": "assistant", "content": f"Your order {order} is cancelled. [bold]done[/bold]",
         "tool_calls": None, "turn_idx": 4, "timestamp": "2025-08-01T10:00:04", "cost": 0.002,
         "usage": {"prompt_tokens": 120, "completion_tokens": 12}},
        {"role": "user", "content": "Thanks! ###STOP###", "tool_calls": None, "turn_idx": 5,
         "timestamp": "2025-08-01T10:00:05", "cost": 0.001, "usage": None},
    ]
    basis = ["DB", "NL_ASSERTION"] if nl else ["DB", "COMMUNICATE"]
    return {
        "id": f"sim-{i:04d}", "task_id": task["id"], "timestamp": "2025-08-01T10:00:00",
        "start_time": "2025-08-01T10:00:00", "end_time": "2025-08-01T10:00:06",
        "duration": 6.5, "termination_reason": termination, "agent_cost": 0.004,
        "user_cost": 0.002,
        "reward_info": {
            "reward": reward, "db_check": {"db_match": reward == 1.0, "db_reward": reward},
            "env_assertions": [],
            # copies: a caller that edits a check must not edit the module's TASKS (the
            # hostile-output tests did, and later tests in the process saw their names)
            "action_checks": [{"action": copy.deepcopy(a), "action_match": True,
                               "action_reward": 1.0} for a in acts],
            "nl_assertions": [{"nl_assertion": "agent cancelled", "met": True,
                               "justification": "it did"}] if nl else [],
            "communicate_checks": [{"info": "cancelled", "met": True, "justification": "ok"}],
            "reward_basis": basis, "reward_breakdown": {basis[0]: reward, basis[1]: 1.0},
            "info": {"note": None}},
        "messages": msgs, "trial": 0, "seed": 1000 + i,
    }


def make_results(n_sims: int = 4, **kw) -> dict:
    """A tau2 v0-style results dict: timestamp, info, tasks (3), simulations."""
    sims = []
    for i in range(n_sims):
        task = TASKS[i % len(TASKS)]
        sims.append(make_sim(i, task, reward=0.0 if i % 4 == 3 else 1.0, **kw))
    return {
        "timestamp": "2025-08-01T10:00:00.000001",
        "info": {"git_commit": "abc", "num_trials": 1, "max_steps": 200, "max_errors": 10,
                 "user_info": {"implementation": "user_simulator", "llm": "user-llm",
                               "llm_args": {}, "global_simulation_guidelines": "be a user"},
                 "agent_info": {"implementation": "llm_agent", "llm": "agent-llm",
                                "llm_args": {"temperature": 0.0}},
                 "environment_info": {"domain_name": "retail", "policy": "# Policy\nbe nice",
                                      "tool_defs": None},
                 "seed": 300},
        "tasks": copy.deepcopy(TASKS),
        "simulations": sims,
    }


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def test_builder_shape() -> None:
    r = make_results(4)
    assert [s["task_id"] for s in r["simulations"]] == ["0", "1", "2", "0"]
    assert [s["reward_info"]["reward"] for s in r["simulations"]] == [1.0, 1.0, 1.0, 0.0]
    assert sum(len(s["messages"]) for s in r["simulations"]) == 24
