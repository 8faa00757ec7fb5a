"""Failure classes as data: a name, a description, a kind and a detector.

A detector is a function `(EpisodeTrace, Facts) -> list[Verdict]` that says nothing unless its
rule holds (precision beats recall). A domain adds its own class with `register(FailureClass(...))`
or passes its own list to `classify`. The definitions in words are in docs/failure-classes.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

AGENT, BLAME, INFRA = "agent", "blame", "infra"
UNCLASSIFIED = "unclassified"
INFRASTRUCTURE = "infrastructure"


@dataclass
class Verdict:
    """One class given to an episode: the steps that justify it and one sentence of why."""
    name: str
    steps: list[int]
    why: str
    source: str = "rule"            # rule | human
    kind: str = AGENT               # agent | blame | infra
    note: str | None = None         # a human label's note
    author: str | None = None
    detail: dict = field(default_factory=dict)   # e.g. the argument diff
    rank: int | None = None         # overrides the class priority for this verdict
    # the tool of the call (or gold action) the verdict is about: one step may hold several
    # calls, so the step alone does not say which (clusters key on this)
    tool: str | None = None

    def to_dict(self) -> dict:
        d = {"name": self.name, "steps": list(self.steps), "why": self.why, "source": self.source}
        if self.kind != AGENT:
            d["kind"] = self.kind
        if self.note:
            d["note"] = self.note
        if self.author:
            d["author"] = self.author
        if self.detail:
            d["detail"] = self.detail
        if self.tool:
            d["tool"] = self.tool
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Verdict":
        return cls(d["name"], list(d.get("steps") or []), d.get("why") or "", d.get("source", "rule"),
                   d.get("kind", AGENT), d.get("note"), d.get("author"), d.get("detail") or {},
                   tool=d.get("tool"))


@dataclass(frozen=True)
class FailureClass:
    """A failure class. `priority`: lower ranks first when several agent classes hold (the
    top class is the most specific cause, symptoms like a missing write rank last).
    `needs_gold`: the rule reads the task (gold actions, communicate info, the reward
    breakdown, the user scenario) or the failed outcome; only a class that reads nothing but
    the trace (False) is looked for in an unscored episode or one whose task is not stored.
    A domain's own class needs gold unless it says otherwise."""
    name: str
    description: str
    detector: Callable
    kind: str = AGENT
    priority: int = 50
    needs_gold: bool = True


_REGISTRY: dict[str, FailureClass] = {}
_SORTED: list = []


def register(fc: FailureClass) -> FailureClass:
    """Add (or replace) a class in the default registry; returns it."""
    _REGISTRY[fc.name] = fc
    _SORTED.clear()
    return fc


def registered() -> list[FailureClass]:
    """Every registered class, by priority then name (a copy; sorted once per change)."""
    if not _SORTED:  # the built-in classes register when the package loads (__init__)
        _SORTED.extend(sorted(_REGISTRY.values(), key=lambda c: (c.priority, c.name)))
    return list(_SORTED)


def describe() -> list[dict]:
    """name, kind and description of every class (for `t2e failures --classes` and the docs)."""
    return [{"name": c.name, "kind": c.kind, "description": c.description,
             "needs_gold": c.needs_gold} for c in registered()]
