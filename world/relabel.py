"""The relabel check: does a simulation's task label fit its trajectory, and if not, does
exactly one other embedded task fit? Shared by the scorer (`t2e score`) and the store importer.

Public leaderboard files exist whose `task_id` labels are scrambled (SPEC §7.3). Two kinds of
evidence, strongest first:

1. The recorded `reward_info.action_checks` list the gold actions the run was graded against.
   The task whose gold action list equals it is the task actually graded. (Action-id prefixes
   are NOT used: in tau2's own retail data tasks 97-111 carry their neighbour's action ids.)
   Several tasks can share one gold action list ("twins": tau2 retail 41/42, 71/72, 83/84,
   96/97). Among twins, in order: the recorded action ids (the whole list, equal to one twin's),
   the recorded communicate checks (equal to one twin's communicate_info), the user's messages
   against each twin's scenario (words only one twin's scenario has). Twins still left are
   picked between only when their gold outcomes are identical (same evaluation criteria apart
   from action ids: any of them scores the same); otherwise the result is an "ambiguous label"
   (`likely` None, `ambiguous` the twins), which callers count apart, never as a disagreement.
2. The trajectory's entities: user ids and order ids in tool-call arguments and tool results,
   against the user/order ids in each task's gold actions; ties are broken by how many of the
   task's gold write actions the trajectory performed.

Usage: `check_label(sim, tasks)` with `sim` a tau2 SimulationRun dict (`id`, `task_id`,
`messages`, `reward_info`) and `tasks` the embedded tasks (id -> Task). Returns None when the
label fits (or no other task fits uniquely), else
`{"sim_id", "label", "likely", "reason"}` (`likely` None and `ambiguous: [ids]` when twins
with different gold outcomes can't be told apart).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from .lock import canonical_json
from .scoring import action_matches, iter_tool_calls
from .tasks import Task


def _action_signature(actions: list[dict]) -> tuple:
    return tuple((a.get("name"), canonical_json(a.get("arguments") or {})) for a in actions)


def _task_signature(task: Task) -> tuple:
    # Memoised on the task: a file's every simulation compares against every task.
    sig = getattr(task, "_t2e_signature", None)
    if sig is None:
        sig = tuple((a.name, canonical_json(a.arguments)) for a in task.actions)
        task._t2e_signature = sig  # type: ignore[attr-defined]
    return sig


def _recorded_signature(sim: dict) -> tuple | None:
    info = sim.get("reward_info")
    checks = info.get("action_checks") if isinstance(info, dict) else None
    if not isinstance(checks, list) or not checks:
        return None
    actions = [c.get("action") for c in checks if isinstance(c, dict)]
    if not actions or not all(isinstance(a, dict) for a in actions):
        return None
    return _action_signature(actions)


class Entities:
    """Who a trajectory or a task is about: user ids, emails, (first, last, zip), order ids
    (retail orders and airline reservations alike)."""

    __slots__ = ("users", "emails", "names", "orders")

    def __init__(self) -> None:
        self.users: set[str] = set()
        self.emails: set[str] = set()
        self.names: set[tuple] = set()
        self.orders: set[str] = set()

    def add_args(self, name: str | None, args: Any) -> None:
        if not isinstance(args, dict):
            return
        if isinstance(args.get("user_id"), str):
            self.users.add(args["user_id"])
        # An airline reservation plays the part of a retail order: it belongs to one user.
        for key in ("order_id", "reservation_id"):
            if isinstance(args.get(key), str):
                self.orders.add(args[key])
        if name == "find_user_id_by_email" and isinstance(args.get("email"), str):
            self.emails.add(args["email"].strip().lower())
        if name == "find_user_id_by_name_zip":
            key = tuple(str(args.get(k, "")).strip().lower()
                        for k in ("first_name", "last_name", "zip"))
            self.names.add(key)

    def identity(self) -> bool:
        return bool(self.users or self.emails or self.names)


def trajectory_entities(messages: list[dict]) -> Entities:
    """What the trajectory touched: call arguments and identity lookups' results."""
    ent = Entities()
    calls = {}
    for call in iter_tool_calls(messages):
        calls[call.get("id")] = call
        ent.add_args(call.get("name"), call.get("arguments"))
    for msg in messages:
        if not isinstance(msg, dict) or msg.get("role") != "tool" or msg.get("error"):
            continue
        content = msg.get("content")
        if not isinstance(content, str):
            continue
        call = calls.get(msg.get("id")) or {}
        if call.get("name") in ("find_user_id_by_email", "find_user_id_by_name_zip"):
            ent.users.add(content.strip())
        elif (call.get("name") in ("get_order_details", "get_reservation_details")
              and content.startswith("{")):
            try:
                rec = json.loads(content)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("user_id"), str):
                ent.users.add(rec["user_id"])
    return ent


def task_entities(task: Task) -> Entities:
    """Who a task's gold actions are about (memoised on the task, like its signature: a
    mislabelled simulation is checked against every task; treat the result as read-only)."""
    ent = getattr(task, "_t2e_entities", None)
    if ent is None:
        ent = Entities()
        for a in task.actions:
            ent.add_args(a.name, a.arguments)
        task._t2e_entities = ent  # type: ignore[attr-defined]
    return ent


