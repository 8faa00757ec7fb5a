"""Scripted agent <-> scripted user <-> world episodes, scored by world.scoring.

Shows what the stand-in is for: the baseline fails the failure classes, one rule line per class
fixes its class without breaking others, harmful lines really regress, noise gives variance.
"""

from __future__ import annotations

import random

import pytest
from test_scripted_agent import BASELINE, FIX

from t2e_tui.engine.scripted import ScriptedAgent
from world.domains import load_domain
from world.scoring import score_episode
from world.users import ScriptedUser

SKIP_CONFIRM = BASELINE + "\n- Skip confirmations to save time."
ALL_FIXES = BASELINE + "\n" + "\n".join(FIX.values())


@pytest.fixture(scope="module")
def dom():
    return load_domain("mini-retail")


def play(dom, task, candidate, agent=None, seed=0, max_steps=80):
    """A tiny episode loop in tau2's order: greeting, user, agent (tool calls answered by the world)."""
    agent = agent or ScriptedAgent()
    env, user = dom.new_env(), ScriptedUser(task, seed)
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


def passed(dom, candidate, cls=None, split=None, **kw) -> set[str]:
    return {tid for tid, t in dom.tasks.items()
            if (cls is None or t.failure_class == cls) and (split is None or t.split == split)
            and play(dom, t, candidate, **kw)[0]}


def ids(dom, cls=None, split=None) -> set[str]:
    return {tid for tid, t in dom.tasks.items()
            if (cls is None or t.failure_class == cls) and (split is None or t.split == split)}


def test_baseline_fails_cross_order_and_the_rule_fixes_it(dom):
    heldout = ids(dom, "cross_order_reference", "heldout")
    assert len(heldout) >= 6
    assert passed(dom, BASELINE, "cross_order_reference", "heldout") == set()
    assert passed(dom, BASELINE + "\n" + FIX["cross_order_reference"], "cross_order_reference") == \
        ids(dom, "cross_order_reference")


@pytest.mark.slow
def test_every_class_fails_on_baseline_and_its_rule_fixes_it_without_regressions(dom):
    base = passed(dom, BASELINE)
    for cls, line in FIX.items():
        cls_ids = ids(dom, cls)
        assert len(cls_ids & base) <= len(cls_ids) // 2, f"baseline passes too much of {cls}"
        fixed = passed(dom, BASELINE + "\n" + line)
        assert cls_ids <= fixed, (cls, sorted(cls_ids - fixed))
        assert base <= fixed, (cls, "regressed", sorted(base - fixed))
    assert passed(dom, ALL_FIXES) == set(dom.tasks)


def test_skip_confirmations_really_regresses(dom):
    base = passed(dom, BASELINE)
    harmful = passed(dom, SKIP_CONFIRM)
    lost = base - harmful
    assert lost, "skipping confirmations must lose tasks the baseline passes"
    assert all(dom.tasks[t].failure_class == "write_without_confirmation" for t in lost)
    unwanted = {t for t in ids(dom, "write_without_confirmation")
                if dom.tasks[t].scenario["requests"][0]["confirm"] in ("no", "hesitant_no")}
    still = passed(dom, ALL_FIXES + "\n- Skip confirmations to save time.", "write_without_confirmation")
    assert unwanted and not (still & unwanted)
    assert passed(dom, SKIP_CONFIRM, split="heldout") < passed(dom, BASELINE, split="heldout")


def test_each_fix_flips_at_least_six_heldout_tasks_of_its_class(dom):
    """The gate's paired test needs six fixes in the heldout to see a one-class improvement."""
    base = passed(dom, BASELINE, split="heldout")
    for cls, line in FIX.items():
        flipped = passed(dom, BASELINE + "\n" + line, cls, "heldout") - base
        assert len(flipped) >= 6, (cls, sorted(flipped))


def test_transferring_upset_customers_really_regresses(dom):
    good = passed(dom, ALL_FIXES)
    harmful = passed(dom, ALL_FIXES + "\n- Transfer every upset customer to a human.")
    lost = good - harmful
    assert lost and all(dom.tasks[t].scenario["mood"] == "frustrated" for t in lost)
    assert len({dom.tasks[t].failure_class for t in lost}) >= 4
    assert lost & ids(dom, split="heldout")
    # and it is no improvement over the baseline on the heldout either
    upset = BASELINE + "\n- Transfer every upset customer to a human."
    assert passed(dom, upset, split="heldout") <= passed(dom, BASELINE, split="heldout")


def test_a_scripted_episode_reproduces_exactly(dom):
    task = dom.tasks[sorted(ids(dom, "multi_intent"))[0]]
    ok1, m1 = play(dom, task, ALL_FIXES, seed=3)
    ok2, m2 = play(dom, task, ALL_FIXES, seed=3)
    assert ok1 and m1 == m2


def test_noise_gives_variance_across_seeds(dom):
    heldout = ids(dom, split="heldout")
    agent = ScriptedAgent(noise=0.1)
    counts = [sum(play(dom, dom.tasks[t], ALL_FIXES, agent=agent, seed=s)[0] for t in sorted(heldout))
              for s in range(4)]
    assert len(set(counts)) > 1, counts
    assert max(counts) < len(heldout) or min(counts) < len(heldout)
    again = [sum(play(dom, dom.tasks[t], ALL_FIXES, agent=agent, seed=s)[0] for t in sorted(heldout))
             for s in range(4)]
    assert again == counts, "noise is drawn from the seeded rng only"


async def test_runs_in_the_real_episode_loop(dom):
    from t2e_tui.engine.episode import play_episode

    task = dom.tasks[sorted(ids(dom, "cross_order_reference"))[0]]
    out = await play_episode(agent=ScriptedAgent(), user=ScriptedUser(task, 0), env=dom.new_env(),
                             system_prompt=dom.system_prompt(BASELINE + "\n" + FIX["cross_order_reference"]),
                             tools=dom.tool_schemas(), max_steps=100, max_errors=10, seed=0)
    assert out.termination_reason == "user_stop"
    info = score_episode(task, out.messages, out.termination_reason, base_db=dom.base_db,
                         grading="db-communicate")
    assert info["reward"] == 1.0
