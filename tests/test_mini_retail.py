"""mini-retail: deterministic generation, task shape, splits and class coverage, gold actions."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from world.db import RetailDB
from world.mini_retail import build
from world.mini_retail.tasks import CLASSES
from world.tasks import parse_task
from world.tools import TOOL_KINDS, RetailEnv

FAILURE_CLASSES = [c for c, _ in CLASSES]


@pytest.fixture(scope="module")
def world():
    return build(0)


def test_same_seed_same_bytes_and_fresh_copies():
    a, b = build(0), build(0)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    a["db"]["users"].clear()
    assert build(0)["db"]["users"], "build() must hand out a fresh copy, not the cache"


def test_generation_is_deterministic_without_the_cache():
    from world.mini_retail.generator import generate
    from world.mini_retail.tasks import build_tasks

    def fresh(seed):
        db, ids, rng = generate(seed)
        tasks, splits = build_tasks(db, ids, rng)
        return json.dumps({"db": db, "tasks": tasks, "splits": splits}, sort_keys=True)

    assert fresh(3) == fresh(3)
    assert fresh(3) != fresh(4)


def test_different_seed_different_world(world):
    other = build(1)
    assert json.dumps(world["db"], sort_keys=True) != json.dumps(other["db"], sort_keys=True)
    assert [t["evaluation_criteria"]["actions"] for t in world["tasks"]] != \
        [t["evaluation_criteria"]["actions"] for t in other["tasks"]]


def test_records_have_every_status_and_payment_kind(world):
    db = world["db"]
    statuses = Counter(o["status"] for o in db["orders"].values())
    assert {"pending", "processed", "delivered", "cancelled"} <= set(statuses)
    kinds = Counter(pm["source"] for u in db["users"].values() for pm in u["payment_methods"].values())
    assert set(kinds) == {"credit_card", "paypal", "gift_card"}
    assert all(isinstance(pm["balance"], float) for u in db["users"].values()
               for pm in u["payment_methods"].values() if pm["source"] == "gift_card")
    tracked = [o for o in db["orders"].values() if o["fulfillments"]]
    assert any(o["status"] == "cancelled" for o in tracked)
    # every order is listed on its user and its payment matches its items
    for oid, o in db["orders"].items():
        assert oid in db["users"][o["user_id"]]["orders"]
        assert o["payment_history"][0]["amount"] == round(sum(i["price"] for i in o["items"]), 2)
    # the records load as a tau2 retail DB
    RetailDB.from_dict(db, "mini-retail")


def test_task_count_classes_and_splits(world):
    tasks = world["tasks"]
    assert len(tasks) >= 100
    assert len({t["id"] for t in tasks}) == len(tasks)
    per = Counter((t["t2e"]["failure_class"], t["t2e"]["split"]) for t in tasks)
    for cls in FAILURE_CLASSES:
        for split in ("train", "dev", "heldout"):
            assert per[(cls, split)] >= 1, (cls, split)
        assert per[(cls, "heldout")] >= 6, cls
    assert {t["t2e"]["failure_class"] for t in tasks} == set(FAILURE_CLASSES)
    split_ids = {name: set(ids) for name, ids in world["splits"].items()}
    assert set(split_ids) == {"train", "dev", "heldout"}
    assert sum(len(v) for v in split_ids.values()) == len(tasks)
    for t in tasks:
        assert t["id"] in split_ids[t["t2e"]["split"]]


def test_tasks_are_tau2_tasks_with_llm_user_instructions(world):
    for raw in world["tasks"]:
        task = parse_task(raw)
        ins = raw["user_scenario"]["instructions"]
        assert set(ins) == {"domain", "reason_for_call", "known_info", "unknown_info", "task_instructions"}
        assert ins["reason_for_call"] and ins["known_info"]
        crit = raw["evaluation_criteria"]
        assert crit["nl_assertions"] is None
        assert task.reward_basis in (["DB", "COMMUNICATE"], ["DB", "ACTION"])
        for a in crit["actions"]:
            assert a["name"] in TOOL_KINDS and a["requestor"] == "assistant"
            assert a["action_id"].startswith(raw["id"] + "_")
        scen = raw["t2e"]["scenario"]
        assert scen["requests"] and scen["identity"]["email"]
        assert task.summary == scen["summary"] and task.summary


def test_reward_basis_matches_how_the_class_fails(world):
    by_class = {}
    for t in world["tasks"]:
        by_class.setdefault(t["t2e"]["failure_class"], []).append(t)
    for t in by_class["auth_skipped"]:
        assert t["evaluation_criteria"]["reward_basis"] == ["DB", "ACTION"]
        assert t["evaluation_criteria"]["actions"][0]["name"].startswith("find_user_id_by_")
        assert t["t2e"]["scenario"]["states_user_id"]
    for t in by_class["transfer_to_human"]:
        (a,) = t["evaluation_criteria"]["actions"]
        assert a["name"] == "transfer_to_human_agents" and a["compare_args"] == []
    for t in by_class["cancelled_order_tracking"]:
        (tid,) = t["evaluation_criteria"]["communicate_info"]
        oid = t["t2e"]["scenario"]["requests"][0]["order_id"]
        order = world["db"]["orders"][oid]
        assert order["status"] == "cancelled"
        assert tid in order["fulfillments"][0]["tracking_id"]
    for t in by_class["multi_intent"]:
        assert len(t["t2e"]["scenario"]["requests"]) >= 2
    for t in by_class["policy_refusal"]:
        req = t["t2e"]["scenario"]["requests"][0]
        owner = world["db"]["orders"][req["order_id"]]["user_id"]
        assert owner != t["t2e"]["scenario"]["identity"]["user_id"]
        assert not [a for a in t["evaluation_criteria"]["actions"] if TOOL_KINDS[a["name"]] == "write"]


def test_every_gold_action_executes_without_error(world):
    db = RetailDB.from_dict(world["db"], "mini-retail")
    for t in world["tasks"]:
        env = RetailEnv(db)
        writes = 0
        for a in t["evaluation_criteria"]["actions"]:
            res = env.call(a["name"], a["arguments"])
            assert not res.error, (t["id"], a["name"], res.content)
            if a["name"].startswith("find_user_id"):
                # the customer's identity facts lead to exactly this customer
                assert res.content == t["t2e"]["scenario"]["identity"]["user_id"], t["id"]
            writes += TOOL_KINDS[a["name"]] == "write"
        if t["t2e"]["failure_class"] in ("cross_order_reference", "address_from_account", "multi_intent"):
            assert writes >= 1, t["id"]
            assert env.db != db, f"{t['id']}: gold writes changed nothing"


def test_policy_is_ours_and_states_the_rules(world):
    policy = world["policy"]
    for must in ("even when the customer tells you a user id", "explicit agreement",
                 "transfer_to_human_agents", "YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON.",
                 "fulfillments", "another customer"):
        assert must in policy, must


def test_domain_loads_with_a_stable_world_hash():
    from world.domains import load_domain

    dom = load_domain("mini-retail")
    assert len(dom.tasks) == len(build(0)["tasks"])
    assert dom.split_of(next(iter(dom.tasks))) in ("train", "dev", "heldout")
    assert dom.world_hash == load_domain("mini-retail").world_hash


def test_same_seed_same_world_hash():
    from world.lock import world_hash

    def wh(seed):
        w = build(seed)
        return world_hash("mini-retail", RetailDB.from_dict(w["db"]).to_dict(), w["policy"],
                          w["tasks"], w["splits"])[0]

    assert wh(0) == wh(0)
    assert wh(0) != wh(1)
