"""mini-airline (our STAND-IN airline world): deterministic generation, task shape and splits,
and the scripted agent + user there: the same candidate text runs on both domains, the retail
fixes carry over where the domain agrees, and the retail cross-order rule hurts for an airline
reason (free bags depend on this reservation's cabin and tier, not the first record found)."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from test_scripted_agent import BASELINE, FIX

from t2e_tui.engine.scripted import ScriptedAgent
from world.airline_db import AirlineDB
from world.domains import load_domain
from world.mini_airline import build
from world.mini_airline.tasks import CLASSES
from world.scoring import score_episode
from world.users import scripted_user

CLASS_NAMES = [c for c, _ in CLASSES]
# the retail rules whose class also exists on airline (same text, same behaviour)
CARRIED = ["write_without_confirmation", "multi_intent", "policy_refusal", "transfer_to_human"]


@pytest.fixture(scope="module")
def dom():
    return load_domain("mini-airline")


def test_same_seed_same_world_hash():
    from world.lock import world_hash
    from world.mini_airline.generator import generate
    from world.mini_airline.tasks import build_tasks

    def fresh(seed):
        db, ids, rng = generate(seed)
        tasks, splits = build_tasks(db, ids, rng)
        return world_hash("mini-airline", db, "p", tasks, splits, code={})[0]

    assert fresh(3) == fresh(3)
    assert fresh(3) != fresh(4)
    assert load_domain("mini-airline").world_hash == load_domain("mini-airline").world_hash
    a = build(0)
    a["db"]["users"].clear()
    assert build(0)["db"]["users"], "build() must hand out a fresh copy"


def test_records_load_as_a_tau2_airline_db(dom):
    db = build(0)["db"]
    AirlineDB.from_dict(db, "mini-airline")
    statuses = Counter(d["status"] for f in db["flights"].values() for d in f["dates"].values())
    assert {"available", "landed", "on time"} <= set(statuses)
    for rid, res in db["reservations"].items():
        assert rid in db["users"][res["user_id"]]["reservations"]
    assert dom.kind == "airline" and "airline" in dom.agent_preamble


def test_task_count_classes_and_splits(dom):
    assert len(dom.tasks) >= 100
    per = Counter((t.failure_class, t.split) for t in dom.tasks.values())
    for cls in CLASS_NAMES:
        for split in ("train", "dev", "heldout"):
            assert per[(cls, split)] >= 1
        assert per[(cls, "heldout")] >= 6, cls
    assert set(dom.splits) == {"train", "dev", "heldout"}
    assert sorted(sum(dom.splits.values(), [])) == sorted(dom.tasks)


def test_gold_actions_all_succeed(dom):
    for tid, task in dom.tasks.items():
        env = dom.new_env()
        for a in task.actions:
            res = env.call(a.name, a.arguments)
            assert not res.error, (tid, a.name, res.content)


def play(dom, task, candidate, seed=0, max_steps=80):
    """A tiny episode loop in tau2's order (greeting, user, agent); returns (passed, messages)."""
    agent, env, user = ScriptedAgent(), dom.new_env(), scripted_user(task, seed)
    prompt, tools, rng = dom.system_prompt(candidate), dom.tool_schemas(), random.Random(seed)
    msgs = [{"role": "assistant", "content": "Hi! How can I help you today?", "tool_calls": None}]
    reason = "max_steps"
    while len(msgs) < max_steps:
        text = user.reply(msgs)
        msgs.append({"role": "user", "content": text, "tool_calls": None})
        if "###STOP###" in text or "###TRANSFER###" in text:
            reason = "user_stop"
            break
        while len(msgs) < max_steps:
            r = agent.respond(prompt, msgs, tools, rng)
            assert bool(r.content) != bool(r.tool_calls), "one text or one tool call per turn"
            if not r.tool_calls:
                msgs.append({"role": "assistant", "content": r.content, "tool_calls": None})
                break
            (c,) = r.tool_calls
            msgs.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": c.id, "name": c.name, "arguments": c.arguments, "requestor": "assistant"}]})
            res = env.call(c.name, c.arguments)
            msgs.append({"role": "tool", "id": c.id, "content": res.content, "error": res.error,
                         "requestor": "assistant"})
    info = score_episode(task, msgs, reason, base_db=dom.base_db, grading="db-communicate")
    return info["reward"] == 1.0, msgs


