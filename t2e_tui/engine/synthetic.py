"""`--tasks synthetic:CLASS:N[:SEED]`: a run on synthetic pressure cases of one failure class.

The tasks come from `world.mini_retail.synthetic` (deterministic from the seed, so a resume
regenerates the same ones); the plan's domain becomes a copy of mini-retail whose task table
also holds them (records, tools and world hash unchanged), and the engine stores them as the
run's task definitions, so scoring, exports and the gate read them like any other task.
The run's role is always `synthetic`: the gate reports it as such, never as heldout proof.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import T2EError

PREFIX = "synthetic:"
MAX_COUNT = 1000


def is_synthetic_spec(spec: str | None) -> bool:
    """True for a `synthetic:...` task spec."""
    return str(spec or "").strip().startswith(PREFIX)


def parse_spec(spec: str) -> tuple[str, int, int]:
    """`synthetic:CLASS:N[:SEED]` -> (class, n, seed); one line naming what is wrong."""
    parts = spec.strip().split(":")
    if len(parts) not in (3, 4):
        raise T2EError(f"--tasks {spec!r}: expected synthetic:CLASS:N[:SEED]")
    _, cls, n, *rest = parts
    try:
        count = int(n)
        seed = int(rest[0]) if rest else 0
    except ValueError:
        raise T2EError(f"--tasks {spec!r}: N and SEED must be whole numbers") from None
    if not 1 <= count <= MAX_COUNT:
        raise T2EError(f"--tasks {spec!r}: N must be from 1 to {MAX_COUNT}")
    if seed < 0:
        raise T2EError(f"--tasks {spec!r}: SEED must be at least 0")
    return cls, count, seed


def synthetic_domain(dom: Any, domain: str, spec: str) -> tuple[Any, list[str]]:
    """(a copy of `dom` that also holds the spec's synthetic tasks, their ids)."""
    if domain != "mini-retail":
        raise T2EError(f"--tasks {spec!r}: synthetic pressure cases exist for mini-retail only")
    from world.mini_retail.synthetic import SPLIT, synthetic_tasks
    from world.tasks import parse_tasks

    cls, count, seed = parse_spec(spec)
    try:
        raw = synthetic_tasks(cls, count, seed)
    except ValueError as exc:
        raise T2EError(f"--tasks {spec!r}: {exc}") from None
    tasks = parse_tasks(raw, f"synthetic tasks {spec}")
    ids = list(tasks)
    return dataclasses.replace(dom, tasks={**dom.tasks, **tasks},
                               splits={**dom.splits, SPLIT: ids}), ids


def synthetic_role(spec: str, role: str | None) -> str:
    """The role of a synthetic run: `synthetic`, and nothing else."""
    if role not in (None, "synthetic"):
        raise T2EError(f"--role {role}: a run on {spec} is synthetic evidence; its role is "
                       "always synthetic")
    return "synthetic"
