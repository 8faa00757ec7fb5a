"""Scenario templates that turn generated records into mini-airline tasks (tau2 task format).

Each failure class has one builder; a builder takes a fresh customer, *plants* the reservations
its scenario needs (so preconditions always hold) and returns gold actions, reward basis, the
instruction an LLM user needs and our `t2e.scenario` for the scripted user.

Scenario schema (`t2e.scenario`, airline):
    domain: "airline"
    identity: {user_id, first_name, last_name}
    mood: "calm"
    requests: [ {kind, reservation_id, owner, confirm, bags, same_as_before, topic} ]
        kind: cancel | bags | out_of_scope
        confirm: "yes" | "no" | "hesitant_no" | "hesitant_yes"
        bags: total checked bags wanted (kind bags); same_as_before: the customer says "the
        same as I got on my previous trip"
        owner: who the reservation belongs to when it is not the customer's ("friend", ...)
    max_turns: int
    summary: str

The class `stale_record_reuse` is where a rule learned on retail hurts: "the same as I got on my
previous trip" invites copying the bag counts of the first reservation on the account, but the
free allowance depends on the membership tier and the cabin of *this* reservation (policy), so
the paid-bag count must be computed, not copied.
"""

from __future__ import annotations

import random

from .generator import BOOKABLE, CABINS, Ids, credit_card, plant_reservation

CLASSES = [
    ("write_without_confirmation", "confirm"),
    ("multi_intent", "multi"),
    ("policy_refusal", "refusal"),
    ("transfer_to_human", "transfer"),
    ("stale_record_reuse", "bags"),
]
PER_CLASS = 20
SPLIT_SIZES = (("train", 6), ("dev", 6), ("heldout", 8))
# Free checked bags per passenger, by membership and cabin (our policy's table).
FREE_BAGS = {"regular": {"basic_economy": 0, "economy": 1, "business": 2},
             "silver": {"basic_economy": 1, "economy": 1, "business": 2},
             "gold": {"basic_economy": 2, "economy": 2, "business": 3}}
OTHER_PEOPLE = ["friend", "sister", "brother", "colleague", "neighbor", "mother"]
OUT_OF_SCOPE = [
    "file a complaint about a rude crew member on my last flight",
    "get compensation for a meal I had to buy during a delay",
    "report a suitcase that was lost on my last flight",
    "change the name on a ticket to a different person",
    "get a refund for a seat upgrade I never received",
    "ask for a wheelchair to be waiting at the gate",
]
# heldout slots 12-19: six hedge-then-no (the baseline fails them), one plain no, one hedge-yes
CONFIRM_ROLES = (["hesitant_no", "hesitant_no", "no", "hesitant_yes", "hesitant_no", "hesitant_yes"]
                 + ["hesitant_no", "hesitant_no", "no", "hesitant_yes", "hesitant_no", "no"]
                 + ["hesitant_no"] * 6 + ["no", "hesitant_yes"])


def nonfree(user: dict, res: dict, total: int) -> int:
    """Paid bags under the policy: total minus the free allowance of every passenger."""
    free = FREE_BAGS[user["membership"]][res["cabin"]] * len(res["passengers"])
    return max(0, total - free)


class Ctx:
    """Builder state: the db being planted into, ids, rng and the pool of unused customers."""

    def __init__(self, db: dict, ids: Ids, rng: random.Random):
        self.db, self.ids, self.rng = db, ids, rng
        users = sorted(db["users"])
        rng.shuffle(users)
        self.pool = users

    def user(self) -> dict:
        return self.db["users"][self.pool.pop(0)]

    def plant(self, user: dict, **kw) -> dict:
        return plant_reservation(self.db, self.ids, self.rng, user, **kw)


def request(kind: str, res: dict | None = None, **kw) -> dict:
    req = {"kind": kind, "reservation_id": res["reservation_id"] if res else None,
           "owner": None, "confirm": "yes", "bags": None, "same_as_before": False, "topic": None}
    req.update(kw)
    return req


