"""Scenario templates that turn generated records into mini-retail tasks (tau2 task format).

Each failure class has one builder. A builder takes a fresh customer from the pool, *plants*
the orders its scenario needs (so preconditions always hold), and returns the task: gold
actions, communicate info, reward basis, the natural-language instruction an LLM user needs,
and our `t2e.scenario` — the structured facts the scripted user (`world.users`) plays from.

Scenario schema (`t2e.scenario`):
    identity: {first_name, last_name, zip, email, user_id}
    auth_via: "email" | "name_zip"      what the customer offers when asked who they are
    states_user_id: bool                opens by giving the user id (auth_skipped)
    mood: "calm" | "frustrated"         frustrated customers complain from the first message
    requests: [ {kind, order_id, knows_order_id, product, items, reason, payment, target,
                 address, owner, topic, confirm} ]
        kind: cancel | return | change_item | order_address | user_address | tracking | out_of_scope
        confirm: "yes" | "no" | "hesitant_no" | "hesitant_yes"   answer to a confirmation question
        target: {"options": {...}} or {"same_as_received": true}
        address: full address dict, {"from_account": true} or {"from_order": "#W..."}
        owner: who the order belongs to when it is not the customer's ("husband", ...)
    max_turns: int                      the customer gives up after this many replies
    summary: str                        one line for task lists (Task.summary shows it)
"""

from __future__ import annotations

import random

from .generator import Ids, line_item, pick_variant, plant_order, random_address

CLASSES = [
    ("auth_skipped", "auth"),
    ("write_without_confirmation", "confirm"),
    ("cross_order_reference", "crossorder"),
    ("address_from_account", "address"),
    ("cancelled_order_tracking", "cxtracking"),
    ("multi_intent", "multi"),
    ("policy_refusal", "refusal"),
    ("transfer_to_human", "transfer"),
]
PER_CLASS = 16
SPLIT_SIZES = (("train", 4), ("dev", 5), ("heldout", 7))
ADDRESS_KEYS = ("address1", "address2", "city", "state", "country", "zip")
OTHER_PEOPLE = ["husband", "wife", "sister", "brother", "friend", "neighbor", "mother", "roommate"]
OUT_OF_SCOPE = [   # worded to follow "I'd like to ..." and "You want to ..." alike
    "file a formal complaint about a courier who left a parcel out in the rain",
    "get compensation for a delivery that arrived two weeks late",
    "change the name on the account after a recent marriage",
    "get a price adjustment because something bought last week is now on sale",
    "make a warranty claim for a product that broke after the return window",
    "set up a bulk purchase for a company, with an invoice",
    "report a parcel that was marked as delivered but was stolen from the porch",
    "change the email address on the account",
]


class Ctx:
    """Builder state: the db being planted into, ids, rng and the pool of unused customers."""

    def __init__(self, db: dict, ids: Ids, rng: random.Random):
        self.db, self.ids, self.rng = db, ids, rng
        self.products = list(db["products"].values())
        users = sorted(db["users"])
        rng.shuffle(users)
        seen: dict = {}
        for u in db["users"].values():
            key = (u["name"]["first_name"].lower(), u["name"]["last_name"].lower(), u["address"]["zip"])
            seen[key] = seen.get(key, 0) + 1
        # only customers whose name+zip is unique can authenticate either way
        ok = [u for u in users if seen[(db["users"][u]["name"]["first_name"].lower(),
                                        db["users"][u]["name"]["last_name"].lower(),
                                        db["users"][u]["address"]["zip"])] == 1]
        half = len(ok) * 3 // 4
        self.pool, self.others = ok[:half], ok[half:]

    def user(self) -> dict:
        return self.db["users"][self.pool.pop(0)]

    def other_user(self) -> dict:
        return self.db["users"][self.others.pop(0)]

    def free_products(self, user: dict, n: int) -> list[dict]:
        """`n` products that appear in none of the user's orders (so item hints are unambiguous)."""
        used = {i["product_id"] for oid in user["orders"] for i in self.db["orders"][oid]["items"]}
        free = [p for p in self.products if p["product_id"] not in used]
        return self.rng.sample(free, n)

    def order(self, user: dict, products: list[dict], status: str, **kw) -> dict:
        items = [line_item(p, pick_variant(self.rng, p)) for p in products]
        return plant_order(self.db, self.ids, self.rng, user, items, status, **kw)


