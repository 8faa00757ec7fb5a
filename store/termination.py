"""The words for how an episode ended, and so for its reward, the same in every output (the
CLI and the app).

The stored value is `episodes.termination_reason` (tau2's reasons: user_stop, agent_stop,
max_steps, too_many_errors, agent_error, user_error, infrastructure_error) beside the episode's
`status`. A foreign trace (OpenTelemetry, ATIF) often records no reason: that is "not
recorded", never a guess ("unknown"), the status ("done") or an empty cell ("-").

An episode that ended `infrastructure_error` never reached the model: it has no reward, whatever
number was stored with it (the engine stores 0), and every output says "n/a" (`reward_text`)
or null (`episode_reward`, `episode_success`), as every figure leaves it out.
"""

from __future__ import annotations

from typing import Any

from .db import INFRA

NOT_RECORDED = "not recorded"  # a finished episode whose trace gave no reason
RUNNING = "running"            # not finished yet: no reason can exist


def termination_text(reason: str | None, status: str | None) -> str:
    """How an episode ended, in words: its stored reason, else why there is none."""
    if reason:
        return reason
    return RUNNING if status == "running" else NOT_RECORDED


NO_REWARD = "n/a"  # an infrastructure error's reward, in every output


def episode_reward(reward: float | None, reason: str | None) -> float | None:
    """The reward an output shows for an episode: None for an infrastructure error (the model
    was never reached, nothing was measured: every figure leaves it out, as `t2e runs` does,
    whatever number was stored with it), else the stored reward."""
    return None if reason == INFRA else reward


def episode_success(success: Any, reason: str | None) -> Any:
    """Passed or not, as `episode_reward` sees it: None for an infrastructure error, else the
    stored value."""
    return None if reason == INFRA else success


def reward_text(reward: float | None, reason: str | None, digits: int | None = None,
                missing: str = "-") -> str:
    """An episode's reward in words: 'n/a' for an infrastructure error, `missing` for an
    episode with no reward (unscored, running), else the number (`digits` places, or %g)."""
    if reason == INFRA:
        return NO_REWARD
    if reward is None:
        return missing
    return f"{reward:g}" if digits is None else f"{reward:.{digits}f}"
