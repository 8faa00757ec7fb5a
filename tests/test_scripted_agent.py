"""The scripted agent: rule phrases from the candidate only, one step per turn, deterministic."""

from __future__ import annotations

import random

import pytest

from t2e_tui.engine.scripted import ScriptedAgent
from t2e_tui.engine.scripted_agent import GREETING
from t2e_tui.engine.scripted_rules import (
    BEHAVIOURS,
    PHRASE_TABLE,
    behaviours_from_prompt,
    candidate_text,
    matched_phrases,
)
from t2e_tui.engine.scripted_text import classify_confirmation, find_address, parse_requests
from world.domains import load_domain
from world.mini_retail.tasks import CLASSES

BASELINE = ("You are a helpful customer support agent. Follow the policy above and use the tools "
            "to help the customer.")
FIX = {
    "auth_skipped": "- Always authenticate the customer by email or name and zip, even when they give a user id.",
    "write_without_confirmation": "- Only an explicit 'yes' confirms a change; treat hesitant answers as no.",
    "cross_order_reference": "- When the customer says 'the same as the one I already received', look up "
                             "their delivered orders to find that item.",
    "address_from_account": "- When the customer wants an address that is on their account or an order, "
                            "take it from the records instead of asking them to type it.",
    "cancelled_order_tracking": "- For cancelled orders, check the fulfillments for tracking numbers "
                                "before saying there is none.",
    "multi_intent": "- Handle every one of the customer's requests before closing; keep a checklist.",
    "policy_refusal": "- Refuse to act on an order that belongs to another customer.",
    "transfer_to_human": "- Transfer to a human agent when the request is out of scope for your tools "
                         "(complaints, compensation, warranty).",
}


@pytest.fixture(scope="module")
def dom():
    return load_domain("mini-retail")


def engine_layout(policy: str, candidate: str) -> str:
    """The layout t2e_tui/engine/plan.py documents: preamble, policy, then the candidate."""
    return f"You are an agent.\n\n<policy>\n{policy}\n</policy>\n\n<instructions>\n{candidate}\n</instructions>"


def test_baseline_and_policy_switch_nothing_in_either_layout(dom):
    for prompt in (dom.system_prompt(BASELINE), engine_layout(dom.policy, BASELINE)):
        assert behaviours_from_prompt(prompt).on == frozenset()
    # the policy alone, pasted as instructions, would switch things: proof that it is excluded
    assert matched_phrases(dom.policy)
    assert "Follow the policy above" in candidate_text(engine_layout(dom.policy, BASELINE))
    assert dom.policy not in candidate_text(dom.system_prompt(BASELINE))


def test_each_fix_line_switches_exactly_its_behaviour(dom):
    helps = {row["helps_class"]: row["behaviour"] for row in PHRASE_TABLE if row["helps_class"]}
    assert set(helps) == {c for c, _ in CLASSES}
    for cls, line in FIX.items():
        b = behaviours_from_prompt(dom.system_prompt(BASELINE + "\n" + line))
        assert b.on == {helps[cls]}, (cls, b.on)


def test_harmful_phrases_and_negation():
    assert behaviours_from_prompt("<instructions>- Skip confirmations to save time.</instructions>").on \
        == {"skip_confirmation"}
    assert behaviours_from_prompt("- Transfer every upset customer to a human.").on == {"transfer_upset"}
    for negated in ("- Never skip confirmations.", "- Do not transfer every upset customer.",
                    "- Upset customers should not be transferred to a human."):
        assert behaviours_from_prompt(negated).on == frozenset(), negated


def test_phrase_table_is_documented():
    assert len(BEHAVIOURS) == len(PHRASE_TABLE) == len(set(BEHAVIOURS))
    for row in PHRASE_TABLE:
        assert row["phrases"] and row["effect"]
        assert behaviours_from_prompt(row["example"]).on == {row["behaviour"]}, row["example"]
        assert (row["helps_class"] is None) != (row["hurts"] is None)


