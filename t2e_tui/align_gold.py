"""The gold lane's matching: which call satisfies which gold action, the way tau2's action
check decides it (name, compared arguments; order free), and where each run did it."""

from __future__ import annotations

import json

from .align_events import Event, norm_value


def gold_matches(gold: Event, call: Event) -> bool:
    """tau2's action check: same name and equal values on the compared arguments.

    `compare_args` null compares every gold argument; `[]` compares the name only.
    """
    if gold.name != call.name:
        return False
    try:
        compare = json.loads(gold.text) if gold.text else None
    except ValueError:
        compare = None
    gargs = gold.args if isinstance(gold.args, dict) else {}
    cargs = call.args if isinstance(call.args, dict) else {}
    keys = list(gargs) if compare is None else list(compare)
    return all(norm_value(gargs.get(k)) == norm_value(cargs.get(k)) for k in keys)


def recorded_action_checks(checks: list[dict] | None) -> dict[int, bool]:
    """A run's recorded action checks: gold position -> met."""
    return {int(c["pos"]): bool(c["met"]) for c in (checks or [])
            if c.get("kind") == "action" and c.get("met") is not None}


def locate_gold(rows: list, gold: list[Event], side: str,
                recorded: dict[int, bool]) -> list[tuple[bool | None, int | None]]:
    """Per gold action: (found by side `side`, the row of the call that satisfies it); the
    recorded action check decides found when there is one. Marks that row's `gold_<side>`."""
    out = []
    for g in gold:
        where = None
        for r, row in enumerate(rows):
            ev = row.a if side == "a" else row.b
            if ev is not None and ev.kind == "call" and gold_matches(g, ev):
                where = r
                setattr(row, "gold_" + side, g.gold_index)
                break
        found = recorded.get(g.gold_index) if g.gold_index in recorded else where is not None
        out.append((found, where))
    return out


def in_run_order(gold: list[Event], ea: list[Event]) -> list[Event]:
    """The gold actions in the order the run did them: tau2's action check asks only that
    each be done, in any order, so a gold action is paired with the first call (not yet
    taken) that satisfies it, wherever that call is; one no call satisfies keeps its place
    after the gold action before it."""
    calls = [(i, e) for i, e in enumerate(ea) if e.kind == "call"]
    taken: set[int] = set()
    at: list[float] = []
    for g in gold:
        hit = next((i for i, e in calls if i not in taken and gold_matches(g, e)), None)
        if hit is not None:
            taken.add(hit)
        # (missing: just after the one before it, in gold order)
        at.append(hit if hit is not None else (at[-1] if at else -1) + 0.5)
    return [g for _, _, g in sorted(zip(at, range(len(gold)), gold))]
