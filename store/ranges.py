"""The ranges of recorded figures, one definition for every importer and the gate's outcome
mapping: a reward is a number in [0, 1] (tau2's is a product of components in [0, 1]; the
gate averages rewards, so one of 7 would count as seven passes). Each check returns what is
wrong, in words that follow the value, or None; the caller names the file, the record and
the field."""

from __future__ import annotations

from typing import Any

REWARD_WHY = "a tau2 reward is a product of components in [0, 1]"


def reward_problem(v: Any) -> str | None:
    """Why the number `v` is no reward ("7 is outside [0, 1] (...)"), or None when it is one
    (0 <= v <= 1). Types are the caller's check: a value that is no number gives None."""
    if (type(v) is float or type(v) is int) and not 0 <= v <= 1:
        return f"{v} is outside [0, 1] ({REWARD_WHY})"
    return None
