"""An episode's outcome, defined once for every output (the failures report, `t2e episodes
--failed`, the compare header, the tasks screen's failure classes, the flywheel):

- `infrastructure`: ended on `infrastructure_error` (the model was never reached); shown
  apart, excluded from every figure.
- `running`: not finished.
- `unscored`: finished with no reward. Foreign traces (OpenTelemetry, ATIF) carry no gold, so
  they have none until an outcome attribute is mapped (`t2e gate --reward-attr NAME`). An
  unscored episode is never failed: it is not counted, listed or located as a failure. Failure
  classes that need no gold (`FailureClass.needs_gold` False) may still be found in it, and
  are said as findings of an unscored episode.
- `passed` / `failed`: a reward, `|reward - 1| <= 1e-6` or not (`episodes.success`).

`FAILED_SQL` / `UNSCORED_SQL` are the same rules over `episodes e` for queries.
"""

from __future__ import annotations

from store import INFRA

PASSED, FAILED, UNSCORED, INFRASTRUCTURE, RUNNING = (
    "passed", "failed", "unscored", "infrastructure", "running")
SUCCESS_TOL = 1e-6

# what the failure analysis reads: failed, or ended on infrastructure (shown apart, never counted)
FAILED_SQL = ("e.status = 'done' AND (e.termination_reason = '" + INFRA + "' OR"
              " (e.reward IS NOT NULL AND abs(e.reward - 1.0) > 1e-6))")
UNSCORED_SQL = ("e.status = 'done' AND e.reward IS NULL AND"
                " coalesce(e.termination_reason, '') != '" + INFRA + "'")

# what every output that leaves unscored episodes out says of them
UNSCORED_WHY = "no reward (foreign traces carry no gold): neither passed nor failed"
UNSCORED_HOW = "map an outcome attribute to a reward with `t2e gate --reward-attr NAME`"
# a graded run's episode whose results file records no reward (tau2's reward_info: null):
# --reward-attr maps foreign traces only, so it is not offered
RECORDED_WHY = "no reward recorded for it (its results file gives none): neither passed nor failed"


def unscored_words(foreign: bool) -> tuple[str, str | None]:
    """(why an episode is unscored, what the user can do) for a foreign run or a graded one."""
    return (UNSCORED_WHY, UNSCORED_HOW) if foreign else (RECORDED_WHY, None)


def run_is_foreign(db, run_id: str) -> bool:
    """Whether the run's traces carry no gold (OpenTelemetry, ATIF: runs.grading 'foreign')."""
    from store.writer import conn_of

    row = conn_of(db).execute("SELECT grading FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return bool(row) and row[0] == "foreign"


def outcome(reward: float | None, termination: str | None, status: str | None = "done") -> str:
    """`passed`, `failed`, `unscored`, `infrastructure` or `running` (see the module doc)."""
    if termination == INFRA:
        return INFRASTRUCTURE
    if status is not None and status != "done":
        return RUNNING
    if reward is None:
        return UNSCORED
    return PASSED if abs(reward - 1.0) <= SUCCESS_TOL else FAILED


def of_episode(db, episode_id: int) -> str | None:
    """Episode `episode_id`'s outcome (`outcome`), or None when there is no such episode."""
    from store.writer import conn_of

    row = conn_of(db).execute("SELECT reward, termination_reason, status FROM episodes "
                              "WHERE episode_id = ?", (episode_id,)).fetchone()
    return None if row is None else outcome(*row)


def is_failed(reward: float | None, termination: str | None, status: str | None = "done") -> bool:
    """What `FAILED_SQL` selects: failed, or ended on infrastructure (finished either way)."""
    if status is not None and status != "done":
        return False
    return outcome(reward, termination, status) in (FAILED, INFRASTRUCTURE)
