"""The words for how an episode ended, the same in every output (the CLI and the app).

The stored value is `episodes.termination_reason` (tau2's reasons: user_stop, agent_stop,
max_steps, too_many_errors, agent_error, user_error, infrastructure_error) beside the episode's
`status`. A foreign trace (OpenTelemetry, ATIF) often records no reason: that is "not
recorded", never a guess ("unknown"), the status ("done") or an empty cell ("-").
"""

from __future__ import annotations

NOT_RECORDED = "not recorded"  # a finished episode whose trace gave no reason
RUNNING = "running"            # not finished yet: no reason can exist


def termination_text(reason: str | None, status: str | None) -> str:
    """How an episode ended, in words: its stored reason, else why there is none."""
    if reason:
        return reason
    return RUNNING if status == "running" else NOT_RECORDED