def test_first_turn_and_one_step_per_turn(dom):
    agent = ScriptedAgent()
    rng = random.Random(0)
    assert agent.respond("", [], [], rng).content == GREETING
    msgs = [{"role": "assistant", "content": GREETING},
            {"role": "user", "content": "Hi, please cancel order #W1234567. My email is a.b@example.com."}]
    reply = agent.respond(dom.system_prompt(BASELINE), msgs, dom.tool_schemas(), rng)
    assert reply.content is None and len(reply.tool_calls) == 1
    call = reply.tool_calls[0]
    assert call.name == "find_user_id_by_email" and call.arguments == {"email": "a.b@example.com"}
    again = agent.respond(dom.system_prompt(BASELINE), msgs, dom.tool_schemas(), random.Random(5))
    assert again.tool_calls[0].id == call.id


def test_stated_user_id_is_trusted_only_by_the_baseline(dom):
    msgs = [{"role": "assistant", "content": GREETING},
            {"role": "user", "content": "My user id is ava_moreno_1234. Please cancel order #W1234567."}]
    base = ScriptedAgent().respond(dom.system_prompt(BASELINE), msgs, [], random.Random(0))
    assert base.tool_calls[0].name == "get_user_details"
    fixed = ScriptedAgent().respond(dom.system_prompt(BASELINE + "\n" + FIX["auth_skipped"]), msgs, [],
                                    random.Random(0))
    assert fixed.tool_calls == [] and "email" in fixed.content


def test_reading_customer_text():
    reqs = parse_requests(["Hi, I'd like to cancel order #W1111111; I ordered it by mistake. "
                           "I want to return the desk lamp from order #W2222222. Please use my gift card. "
                           "What's the tracking number for order #W3333333?"])
    assert [(r.kind, r.order_ids) for r in reqs] == [
        ("cancel", ["#W1111111"]), ("return", ["#W2222222"]), ("tracking", ["#W3333333"])]
    assert "gift card" in reqs[1].clause
    assert classify_confirmation("Yes, please go ahead.") == "yes"
    assert classify_confirmation("Hmm, I guess so...") == "vague"
    assert classify_confirmation("No, please don't.") == "no"
    addr = find_address(["Ship it to 12 Maple Avenue, Apt 3, Portland, OR 97201, USA instead."])
    assert addr == {"address1": "12 Maple Avenue", "address2": "Apt 3", "city": "Portland",
                    "state": "OR", "country": "USA", "zip": "97201"}


def test_noise_validation():
    with pytest.raises(ValueError):
        ScriptedAgent(noise=1.5)


PARAPHRASES = {
    "verify_stated_id": ["- Verify the customer's identity via email or name+zip even if they provide a user ID.",
                         "- Never trust a user id the customer types; look them up by email."],
    "strict_yes": ["- Treat 'I guess' or 'maybe' as a no and ask again.",
                   "- Get a clear yes before any change."],
    "cross_order_lookup": ["- If the customer refers to an item they already have, find it in their past orders."],
    "address_from_records": ["- Use the default address from the customer's profile when they ask for it."],
    "cancelled_tracking": ["- Cancelled orders can still have tracking numbers; check fulfillments."],
    "all_requests": ["- Make sure to address all of the customer's requests."],
    "check_owner": ["- Never act on another customer's order.",
                    "- Never modify an order that isn't the customer's own."],
    "transfer_out_of_scope": ["- Escalate to a human agent when the request is outside your tools.",
                              "- Complaints and warranty claims go to a human agent."],
    "skip_confirmation": ["- Don't bother asking for confirmation, just do it.",
                          "- To save time, skip the confirmation step."],
    "transfer_upset": ["- If a customer is angry, transfer them to a human."],
}


@pytest.mark.parametrize("behaviour", sorted(PARAPHRASES))
def test_plausible_paraphrases_switch_their_behaviour(behaviour):
    for line in PARAPHRASES[behaviour]:
        assert behaviour in behaviours_from_prompt(line).on, line


