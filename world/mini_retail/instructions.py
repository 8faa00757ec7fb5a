"""The natural-language instruction an LLM user simulator plays from (tau2's
`user_scenario.instructions`), rendered from a task's structured scenario."""

from __future__ import annotations

from ..users import format_address


def _opts(opts: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in opts.items())


def describe_request(req: dict, db: dict | None = None) -> str:
    """One sentence saying what the customer wants, in the second person."""
    oid = req["order_id"]
    where = f"order {oid}" if req["knows_order_id"] else f"the order with the {req['product'].lower()}"
    whose = f" (this order belongs to your {req['owner']}, not to you)" if req.get("owner") else ""
    kind = req["kind"]
    if kind == "cancel":
        return f"You want to cancel {where}{whose} because it is {req['reason']}."
    if kind == "return":
        pay = "your original payment method" if req["payment"] == "original" else f"your {req['payment']}"
        return (f"You want to return the {' and the '.join(i.lower() for i in req['items'])} from "
                f"{where}{whose}, refunded to {pay}.")
    if kind == "change_item":
        tgt = req["target"]
        what = ("exactly the same variant as the one you already received in an earlier order "
                "(you don't remember its options)") if tgt.get("same_as_received") else _opts(tgt["options"])
        return (f"You want to change the {req['product'].lower()} in your pending {where} to {what}; "
                f"any price difference goes on your {req['payment']}.")
    if kind == "order_address":
        a = req["address"]
        if a.get("from_account"):
            return (f"You want {where} shipped to the default address on your account "
                    "(you don't know it by heart).")
        return f"You want {where}{whose} shipped to {format_address(a)}."
    if kind == "user_address":
        return (f"You want the default address on your account changed to the address that "
                f"{where} was shipped to (you don't remember it by heart).")
    if kind == "tracking":
        order = (db or {}).get("orders", {}).get(oid) or {}
        if order.get("status") == "cancelled":
            return (f"You want the tracking number for {where}. You know the order was cancelled, "
                    "but one parcel from it seems to have shipped anyway.")
        return f"You want the tracking number for {where}."
    return f"You want to {req['topic']}."


def render_instructions(scenario: dict, db: dict) -> dict:
    """tau2 `instructions` dict: domain, reason_for_call, known_info, unknown_info, task_instructions."""
    ident = scenario["identity"]
    reqs = scenario["requests"]
    known = [f"You are {ident['first_name']} {ident['last_name']}, zip code {ident['zip']}."]
    if scenario["auth_via"] == "email":
        known.append(f"Your email is {ident['email']}.")
    if scenario["states_user_id"]:
        known.append(f"Your user id is {ident['user_id']}.")
    oids = [r["order_id"] for r in reqs if r["order_id"] and r["knows_order_id"]]
    if oids:
        known.append(f"Your order id is {oids[0]}." if len(oids) == 1 else
                     f"The order ids are {', '.join(oids)}.")
    unknown = []
    if scenario["auth_via"] != "email":
        unknown.append("You do not remember your email address.")
    unknown += [f"You do not remember the order id of the order with the {r['product'].lower()}."
                for r in reqs if r["order_id"] and not r["knows_order_id"]]
    steps = []
    if scenario["states_user_id"]:
        steps.append("Give your user id in your first message.")
    if len(reqs) > 1:
        steps.append("Mention all your requests in your first message; do not repeat them later. "
                     "If the agent wraps up, assume everything was taken care of and end the call.")
    for r in reqs:
        if r["confirm"] == "no":
            steps.append("When the agent lists the details and asks you to confirm, say no: you "
                         "changed your mind. Then end the conversation.")
        elif r["confirm"] == "hesitant_yes":
            steps.append("When the agent asks you to confirm, first answer vaguely (e.g. 'I guess'). "
                         "If it asks again for a clear answer, say yes.")
        elif r["confirm"] == "hesitant_no":
            steps.append("When the agent asks you to confirm, answer vaguely (e.g. 'I guess'). If it "
                         "asks again for a clear answer, say no and keep things as they are.")
    if any(r["kind"] == "out_of_scope" for r in reqs):
        steps.append("Do not ask for a human yourself. If the agent says it cannot help, insist once, "
                     "then end the conversation.")
    if any(r.get("owner") for r in reqs):
        steps.append("If the agent refuses because the order is not yours, accept it and end the call.")
    if scenario["mood"] == "frustrated":
        steps.append("You are frustrated: this is not the first time you contact support, and you say so.")
    steps.append("End the conversation with ###STOP### when you are done.")
    return {
        "domain": "mini-retail",
        "reason_for_call": " ".join(describe_request(r, db) for r in reqs),
        "known_info": " ".join(known),
        "unknown_info": " ".join(unknown) or None,
        "task_instructions": " ".join(steps),
    }


def summarize(scenario: dict) -> str:
    """A terse one-line summary for task lists ("cancel #W1 (by mistake) + tracking #W2; gives
    user id; frustrated")."""
    parts = []
    for r in scenario["requests"]:
        oid = r["order_id"] if r["knows_order_id"] else f"the {(r['product'] or 'item').lower()} order"
        kind = r["kind"]
        if kind == "cancel":
            text = f"cancel {oid} ({r['reason']})"
        elif kind == "return":
            text = f"return {', '.join(i.lower() for i in r['items'])} from {oid} to {r['payment']}"
        elif kind == "change_item":
            tgt = "the variant already received" if (r["target"] or {}).get("same_as_received") else "new options"
            where = r["order_id"] if r["knows_order_id"] else "a pending order"
            text = f"change the {r['product'].lower()} in {where} to {tgt}"
        elif kind == "order_address":
            text = f"ship {oid} to " + ("the account address" if (r["address"] or {}).get("from_account")
                                        else "a new address")
        elif kind == "user_address":
            text = f"default address := the address of {oid}"
        elif kind == "tracking":
            text = f"tracking number of {oid}"
        else:
            text = r["topic"]
        if r.get("owner"):
            text += f" (their {r['owner']}'s order)"
        if r["confirm"] != "yes":
            text += {"no": ", then declines", "hesitant_no": ", hedges then declines",
                     "hesitant_yes": ", hedges then agrees"}[r["confirm"]]
        parts.append(text)
    flags = (["gives user id"] if scenario.get("states_user_id") else []) + \
        (["frustrated"] if scenario.get("mood") == "frustrated" else [])
    return "; ".join([" + ".join(parts)] + flags)