def passed(dom, candidate, cls=None) -> set[str]:
    return {tid for tid, t in dom.tasks.items()
            if (cls is None or t.failure_class == cls) and play(dom, t, candidate)[0]}


def ids(dom, cls) -> set[str]:
    return {tid for tid, t in dom.tasks.items() if t.failure_class == cls}


@pytest.fixture(scope="module")
def baseline_passes(dom):
    return passed(dom, BASELINE)


def test_the_scripted_user_speaks_airline(dom):
    task = dom.tasks["air-bags-01"]
    opening = scripted_user(task).reply([{"role": "assistant", "content": "Hi!"}])
    scen = task.scenario
    assert scen["identity"]["user_id"] in opening
    assert scen["requests"][0]["reservation_id"] in opening
    assert "previous trip" in opening or "last time" in opening


@pytest.mark.parametrize("cls", CARRIED)
def test_retail_fix_rules_carry_over_without_regressions(dom, baseline_passes, cls):
    """The same rule text that fixes a retail class fixes its airline twin (the behaviours are
    switched by phrases, not by domain) and breaks nothing the baseline passed."""
    cand = BASELINE + "\n" + FIX[cls]
    now = passed(dom, cand)
    fixed = (now - baseline_passes) & ids(dom, cls)
    heldout = {t for t in fixed if dom.tasks[t].split == "heldout"}
    assert len(heldout) >= 6, (cls, sorted(fixed))
    assert baseline_passes <= now, sorted(baseline_passes - now)


def test_the_retail_cross_order_rule_hurts_on_airline(dom, baseline_passes):
    """Baseline computes paid bags from the tier and cabin and passes every stale-record task;
    the retail rule copies the first earlier reservation's counts and fails every one."""
    cls = ids(dom, "stale_record_reuse")
    assert cls <= baseline_passes
    cand = BASELINE + "\n" + FIX["cross_order_reference"]
    lost = baseline_passes - passed(dom, cand)
    assert lost == cls
    assert sum(1 for t in lost if dom.tasks[t].split == "heldout") >= 6
    ok, msgs = play(dom, dom.tasks["air-bags-01"], cand)
    looked = [m["tool_calls"][0]["arguments"]["reservation_id"] for m in msgs
              if m.get("tool_calls") and m["tool_calls"][0]["name"] == "get_reservation_details"]
    assert len(looked) == 2  # the reservation to change, then the first earlier one found


def test_episodes_reproduce_exactly(dom):
    task = dom.tasks["air-multi-01"]
    a = json.dumps(play(dom, task, BASELINE)[1])
    assert a == json.dumps(play(dom, task, BASELINE)[1])


def test_a_mini_airline_export_rescores_on_the_built_in_world(demo, tmp_path, monkeypatch):
    """The demo's mini-airline transfer run, exported as a tau2 file, re-scores without any
    data directory and agrees with every recorded reward."""
    from click.testing import CliRunner

    from t2e_tui.cli import cli

    monkeypatch.delenv("TAU2_DATA_DIR", raising=False)
    out = tmp_path / "air.json"
    res = CliRunner().invoke(cli, ["--store", demo["store"], "export", demo["transfer"]["run_id"],
                                   "--format", "tau2", "-o", str(out)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["score", str(out), "--json"])
    rep = json.loads(res.output)["files"][0]  # one shape for one file or many (#10)
    assert res.exit_code == 0 and rep["agree"] == rep["simulations"] == 40
