"""The ranges of recorded figures, one definition for every importer and the gate's outcome
mapping: a reward is a number in [0, 1] (tau2's is a product of components in [0, 1]; the
gate averages rewards, so one of 7 would count as seven passes), and a token count an integer
of at least 0 (episodes sum them). Each check returns what is wrong, in words that follow the
field's name, or None; the caller names the file, the record and the field."""

from __future__ import annotations

from typing import Any

REWARD_WHY = "a tau2 reward is a product of components in [0, 1]"
# the keys of a message's usage read as token counts (tau2 / LiteLLM names, ATIF's
# cached_tokens, and what the OpenTelemetry import maps the GenAI attributes to)
USAGE_COUNTS = ("prompt_tokens", "completion_tokens", "cache_read_tokens",
                "cache_write_tokens", "cached_tokens")


def reward_problem(v: Any) -> str | None:
    """Why the number `v` is no reward ("7 is outside [0, 1] (...)"), or None when it is one
    (0 <= v <= 1). Types are the caller's check: a value that is no number gives None."""
    if (type(v) is float or type(v) is int) and not 0 <= v <= 1:
        return f"{v} is outside [0, 1] ({REWARD_WHY})"
    return None


def count_problem(v: Any) -> str | None:
    """Why `v` is no token count ("should be an integer, found str \"many\"", "is negative
    (-5): a token count is 0 or more"), or None when it is one (an integer of at least 0)."""
    if type(v) is not int and (isinstance(v, bool) or not isinstance(v, int)):
        from .messages import short_json

        return f"should be an integer, found {type(v).__name__} {short_json(v)}"
    if v < 0:
        return f"is negative ({v}): a token count is 0 or more"
    return None