def _cancel(ctx: Ctx, user: dict, confirm: str = "yes") -> tuple[dict, dict]:
    # insured: the policy allows the cancellation, so only the confirmation decides
    res = ctx.plant(user, cabin=ctx.rng.choice(CABINS), insurance="yes")
    return (request("cancel", res, confirm=confirm),
            {"name": "cancel_reservation", "arguments": {"reservation_id": res["reservation_id"]}})


def _bags(ctx: Ctx, user: dict, **kw) -> tuple[dict, dict]:
    res = ctx.plant(user, cabin=ctx.rng.choice(CABINS), passengers=ctx.rng.choice([1, 1, 2]))
    total = ctx.rng.randrange(2, 5) + len(res["passengers"])
    return (request("bags", res, bags=total, **kw),
            {"name": "update_reservation_baggages",
             "arguments": {"reservation_id": res["reservation_id"], "total_baggages": total,
                           "nonfree_baggages": nonfree(user, res, total),
                           "payment_id": credit_card(user)}})


def lookup(user: dict) -> dict:
    return {"name": "get_user_details", "arguments": {"user_id": user["user_id"]}}


def build_confirm(ctx: Ctx, k: int, slot: int) -> dict:
    user = ctx.user()
    role = CONFIRM_ROLES[slot]
    req, write = _cancel(ctx, user, confirm=role)
    gold = [lookup(user)] + ([write] if role == "hesitant_yes" else [])
    return dict(user=user, requests=[req], gold=gold, basis=["DB", "COMMUNICATE"],
                purpose="Cancelling needs a clear yes; a hedged answer is not agreement.")


def build_multi(ctx: Ctx, k: int, slot: int) -> dict:
    user = ctx.user()
    (r1, g1), (r2, g2) = _cancel(ctx, user), _bags(ctx, user)
    reqs, gold = ([r1, r2], [g1, g2]) if k % 2 == 0 else ([r2, r1], [g2, g1])
    return dict(user=user, requests=reqs, gold=[lookup(user)] + gold, basis=["DB", "COMMUNICATE"],
                purpose="Two requests in one call; both must be done.")


def build_refusal(ctx: Ctx, k: int, slot: int) -> dict:
    user, other = ctx.user(), ctx.user()
    req, _ = _cancel(ctx, other)
    req["owner"] = OTHER_PEOPLE[k % len(OTHER_PEOPLE)]
    return dict(user=user, requests=[req], gold=[lookup(user)], basis=["DB", "COMMUNICATE"],
                purpose="The reservation belongs to another customer; the policy forbids acting on it.")


def build_transfer(ctx: Ctx, k: int, slot: int) -> dict:
    user = ctx.user()
    topic = OUT_OF_SCOPE[k % len(OUT_OF_SCOPE)]
    gold = [{"name": "transfer_to_human_agents",
             "arguments": {"summary": f"Customer wants to {topic}."}, "compare_args": []}]
    return dict(user=user, requests=[request("out_of_scope", topic=topic)], gold=gold,
                basis=["DB", "ACTION"],
                purpose="The request is outside what the tools can do; transfer to a human.")


def build_bags(ctx: Ctx, k: int, slot: int) -> dict:
    """The previous trip is the first reservation on the account, in another cabin: its paid-bag
    count differs from what this reservation's allowance gives for the same number of bags."""
    while True:
        user = ctx.user()
        allow = FREE_BAGS[user["membership"]]
        pairs = [(a, b) for a in CABINS for b in CABINS if allow[a] != allow[b]]
        c_prev, c_now = pairs[k % len(pairs)]
        total = ctx.rng.randrange(2, 5)
        prev_paid = max(0, total - allow[c_prev])
        if prev_paid != max(0, total - allow[c_now]):
            break
    ctx.plant(user, cabin=c_prev, day="2024-05-12", total_bags=total, nonfree_bags=prev_paid,
              created_at="2024-05-01T09:00:00")
    res = ctx.plant(user, cabin=c_now, day=ctx.rng.choice(BOOKABLE))
    req = request("bags", res, bags=total, same_as_before=True)
    gold = {"name": "update_reservation_baggages",
            "arguments": {"reservation_id": res["reservation_id"], "total_baggages": total,
                          "nonfree_baggages": nonfree(user, res, total),
                          "payment_id": credit_card(user)}}
    return dict(user=user, requests=[req], gold=[lookup(user), gold], basis=["DB", "COMMUNICATE"],
                purpose="Free bags depend on this reservation's cabin and the member tier; the "
                        "previous trip's paid-bag count must not be copied.")


