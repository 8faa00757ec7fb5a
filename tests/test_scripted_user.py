"""The scripted customer: opens with its request, answers identity and details from what it
knows, confirms only what its scenario wants, stops with a marker."""

from __future__ import annotations

import pytest

from world.mini_retail import build
from world.users import STOP, TRANSFER, ScriptedUser

GREET = {"role": "assistant", "content": "Hi! How can I help you today?", "tool_calls": None}


@pytest.fixture(scope="module")
def tasks():
    return {t["id"]: t for t in build(0)["tasks"]}


def convo(*turns):
    """Messages alternating assistant/user, starting after the greeting."""
    msgs = [dict(GREET)]
    for i, text in enumerate(turns):
        msgs.append({"role": "assistant" if i % 2 else "user", "content": text, "tool_calls": None})
    return msgs


def first(tasks, pred):
    return next(t for t in tasks.values() if pred(t))


def test_opens_with_the_request(tasks):
    t = first(tasks, lambda t: t["t2e"]["failure_class"] == "auth_skipped")
    scen = t["t2e"]["scenario"]
    opening = ScriptedUser(t).reply([dict(GREET)])
    assert scen["identity"]["user_id"] in opening
    assert scen["requests"][0]["order_id"] in opening
    assert STOP not in opening


def test_opening_mentions_every_request_of_a_multi_intent_task(tasks):
    t = first(tasks, lambda t: t["t2e"]["failure_class"] == "multi_intent"
              and len(t["t2e"]["scenario"]["requests"]) == 3)
    opening = ScriptedUser(t).reply([])
    for r in t["t2e"]["scenario"]["requests"]:
        assert r["order_id"] in opening


def test_deterministic_and_seed_varies_only_wording(tasks):
    texts = {ScriptedUser(t, seed=0).reply([dict(GREET)]) for t in tasks.values()}
    assert len(texts) >= 0.9 * len(tasks)   # same topic + same wording may repeat
    for t in list(tasks.values())[:20]:
        assert ScriptedUser(t, 0).reply([dict(GREET)]) == ScriptedUser(t, 0).reply([dict(GREET)])
    differs = sum(ScriptedUser(t, 0).reply([]) != ScriptedUser(t, 7).reply([]) for t in tasks.values())
    assert differs > len(tasks) // 4


def test_answers_identity_by_email_or_name_and_zip(tasks):
    by_email = first(tasks, lambda t: t["t2e"]["scenario"]["auth_via"] == "email")
    by_zip = first(tasks, lambda t: t["t2e"]["scenario"]["auth_via"] == "name_zip")
    ask = "Could you please give me your email address, or your first name, last name and zip code?"
    a = ScriptedUser(by_email).reply(convo("hi", ask))
    assert by_email["t2e"]["scenario"]["identity"]["email"] in a
    ident = by_zip["t2e"]["scenario"]["identity"]
    b = ScriptedUser(by_zip).reply(convo("hi", ask))
    assert ident["first_name"] in b and ident["last_name"] in b and ident["zip"] in b
    assert ident["email"] not in b
    only_email = ScriptedUser(by_zip).reply(convo("hi", "What is your email address?"))
    assert "don't remember my email" in only_email and ident["zip"] in only_email


def test_confirms_only_what_it_wants(tasks):
    yes_task = first(tasks, lambda t: t["t2e"]["failure_class"] == "auth_skipped")
    oid = yes_task["t2e"]["scenario"]["requests"][0]["order_id"]
    ask = f"Here is what I will do: cancel order {oid}. Shall I go ahead? Please answer yes or no."
    assert ScriptedUser(yes_task).reply(convo("hi", ask)).lower().startswith("yes")

    no_task = first(tasks, lambda t: t["t2e"]["scenario"]["requests"][0]["confirm"] == "no")
    oid = no_task["t2e"]["scenario"]["requests"][0]["order_id"]
    ask = f"Here is what I will do for order {oid}. Shall I go ahead? Please answer yes or no."
    assert ScriptedUser(no_task).reply(convo("hi", ask)).lower().startswith("no")

    hesitant = first(tasks, lambda t: t["t2e"]["scenario"]["requests"][0]["confirm"] == "hesitant_no")
    oid = hesitant["t2e"]["scenario"]["requests"][0]["order_id"]
    ask = f"Here is what I will do for order {oid}. Shall I go ahead? Please answer yes or no."
    user = ScriptedUser(hesitant)
    vague = user.reply(convo("hi", ask))
    assert not vague.lower().startswith(("yes", "no"))
    assert any(w in vague.lower() for w in ("guess", "suppose", "maybe"))
    again = user.reply(convo("hi", ask, vague, "I need a clear yes or no. " + ask))
    assert again.lower().startswith("no")