def identity(user: dict) -> dict:
    return {"first_name": user["name"]["first_name"], "last_name": user["name"]["last_name"],
            "zip": user["address"]["zip"], "email": user["email"], "user_id": user["user_id"]}


def auth_action(user: dict, via: str) -> dict:
    if via == "email":
        return {"name": "find_user_id_by_email", "arguments": {"email": user["email"]}}
    return {"name": "find_user_id_by_name_zip",
            "arguments": {"first_name": user["name"]["first_name"],
                          "last_name": user["name"]["last_name"], "zip": user["address"]["zip"]}}


def address_args(addr: dict) -> dict:
    return {k: addr[k] for k in ADDRESS_KEYS}


def pm_of_kind(user: dict, kind: str) -> str | None:
    for pid, pm in sorted(user["payment_methods"].items()):
        if pm["source"] == kind:
            return pid
    return None


def request(kind: str, order: dict | None = None, **kw) -> dict:
    req = {"kind": kind, "order_id": order["order_id"] if order else None,
           "knows_order_id": True, "product": None, "items": [], "reason": None, "payment": None,
           "target": None, "address": None, "owner": None, "topic": None, "confirm": "yes"}
    if order:
        req["product"] = order["items"][0]["name"]
    req.update(kw)
    return req


# --- request builders shared by several classes -------------------------------------------

def cancel_req(ctx: Ctx, user: dict, confirm: str = "yes", status: str = "pending",
               owner_user: dict | None = None, **kw) -> tuple[dict, list[dict]]:
    owner = owner_user or user
    products = ctx.free_products(owner, ctx.rng.choice([1, 2]))
    order = ctx.order(owner, products, status)
    reason = ctx.rng.choice(["no longer needed", "ordered by mistake"])
    req = request("cancel", order, reason=reason, confirm=confirm, **kw)
    gold = [{"name": "cancel_pending_order", "arguments": {"order_id": order["order_id"], "reason": reason}}]
    return req, gold


def return_req(ctx: Ctx, user: dict, confirm: str = "yes", owner_user: dict | None = None,
               original: bool = False, **kw) -> tuple[dict, list[dict]]:
    owner = owner_user or user
    products = ctx.free_products(owner, ctx.rng.choice([1, 2, 2]))
    order = ctx.order(owner, products, "delivered")
    item = order["items"][0]
    gift = pm_of_kind(owner, "gift_card")
    first_pm = order["payment_history"][0]["payment_method_id"]
    if gift and gift != first_pm and ctx.rng.random() < 0.5 and not original:
        pay, pm = "gift card", gift
    else:
        pay, pm = "original", first_pm
    req = request("return", order, product=item["name"], items=[item["name"]], payment=pay,
                  confirm=confirm, **kw)
    gold = [{"name": "return_delivered_order_items",
             "arguments": {"order_id": order["order_id"], "item_ids": [item["item_id"]],
                           "payment_method_id": pm}}]
    return req, gold


def new_address_req(ctx: Ctx, user: dict, confirm: str = "yes", owner_user: dict | None = None,
                    **kw) -> tuple[dict, list[dict]]:
    owner = owner_user or user
    order = ctx.order(owner, ctx.free_products(owner, 1), "pending")
    addr = random_address(ctx.rng)
    req = request("order_address", order, address=addr, confirm=confirm, **kw)
    gold = [{"name": "modify_pending_order_address",
             "arguments": {"order_id": order["order_id"], **address_args(addr)}}]
    return req, gold