BUILDERS = {
    "write_without_confirmation": build_confirm, "multi_intent": build_multi,
    "policy_refusal": build_refusal, "transfer_to_human": build_transfer,
    "stale_record_reuse": build_bags,
}


def describe_request(req: dict) -> str:
    """One sentence saying what the customer wants, in the second person (for LLM users)."""
    rid = req["reservation_id"]
    if req["kind"] == "cancel":
        whose = f" (it belongs to your {req['owner']}, not to you)" if req["owner"] else ""
        return f"You want to cancel reservation {rid}{whose}."
    if req["kind"] == "bags":
        same = (" It is the same number of bags as you had on your previous trip."
                if req["same_as_before"] else "")
        return (f"You want {req['bags']} checked bags in total on reservation {rid}, paid bags "
                f"charged to your credit card.{same}")
    return f"You want to {req['topic']}."


def render_instructions(scenario: dict) -> dict:
    """tau2 `instructions` dict for an LLM user."""
    ident = scenario["identity"]
    return {"domain": "airline",
            "reason_for_call": " ".join(describe_request(r) for r in scenario["requests"]),
            "known_info": f"You are {ident['first_name']} {ident['last_name']}; your user id is "
                          f"{ident['user_id']}.",
            "unknown_info": None,
            "task_instructions": "Answer a confirmation question with a clear yes only if the "
                                 "change is what you asked for."}


def build_tasks(db: dict, ids: Ids, rng: random.Random) -> tuple[list[dict], dict]:
    """Plant scenarios into `db` and return (tasks, splits). Mutates `db`."""
    ctx = Ctx(db, ids, rng)
    tasks: list[dict] = []
    splits: dict = {name: [] for name, _ in SPLIT_SIZES}
    for cls, short in CLASSES:
        order = list(range(PER_CLASS))
        rng.shuffle(order)
        slot_of = {k: pos for pos, k in enumerate(order)}
        split_of, pos = {}, 0
        for name, n in SPLIT_SIZES:
            for k in order[pos:pos + n]:
                split_of[k] = name
            pos += n
        for k in range(PER_CLASS):
            spec = BUILDERS[cls](ctx, k, slot_of[k])
            tid = f"air-{short}-{k + 1:02d}"
            user = spec["user"]
            scenario = {"domain": "airline",
                        "identity": {"user_id": user["user_id"],
                                     "first_name": user["name"]["first_name"],
                                     "last_name": user["name"]["last_name"]},
                        "mood": "calm", "requests": spec["requests"], "max_turns": 14}
            scenario["summary"] = " ".join(describe_request(r) for r in spec["requests"]
                                           ).replace("You want", "wants")
            actions = [{"action_id": f"{tid}_{n}", "requestor": "assistant", "name": g["name"],
                        "arguments": g["arguments"], "info": None,
                        "compare_args": g.get("compare_args")}
                       for n, g in enumerate(spec["gold"])]
            tasks.append({
                "id": tid,
                "description": {"purpose": spec["purpose"], "relevant_policies": None,
                                "notes": None},
                "user_scenario": {"persona": None, "instructions": render_instructions(scenario)},
                "initial_state": None,
                "evaluation_criteria": {"actions": actions, "env_assertions": None,
                                        "communicate_info": [], "nl_assertions": None,
                                        "reward_basis": spec["basis"]},
                "t2e": {"split": split_of[k], "failure_class": cls, "scenario": scenario},
            })
            splits[split_of[k]].append(tid)
    return tasks, splits
