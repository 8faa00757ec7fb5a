"""mini-retail: our own built-in support world (records, policy, tasks), tau2 retail compatible.

`build(seed)` generates it deterministically: the same seed gives the same JSON byte for byte.
"""

from __future__ import annotations

import json
from importlib import resources

from .generator import generate
from .tasks import build_tasks

_CACHE: dict[int, str] = {}


def policy_text() -> str:
    """The agent policy of mini-retail (policy.md, our own words)."""
    return resources.files(__package__).joinpath("policy.md").read_text(encoding="utf-8")


def build(seed: int = 0) -> dict:
    """The mini-retail world for `seed`: {"db", "policy", "tasks", "splits"}.

    Built once per seed and process; every call returns a fresh copy, so callers may mutate it.
    """
    if seed not in _CACHE:
        db, ids, rng = generate(seed)
        tasks, splits = build_tasks(db, ids, rng)
        world = {"db": db, "policy": policy_text(), "tasks": tasks, "splits": splits}
        _CACHE[seed] = json.dumps(world, sort_keys=False)
    return json.loads(_CACHE[seed])