def tracking_req(ctx: Ctx, user: dict, **kw) -> tuple[dict, list[dict], list[str]]:
    order = ctx.order(user, ctx.free_products(user, 1), ctx.rng.choice(["processed", "delivered"]))
    tid = order["fulfillments"][0]["tracking_id"][0]
    return request("tracking", order, **kw), [], [tid]


# --- one builder per failure class ---------------------------------------------------------

def build_auth(ctx: Ctx, k: int, slot: int) -> dict:
    user = ctx.user()
    via = "email" if k % 2 == 0 else "name_zip"
    req, gold = (cancel_req if k % 3 != 1 else return_req)(ctx, user)
    return dict(user=user, via=via, requests=[req], gold=[auth_action(user, via)] + gold,
                basis=["DB", "ACTION"], states_user_id=True,
                purpose="The customer gives a user id; the agent must still authenticate.")


# Confirmation answers by slot (train slots 0-3, dev 4-8, heldout 9-15): the heldout keeps six
# hedge-then-no tasks (the baseline fails them; the gate needs six fixes to see the class) and one
# plain "no" (the baseline passes it; skipping confirmations fails it).
CONFIRM_ROLES = (["hesitant_no", "hesitant_no", "no", "hesitant_yes"]
                 + ["hesitant_no", "hesitant_no", "hesitant_no", "no", "hesitant_yes"]
                 + ["hesitant_no"] * 6 + ["no"])


def build_confirm(ctx: Ctx, k: int, slot: int) -> dict:
    user = ctx.user()
    via = ctx.rng.choice(["email", "name_zip"])
    role = CONFIRM_ROLES[slot]
    gold = [auth_action(user, via)]
    mood = None
    if role == "hesitant_yes":
        # hedges, then says yes: the change is wanted. A frustrated customer, so transferring
        # upset customers loses a task the baseline passes.
        req, write = (cancel_req if k % 2 else return_req)(ctx, user, confirm="hesitant_yes")
        gold += write
        mood = "frustrated"
    elif role == "no":
        req, _ = (cancel_req if k % 2 else new_address_req)(ctx, user, confirm="no")
    else:
        req, _ = (cancel_req if k % 3 != 1 else return_req)(ctx, user, confirm="hesitant_no")
    purpose = ("The customer hedges, then says yes." if role == "hesitant_yes" else
               "The customer does not give an explicit yes; nothing may be written.")
    return dict(user=user, via=via, requests=[req], gold=gold, basis=["DB", "COMMUNICATE"],
                purpose=purpose, mood=mood)


def build_crossorder(ctx: Ctx, k: int, slot: int) -> dict:
    while True:
        user = ctx.user()
        (product,) = ctx.free_products(user, 1)
        avail = [v for v in product["variants"].values() if v["available"]]
        if len(product["variants"]) < 2 or not avail:
            continue
        got = ctx.rng.choice(avail)
        now = pick_variant(ctx.rng, product, exclude={got["item_id"]})
        diff = got["price"] - now["price"]
        # pay the difference with a card/paypal if the customer has one, else the gift card
        pm = pm_of_kind(user, "credit_card") or pm_of_kind(user, "paypal")
        if pm is None:
            pm = pm_of_kind(user, "gift_card")
            if user["payment_methods"][pm]["balance"] < max(diff, 0):
                continue
        break
    plant_order(ctx.db, ctx.ids, ctx.rng, user, [line_item(product, got)], "delivered")
    extra = ctx.free_products(user, 1) if k % 2 else []
    items = [line_item(product, now)] + [line_item(p, pick_variant(ctx.rng, p)) for p in extra]
    pending = plant_order(ctx.db, ctx.ids, ctx.rng, user, items, "pending", payment_method_id=pm)
    pay = {"credit_card": "credit card", "paypal": "paypal", "gift_card": "gift card"}[
        user["payment_methods"][pm]["source"]]
    req = request("change_item", pending, product=product["name"], items=[product["name"]],
                  target={"same_as_received": True}, payment=pay, knows_order_id=k % 4 != 3)
    via = ctx.rng.choice(["email", "name_zip"])
    gold = [auth_action(user, via),
            {"name": "modify_pending_order_items",
             "arguments": {"order_id": pending["order_id"], "item_ids": [now["item_id"]],
                           "new_item_ids": [got["item_id"]], "payment_method_id": pm}}]
    return dict(user=user, via=via, requests=[req], gold=gold, basis=["DB", "COMMUNICATE"],
                purpose="'The same one as I already received' refers to an item of a delivered order.")