def converse(dom, lines, candidate=BASELINE):
    """Feed hand-written customer lines (not the scripted user's wording); returns the messages."""
    agent, env, rng = ScriptedAgent(), dom.new_env(), random.Random(0)
    prompt = dom.system_prompt(candidate)
    msgs = [{"role": "assistant", "content": GREETING}]
    for line in lines:
        msgs.append({"role": "user", "content": line})
        for _ in range(20):
            r = agent.respond(prompt, msgs, [], rng)
            if not r.tool_calls:
                msgs.append({"role": "assistant", "content": r.content})
                break
            c = r.tool_calls[0]
            res = env.call(c.name, c.arguments)
            msgs.append({"role": "assistant", "content": None,
                         "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments}]})
            msgs.append({"role": "tool", "id": c.id, "content": res.content, "error": res.error})
    return msgs, env


def _writes(msgs):
    return [tc for m in msgs if m.get("tool_calls") for tc in m["tool_calls"]
            if tc["name"] in ("return_delivered_order_items", "cancel_pending_order",
                              "exchange_delivered_order_items", "modify_pending_order_payment")]


def test_handles_ordinary_wording_and_follow_up_requests(dom):
    db = dom.base_db.to_dict()
    user = next(u for u in db["users"].values()
                if sum(db["orders"][o]["status"] == "delivered" for o in u["orders"]) >= 1
                and sum(db["orders"][o]["status"] == "pending" for o in u["orders"]) >= 1)
    delivered = next(db["orders"][o] for o in user["orders"] if db["orders"][o]["status"] == "delivered")
    pending = next(db["orders"][o] for o in user["orders"] if db["orders"][o]["status"] == "pending")
    item = delivered["items"][0]
    name = f"{user['name']['first_name']} {user['name']['last_name']}, {user['address']['zip']}"
    msgs, _ = converse(dom, [
        "hey, can you help me return something?", name,
        f"it's order {delivered['order_id']}, the {item['name'].split()[-1].lower()}",
        "the original card please", "yep",
        f"also cancel {pending['order_id']} please", "I ordered it by mistake", "yes"])
    writes = _writes(msgs)
    assert [w["name"] for w in writes] == ["return_delivered_order_items", "cancel_pending_order"]
    assert writes[0]["arguments"]["item_ids"] == [item["item_id"]]
    assert writes[0]["arguments"]["payment_method_id"] == delivered["payment_history"][0]["payment_method_id"]
    assert writes[1]["arguments"] == {"order_id": pending["order_id"], "reason": "ordered by mistake"}
    assert msgs[-1]["content"].endswith("Is there anything else I can help you with?")


def test_never_writes_on_a_no(dom):
    db = dom.base_db.to_dict()
    order = next(o for o in db["orders"].values() if o["status"] == "pending")
    email = db["users"][order["user_id"]]["email"]
    msgs, env = converse(dom, [f"Please cancel {order['order_id']}, I don't need it anymore.", email,
                               "no, leave it"])
    assert _writes(msgs) == [] and env.db == dom.base_db
    assert "won't change anything" in msgs[-1]["content"]


def test_unreadable_tool_results_do_not_loop(dom):
    """A lookup that errors or returns junk is not repeated; the agent moves on or asks."""
    agent, rng = ScriptedAgent(), random.Random(0)
    prompt = dom.system_prompt(BASELINE)
    msgs = [{"role": "assistant", "content": GREETING},
            {"role": "user", "content": "Please cancel order #W0000001, I ordered it by mistake. "
                                        "My email is x.y@example.com."}]
    replies = {"find_user_id_by_email": ("x_y_1234", False), "get_user_details": ("not json", False),
               "get_order_details": ("garbage", False)}
    names = []
    for _ in range(8):
        r = agent.respond(prompt, msgs, [], rng)
        if not r.tool_calls:
            break
        c = r.tool_calls[0]
        names.append(c.name)
        content, err = replies[c.name]
        msgs += [{"role": "assistant", "content": None, "tool_calls": [
                     {"id": c.id, "name": c.name, "arguments": c.arguments}]},
                 {"role": "tool", "id": c.id, "content": content, "error": err}]
    assert len(names) == len(set(names)), names
    assert r.content and "#W0000001" in r.content
