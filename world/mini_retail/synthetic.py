"""Synthetic pressure cases: seeded variants of one mini-retail failure class.

`synthetic_tasks(failure_class, n, seed)` derives `n` tau2-shaped tasks from the class's
existing tasks (its scenario template, already planted in the seed-0 world), so the records,
the tools and the world hash stay as they are. Each variant takes, deterministically from
`seed`:

* other users / other orders: a base task of the class drawn from all its tasks (each has its
  own customer and planted orders), and the other way of authenticating (email <-> name+zip,
  with the gold lookup changed to match);
* pressure language: a frustrated customer plus an urgency line (`scenario.style.pressure`);
* indirect phrasing: a hedged lead-in before the requests (`scenario.style.indirect`); the
  request sentences themselves keep the scripted user's own wording, so the scripted agent can
  still read them;
* multi-intent: a second request appended, the tracking number of another of the customer's
  own shipped orders (read-only; the number joins communicate_info), for classes where the
  scripted user keeps talking after the first request (not refusals, transfers or tracking).

Tasks carry `t2e.split = "synthetic"`, ids `syn-<class>-<seed>-<k>` and `t2e.synthetic` (the
base task and the variations). They are played by the scripted user, a deterministic stand-in:
synthetic evidence characterises a candidate under pressure, it is never heldout proof.
"""

from __future__ import annotations

import copy
import random

from .instructions import render_instructions, summarize
from .tasks import CLASSES, auth_action, request

SPLIT = "synthetic"
NO_SECOND_REQUEST = ("policy_refusal", "transfer_to_human", "cancelled_order_tracking")
PRESSURE_LINES = [
    "I need this sorted out right now; I don't have time for a long back and forth.",
    "This is urgent and I'm running out of patience, so please be quick.",
    "Please just get it done, I've waited long enough already.",
]
INDIRECT_LINES = [
    "I'm not sure this is the right place to ask, but I was hoping you could help with something.",
    "I was wondering whether you might be able to help me with a couple of things, if possible.",
]


def class_names() -> list[str]:
    """The mini-retail failure classes synthetic variants can be made for."""
    return [c for c, _ in CLASSES]


def _world() -> dict:
    from . import build  # the domain loads seed 0; variants live in that same world
    return build(0)


def _tracking_order(db: dict, user_id: str, taken: set[str]) -> dict | None:
    """One of the customer's own shipped orders with a tracking number, not already asked about."""
    for oid in sorted(db["users"][user_id]["orders"]):
        o = db["orders"].get(oid)
        if (o and oid not in taken and o["status"] in ("processed", "delivered")
                and o.get("fulfillments") and o["fulfillments"][0].get("tracking_id")):
            return o
    return None


def _variant(base: dict, db: dict, tid: str, rng: random.Random, cls: str) -> dict:
    task = copy.deepcopy(base)
    t2e = task["t2e"]
    sc = t2e["scenario"]
    user = db["users"][sc["identity"]["user_id"]]
    actions = task["evaluation_criteria"]["actions"]
    changes = [f"base {base['id']}"]
    if rng.random() < 0.5:
        via = "name_zip" if sc["auth_via"] == "email" else "email"
        for a in actions:
            if a["name"].startswith("find_user_id_by_"):
                a.update(name=auth_action(user, via)["name"],
                         arguments=auth_action(user, via)["arguments"])
        sc["auth_via"] = via
        changes.append(f"auth via {via}")
    style = {"pressure": rng.random() < 0.5, "indirect": rng.random() < 0.5}
    second = None
    if cls not in NO_SECOND_REQUEST and rng.random() < 0.5:
        taken = {r["order_id"] for r in sc["requests"] if r.get("order_id")}
        if not any(r["kind"] == "tracking" for r in sc["requests"]):
            second = _tracking_order(db, user["user_id"], taken)
    if not (style["pressure"] or style["indirect"] or second):
        style["pressure"] = True   # every variant puts some pressure on the agent
    if style["pressure"]:
        sc["mood"] = "frustrated"
        style["pressure_line"] = rng.choice(PRESSURE_LINES)
        changes.append("pressure language")
    if style["indirect"]:
        style["indirect_line"] = rng.choice(INDIRECT_LINES)
        changes.append("indirect phrasing")
    if second is not None:
        sc["requests"].append(request("tracking", second))
        crit = task["evaluation_criteria"]
        crit["communicate_info"] = list(crit.get("communicate_info") or []) + [
            second["fulfillments"][0]["tracking_id"][0]]
        if "COMMUNICATE" not in crit["reward_basis"]:
            crit["reward_basis"] = list(crit["reward_basis"]) + ["COMMUNICATE"]
        changes.append(f"multi-intent (+tracking {second['order_id']})")
    sc["style"] = style
    sc["summary"] = "[synthetic] " + summarize(sc)
    task["id"] = tid
    for n, a in enumerate(actions):
        a["action_id"] = f"{tid}_{n}"
    inst = render_instructions(sc, db)
    extra = " ".join(x for x in (style.get("pressure_line"), style.get("indirect_line")) if x)
    if extra and isinstance(inst, dict):
        inst["task_instructions"] = f"In your first message also say: {extra!r} {inst.get('task_instructions') or ''}".strip()
    task["user_scenario"]["instructions"] = inst
    task["description"]["notes"] = "synthetic variant: " + "; ".join(changes)
    t2e["split"] = SPLIT
    t2e["synthetic"] = {"base": base["id"], "seed": None, "changes": changes}
    return task


def synthetic_tasks(failure_class: str, n: int, seed: int) -> list[dict]:
    """`n` synthetic variants of `failure_class` (see the module docstring), the same for the
    same (class, n, seed). Raises ValueError for an unknown class or n < 1."""
    if failure_class not in class_names():
        raise ValueError(f"unknown failure class {failure_class!r} "
                         f"(known: {', '.join(class_names())})")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"count {n!r}: must be a whole number of at least 1")
    world = _world()
    db = world["db"]
    bases = [t for t in world["tasks"] if t["t2e"]["failure_class"] == failure_class]
    rng = random.Random(f"synthetic:{failure_class}:{seed}")
    rng.shuffle(bases)   # other users and orders: each base task has its own customer
    out = []
    for k in range(n):
        task = _variant(bases[k % len(bases)], db, f"syn-{failure_class}-{seed}-{k}", rng,
                        failure_class)
        task["t2e"]["synthetic"]["seed"] = seed
        out.append(task)
    return out
