"""Which trials of a task to compare across a run pair: one choice for every face (the tasks
screen's Enter, the gate screen's Enter, the gate reports' `t2e show ... --vs ...`).

A task run several times has trials that pass and trials that fail. The pair shown is one
whose outcomes differ when there is one, in the task's direction: for a task whose candidate
passes less often than its baseline (a regression), a passing baseline trial and a failing
candidate trial; for one that passes more often (a fix), the other way round. Trial 0 of each
side could be two passing trials of a task the gate calls regressed. Only finished trials
count (a running one has no outcome yet); with no differing pair, the first finished trial of
each side. No textual here.
"""

from __future__ import annotations

from typing import Any

from .task_rows import Trial


def first_trial(trials: list[Trial]) -> int | None:
    """The first finished trial's episode (else the first trial's), or None."""
    done = [t for t in trials if t.status == "done"]
    return (done or trials or [None])[0].episode_id if (done or trials) else None


def pick_pair(base: list[Trial], cand: list[Trial]) -> tuple[int | None, int | None]:
    """(baseline episode, candidate episode) to compare (module docstring)."""
    done_b = [t for t in base if t.status == "done"]
    done_c = [t for t in cand if t.status == "done"]
    pairs = [(tb, tc) for tb in done_b for tc in done_c if bool(tb.success) != bool(tc.success)]
    if not pairs:
        return first_trial(base), first_trial(cand)
    rate_b = sum(bool(t.success) for t in done_b) / len(done_b)
    rate_c = sum(bool(t.success) for t in done_c) / len(done_c)
    if rate_c != rate_b:
        wanted = rate_b > rate_c  # a regression: the baseline trial passes
        pairs = [p for p in pairs if bool(p[0].success) == wanted] or pairs
    tb, tc = pairs[0]
    return tb.episode_id, tc.episode_id


def trials_of(conn: Any, run_id: str, task_id: str) -> list[Trial]:
    """A task's trials in a run, in the tasks screen's order (trial, then episode id)."""
    return [Trial(*r) for r in conn.execute(
        "SELECT episode_id, trial, status, reward, success, termination_reason, n_tool_errors "
        "FROM episodes WHERE run_id = ? AND task_id = ? ORDER BY trial, ord, episode_id",
        (run_id, task_id))]


def task_pair(conn: Any, baseline: str, candidate: str | None, task_id: str
              ) -> tuple[int | None, int | None]:
    """The episodes a task's compare opens: `pick_pair` of the two runs' trials (the
    baseline's first finished trial alone when there is no candidate)."""
    base = trials_of(conn, baseline, task_id)
    if candidate is None:
        return first_trial(base), None
    return pick_pair(base, trials_of(conn, candidate, task_id))
