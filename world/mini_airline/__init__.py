"""mini-airline: our own built-in airline world (records, policy, tasks), tau2 airline compatible.

A generated STAND-IN world for the transfer check: a rule learned on mini-retail is run here.
`build(seed)` is deterministic: the same seed gives the same JSON byte for byte.
"""

from __future__ import annotations

import json
from importlib import resources

from .generator import generate
from .tasks import build_tasks

_CACHE: dict[int, str] = {}


def policy_text() -> str:
    """The agent policy of mini-airline (policy.md, our own words)."""
    return resources.files(__package__).joinpath("policy.md").read_text(encoding="utf-8")


def build(seed: int = 0) -> dict:
    """The mini-airline world for `seed`: {"db", "policy", "tasks", "splits"} (a fresh copy)."""
    if seed not in _CACHE:
        db, ids, rng = generate(seed)
        tasks, splits = build_tasks(db, ids, rng)
        world = {"db": db, "policy": policy_text(), "tasks": tasks, "splits": splits}
        _CACHE[seed] = json.dumps(world, sort_keys=False)
    return json.loads(_CACHE[seed])