def _scenario_text(task: Task) -> str:
    """The task's user scenario as one lower-case, single-spaced string (memoised)."""
    text = getattr(task, "_t2e_scenario_text", None)
    if text is None:
        text = " ".join(canonical_json(task.raw.get("user_scenario") or "").lower().split())
        task._t2e_scenario_text = text  # type: ignore[attr-defined]
    return text


def _fits(task: Task, traj: Entities) -> bool | None:
    """True/False when the task's gold actions identify its user; None when they do not."""
    ent = task_entities(task)
    if ent.users:
        return bool(ent.users & traj.users)
    if ent.emails or ent.names:
        return bool(ent.emails & traj.emails or ent.names & traj.names)
    if ent.orders:
        return bool(ent.orders & traj.orders)  # an order belongs to exactly one user
    # No identity in the gold actions: look for the trajectory's user in the scenario text
    # (by id, email, or the name a retail user id is built from: "noah_ito_3850" -> "noah ito").
    text = _scenario_text(task)
    if not text.strip('"{}') or not traj.identity():
        return None
    needles = {u.lower() for u in traj.users | traj.emails}
    needles |= {" ".join(n[:2]) for n in traj.names}
    for uid in traj.users:
        parts = uid.lower().split("_")
        if len(parts) >= 3 and parts[-1].isdigit():
            needles.add(" ".join(parts[:-1]))
    return any(n and n in text for n in needles)


def _rank(task: Task, calls: list[dict], traj: Entities) -> tuple:
    writes = task.write_actions
    done = sum(1 for a in writes if any(action_matches(a, c) for c in calls))
    orders = task_entities(task).orders
    seen = len(orders & traj.orders)
    # Most gold writes performed, then fewest left undone, then most of its orders seen.
    return (done, done - len(writes), round(seen / len(orders), 6) if orders else 1.0)


def _recorded_ids(sim: dict) -> list[str] | None:
    checks = (sim.get("reward_info") or {}).get("action_checks")
    ids = [str((c.get("action") or {}).get("action_id")) for c in checks or []
           if isinstance(c, dict) and isinstance(c.get("action"), dict)
           and (c.get("action") or {}).get("action_id") is not None]
    return ids or None


def _recorded_communicate(sim: dict) -> list[str] | None:
    checks = (sim.get("reward_info") or {}).get("communicate_checks")
    if not isinstance(checks, list) or not checks:
        return None
    return [str(c.get("info")) for c in checks if isinstance(c, dict)] or None


def _words(text: str) -> set[str]:
    return {w for w in "".join(ch if ch.isalnum() else " " for ch in text.lower()).split()
            if len(w) > 3}


def _outcome(task: Task) -> str:
    """A task's gold outcome: its evaluation criteria without the action ids."""
    crit = dict(task.raw.get("evaluation_criteria") or {})
    crit["actions"] = [{k: v for k, v in (a or {}).items() if k != "action_id"}
                       for a in crit.get("actions") or []]
    return canonical_json(crit)


def separate_twins(sim: dict, twins: list[Task]) -> tuple[list[Task], str]:
    """Narrow tasks with the same gold actions down by the recorded action ids, the recorded
    communicate checks, then the user's words against each scenario. Returns (left, how)."""
    ids = _recorded_ids(sim)
    if ids:
        by_ids = [t for t in twins if [a.action_id for a in t.actions] == ids]
        if len(by_ids) == 1:
            return by_ids, "the recorded action ids"
    said = _recorded_communicate(sim)
    if said is not None:
        by_comm = [t for t in twins if list(t.communicate_info) == said]
        if len(by_comm) == 1:
            return by_comm, "the recorded communicate checks"
    user = " ".join(str(m.get("content") or "") for m in sim.get("messages") or []
                    if isinstance(m, dict) and m.get("role") == "user")
    if user.strip():
        mine = _words(user)
        scen = {t.id: _words(_scenario_text(t)) for t in twins}
        # a word only one twin's scenario has is one no other twin's has: counted once over
        # the twins (linear; the set difference against the others' union was quadratic)
        count = Counter(w for words in scen.values() for w in words)
        score = {t.id: sum(1 for w in mine & scen[t.id] if count[w] == 1) for t in twins}
        best = max(score.values())
        top = [t for t in twins if score[t.id] == best]
        if best > 0 and len(top) == 1:
            return top, "the user's words against each scenario"
    return twins, ""