def test_answers_details_from_the_scenario(tasks):
    cancel = first(tasks, lambda t: t["t2e"]["scenario"]["requests"][0]["kind"] == "cancel")
    req = cancel["t2e"]["scenario"]["requests"][0]
    reason = ScriptedUser(cancel).reply(convo("hi", f"What is the reason for cancelling order {req['order_id']}?"))
    key = "mistake" if req["reason"] == "ordered by mistake" else "need"
    assert key in reason.lower()

    unknown = first(tasks, lambda t: not t["t2e"]["scenario"]["requests"][0]["knows_order_id"])
    ans = ScriptedUser(unknown).reply(convo("hi", "Which order is it? Could you give me the order id?"))
    assert "don't remember" in ans
    assert unknown["t2e"]["scenario"]["requests"][0]["order_id"] not in ans

    acct = first(tasks, lambda t: (t["t2e"]["scenario"]["requests"][0]["address"] or {}).get("from_account"))
    ans = ScriptedUser(acct).reply(convo("hi", "What is the full new shipping address?"))
    assert "address on my account" in ans

    same = first(tasks, lambda t: t["t2e"]["failure_class"] == "cross_order_reference")
    ans = ScriptedUser(same).reply(convo("hi", "Which options would you like for the new item?"))
    assert "same one as I already received" in ans


def test_stops_transfers_and_gives_up(tasks):
    t = first(tasks, lambda t: t["t2e"]["failure_class"] == "cancelled_order_tracking")
    done = ScriptedUser(t).reply(convo("hi", "The tracking number is 123. Is there anything else I can help you with?"))
    assert done.endswith(STOP)
    moved = ScriptedUser(t).reply(convo("hi", "YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."))
    assert moved == TRANSFER
    turns = ["hi"]
    for _ in range(30):
        turns += ["Hmm.", "ok"]
    assert ScriptedUser(t).reply(convo(*turns[:-1])).endswith(STOP)


def test_out_of_scope_customer_insists_once_then_stops(tasks):
    t = first(tasks, lambda t: t["t2e"]["failure_class"] == "transfer_to_human")
    no = "I'm sorry, but that's not something I can help with. Is there anything else I can help you with?"
    user = ScriptedUser(t)
    insist = user.reply(convo("hi", no))
    assert STOP not in insist and "human" not in insist.lower()
    assert user.reply(convo("hi", no, insist, no)).endswith(STOP)


def test_frustrated_customers_say_so(tasks):
    moods = {t["id"]: t["t2e"]["scenario"]["mood"] for t in tasks.values()}
    assert "frustrated" in moods.values() and "calm" in moods.values()
    t = first(tasks, lambda t: t["t2e"]["scenario"]["mood"] == "frustrated")
    from t2e_tui.engine.scripted_text import UPSET
    assert UPSET.search(ScriptedUser(t).reply([]))
    calm = first(tasks, lambda t: t["t2e"]["scenario"]["mood"] == "calm")
    assert not UPSET.search(ScriptedUser(calm).reply([]))


def test_refuses_tasks_without_a_scenario():
    with pytest.raises(ValueError, match="no t2e.scenario"):
        ScriptedUser({"id": "7", "user_scenario": {}})


def test_reads_other_agents_wording(tasks):
    cancel = first(tasks, lambda t: t["t2e"]["scenario"]["requests"][0]["kind"] == "cancel"
                   and t["t2e"]["scenario"]["requests"][0]["confirm"] == "yes")
    user = ScriptedUser(cancel)
    ans = user.reply(convo("hi", "Can you confirm the reason for the cancellation?"))
    assert not ans.lower().startswith("yes") and ("mistake" in ans or "need" in ans)
    assert user.reply(convo("hi", "Would you like me to proceed with the cancellation?")).lower().startswith("yes")
    out = first(tasks, lambda t: t["t2e"]["failure_class"] == "transfer_to_human")
    empathy = ScriptedUser(out).reply(convo("hi", "I'm sorry to hear that. What is your email address?"))
    assert "Is there really nothing" not in empathy