def build_address(ctx: Ctx, k: int, slot: int) -> dict:
    user = ctx.user()
    via = ctx.rng.choice(["email", "name_zip"])
    other = random_address(ctx.rng)
    if k % 2 == 0:
        order = ctx.order(user, ctx.free_products(user, 1), "pending", address=other)
        req = request("order_address", order, address={"from_account": True})
        gold = {"name": "modify_pending_order_address",
                "arguments": {"order_id": order["order_id"], **address_args(user["address"])}}
    else:
        order = ctx.order(user, ctx.free_products(user, 1), "delivered", address=other)
        req = request("user_address", order, address={"from_order": order["order_id"]})
        gold = {"name": "modify_user_address",
                "arguments": {"user_id": user["user_id"], **address_args(other)}}
    return dict(user=user, via=via, requests=[req], gold=[auth_action(user, via), gold],
                basis=["DB", "COMMUNICATE"],
                purpose="The address to use is already on file (account or a past order).")


def build_cxtracking(ctx: Ctx, k: int, slot: int) -> dict:
    user = ctx.user()
    via = ctx.rng.choice(["email", "name_zip"])
    products = ctx.free_products(user, 2)
    items = [line_item(p, pick_variant(ctx.rng, p)) for p in products]
    order = plant_order(ctx.db, ctx.ids, ctx.rng, user, items, "cancelled",
                        shipped_item_ids=[items[0]["item_id"]])
    tid = order["fulfillments"][0]["tracking_id"][0]
    req = request("tracking", order, product=items[0]["name"], knows_order_id=k % 3 != 2)
    gold = [auth_action(user, via), {"name": "get_order_details",
                                     "arguments": {"order_id": order["order_id"]}}]
    return dict(user=user, via=via, requests=[req], gold=gold, communicate=[tid],
                basis=["DB", "COMMUNICATE"],
                purpose="A cancelled order whose first parcel had already shipped still has tracking.")


def build_multi(ctx: Ctx, k: int, slot: int) -> dict:
    user = ctx.user()
    via = ctx.rng.choice(["email", "name_zip"])
    kinds = [["cancel", "return"], ["return", "tracking"], ["tracking", "cancel"],
             ["cancel", "address"], ["address", "return"], ["cancel", "return", "tracking"]][k % 6]
    reqs, gold, comm = [], [auth_action(user, via)], []
    for kind in kinds:
        if kind == "cancel":
            r, g = cancel_req(ctx, user)
        elif kind == "return":
            r, g = return_req(ctx, user)
        elif kind == "address":
            r, g = new_address_req(ctx, user)
        else:
            r, g, c = tracking_req(ctx, user)
            comm += c
        reqs.append(r)
        gold += g
    return dict(user=user, via=via, requests=reqs, gold=gold, communicate=comm,
                basis=["DB", "COMMUNICATE"], purpose="Several requests in one call; all must be done.")


def build_refusal(ctx: Ctx, k: int, slot: int) -> dict:
    user = ctx.user()
    other = ctx.other_user()
    via = ctx.rng.choice(["email", "name_zip"])
    owner = OTHER_PEOPLE[k % len(OTHER_PEOPLE)]
    if k % 3 == 2:
        # refund to the owner's original method: a refund to the caller's own gift card would be
        # refused by the tool anyway, hiding the policy failure
        req, _ = return_req(ctx, user, owner_user=other, owner=owner, original=True)
    else:
        req, _ = (cancel_req, new_address_req)[k % 3](ctx, user, owner_user=other, owner=owner)
    return dict(user=user, via=via, requests=[req], gold=[auth_action(user, via)],
                basis=["DB", "COMMUNICATE"],
                purpose="The order belongs to another customer; the policy forbids acting on it.")