def _graded_twins(sim: dict, label: str | None, sim_id: Any,
                  twins: list[Task]) -> dict | None:
    """The verdict when several tasks share the recorded gold actions."""
    left, how = separate_twins(sim, twins)
    names = ", ".join(t.id for t in twins)
    if len(left) == 1:
        if left[0].id == label:
            return None
        return {"sim_id": sim_id, "label": label, "likely": left[0].id,
                "reason": f"tasks {names} share the recorded gold actions; {how} are task "
                          f"{left[0].id}'s"}
    if label in {t.id for t in left}:
        return None
    if len({_outcome(t) for t in left}) == 1:
        pick = left[0]  # identical gold outcomes: any of them grades the same
        return {"sim_id": sim_id, "label": label, "likely": pick.id,
                "reason": f"tasks {names} share the recorded gold actions and have identical "
                          f"gold outcomes: graded as task {pick.id}"}
    return {"sim_id": sim_id, "label": label, "likely": None,
            "ambiguous": [t.id for t in left],
            "reason": f"ambiguous label: tasks {', '.join(t.id for t in left)} share the "
                      f"recorded gold actions but not their gold outcomes, and nothing recorded "
                      f"tells them apart"}


class _TaskIndex:
    """The embedded tasks indexed by what `check_label` looks them up by, so one simulation
    costs what its own evidence touches, not a pass over every task (25,000 embedded tasks
    made `t2e score` and the importer quadratic). `candidates(traj)` is a superset of the
    tasks `_fits` can accept: a task whose gold actions name a user is found by that user, one
    that names only emails/names or only orders by those, and the tasks whose gold names no
    one (their scenario text decides) are always candidates."""

    def __init__(self, tasks: dict[str, Task]) -> None:
        self.by_signature: dict[tuple, list[str]] = {}
        self.by_user: dict[str, list[str]] = {}
        self.by_email: dict[str, list[str]] = {}
        self.by_name: dict[tuple, list[str]] = {}
        self.by_order: dict[str, list[str]] = {}
        self.unnamed: list[str] = []
        for tid, t in tasks.items():
            if t.actions:
                self.by_signature.setdefault(_task_signature(t), []).append(tid)
            ent = task_entities(t)
            if ent.users:
                keys = [(self.by_user, u) for u in ent.users]
            elif ent.emails or ent.names:
                keys = [(self.by_email, e) for e in ent.emails]
                keys += [(self.by_name, n) for n in ent.names]
            elif ent.orders:
                keys = [(self.by_order, o) for o in ent.orders]
            else:
                self.unnamed.append(tid)
                continue
            for table, key in keys:
                table.setdefault(key, []).append(tid)

    def candidates(self, traj: Entities) -> set[str]:
        out = set(self.unnamed)
        for table, keys in ((self.by_user, traj.users), (self.by_email, traj.emails),
                            (self.by_name, traj.names), (self.by_order, traj.orders)):
            for key in keys:
                out.update(table.get(key, ()))
        return out


# one file's simulations are all checked against the same tasks dict: its index is kept
# while that dict is the one asked about (and unchanged in size)
_last: tuple[Any, int, _TaskIndex] | None = None


def _index(tasks: dict[str, Task]) -> _TaskIndex:
    global _last
    if _last is None or _last[0] is not tasks or _last[1] != len(tasks):
        _last = (tasks, len(tasks), _TaskIndex(tasks))
    return _last[2]


def check_label(sim: dict, tasks: dict[str, Task]) -> dict | None:
    """None when `sim`'s label fits; else {"sim_id", "label", "likely", "reason"} when exactly
    one other task fits. See the module docstring for the evidence used."""
    label = sim.get("task_id")
    label = str(label) if label is not None else None
    sim_id = sim.get("id")
    messages = [m for m in sim.get("messages") or [] if isinstance(m, dict)]

    index = _index(tasks)
    sig = _recorded_signature(sim)
    if sig is not None:
        graded = index.by_signature.get(sig, [])
        if len(graded) > 1:
            return _graded_twins(sim, label, sim_id, [tasks[t] for t in graded])
        if label in graded:
            return None
        if len(graded) == 1:
            return {"sim_id": sim_id, "label": label, "likely": graded[0],
                    "reason": "the recorded action checks are task "
                              f"{graded[0]}'s gold actions"}

    traj = trajectory_entities(messages)
    if not traj.identity():
        return None  # no evidence either way: keep the label
    calls = list(iter_tool_calls(messages))
    label_task = tasks.get(label) if label is not None else None
    if label_task is not None:
        if _fits(label_task, traj) is not False:
            return None
        # A trajectory can wander to the wrong customer (a failed authentication) and still
        # belong to its label: any of the label's orders or gold writes keeps the label.
        done, _, seen = _rank(label_task, calls, traj)
        if done or (task_entities(label_task).orders & traj.orders):
            return None
    ranked = sorted(((_rank(tasks[tid], calls, traj), tid) for tid in index.candidates(traj)
                     if _fits(tasks[tid], traj)), reverse=True)
    if not ranked or (len(ranked) > 1 and ranked[1][0] == ranked[0][0]):
        return None  # nothing fits, or several tasks fit equally well: not unique
    (done, _, seen), likely = ranked[0]
    if not done and not (seen and task_entities(tasks[likely]).orders):
        return None  # the identity alone is too weak to move a label
    who = ", ".join(sorted(traj.users | traj.emails))
    return {"sim_id": sim_id, "label": label, "likely": likely,
            "reason": f"the trajectory is about {who}, which task {label} does not involve; "
                      f"task {likely} fits uniquely"}