def build_transfer(ctx: Ctx, k: int, slot: int) -> dict:
    user = ctx.user()
    via = ctx.rng.choice(["email", "name_zip"])
    topic = OUT_OF_SCOPE[k % len(OUT_OF_SCOPE)]
    req = request("out_of_scope", None, topic=topic)
    gold = [{"name": "transfer_to_human_agents", "arguments": {"summary": f"Customer wants to {topic}."},
             "compare_args": []}]
    return dict(user=user, via=via, requests=[req], gold=gold, basis=["DB", "ACTION"],
                purpose="The request is outside what the tools can do; transfer to a human.")


BUILDERS = {
    "auth_skipped": build_auth, "write_without_confirmation": build_confirm,
    "cross_order_reference": build_crossorder, "address_from_account": build_address,
    "cancelled_order_tracking": build_cxtracking, "multi_intent": build_multi,
    "policy_refusal": build_refusal, "transfer_to_human": build_transfer,
}


def build_tasks(db: dict, ids: Ids, rng: random.Random) -> tuple[list[dict], dict]:
    """Plant scenarios into `db` and return (tasks, splits). Mutates `db`."""
    from .instructions import render_instructions, summarize

    ctx = Ctx(db, ids, rng)
    tasks: list[dict] = []
    splits: dict = {name: [] for name, _ in SPLIT_SIZES}
    for cls, short in CLASSES:
        order = list(range(PER_CLASS))
        rng.shuffle(order)
        slot_of = {k: pos for pos, k in enumerate(order)}
        split_of = {}
        pos = 0
        for name, n in SPLIT_SIZES:
            for k in order[pos:pos + n]:
                split_of[k] = name
            pos += n
        for k in range(PER_CLASS):
            slot = slot_of[k]
            spec = BUILDERS[cls](ctx, k, slot)
            tid = f"{short}-{k + 1:02d}"
            user = spec["user"]
            # About a quarter of the customers are frustrated. Where a transfer leaves the DB as
            # the gold does (refusals, transfers, declined changes) frustration stays out of the
            # heldout: there "transfer every upset customer" would pass tasks by accident and look
            # like a fix. The confirm class's frustrated customers are its hedge-then-yes ones.
            frustrated = ({1, 6} if cls in ("policy_refusal", "transfer_to_human") else
                          set() if cls == "write_without_confirmation" else {1, 6, 10, 14})
            scenario = {
                "identity": identity(user),
                "auth_via": spec["via"],
                "states_user_id": spec.get("states_user_id", False),
                "mood": spec.get("mood") or ("frustrated" if slot in frustrated else "calm"),
                "requests": spec["requests"],
                "max_turns": 14,
            }
            scenario["summary"] = summarize(scenario)
            actions = []
            for n, g in enumerate(spec["gold"]):
                actions.append({"action_id": f"{tid}_{n}", "requestor": "assistant",
                                "name": g["name"], "arguments": g["arguments"], "info": None,
                                "compare_args": g.get("compare_args")})
            task = {
                "id": tid,
                "description": {"purpose": spec["purpose"], "relevant_policies": None, "notes": None},
                "user_scenario": {"persona": None,
                                  "instructions": render_instructions(scenario, db)},
                "initial_state": None,
                "evaluation_criteria": {
                    "actions": actions,
                    "env_assertions": None,
                    "communicate_info": spec.get("communicate", []),
                    "nl_assertions": None,
                    "reward_basis": spec["basis"],
                },
                "t2e": {"split": split_of[k], "failure_class": cls, "scenario": scenario},
            }
            tasks.append(task)
            splits[split_of[k]].append(tid)
    return tasks, splits
