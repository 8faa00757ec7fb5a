"""Pairing two runs task by task: the per-task transitions the gate, the scoreboard and the TUI
all read (computed once, here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ..errors import T2EError
from .foreign import fell_back_note, outcome_hint
from .metrics import TaskOutcome
from .rundata import RunData, load_run, paused_gc
from .runs import RunInfo, conn_of, resolve_run
from .settings import check_settings

TRANSITIONS = ("regressed", "fixed", "both_pass", "both_fail", "flaky", "improved", "worsened")


def regresses(baseline_rate: float, candidate_rate: float) -> bool:
    """The zero-tolerance veto's rule for one task: its success rate fell by more than one
    half. With one trial a side that is exactly 1 -> 0; with several, 2/2 -> 0/2, 3/3 -> 1/3,
    5/5 -> 2/5, 4/5 -> 1/5 ... The rates, never the trial counts, decide, so more trials on
    either side neither hide a regression (1.00 -> 0.20 is one) nor make one (a single slip,
    5/5 -> 4/5, is not); a real fall of more than half is vetoed ever more surely as trials
    grow. (Rates are ratios of trial counts up to engine/plan.MAX_TRIALS: two that differ
    differ from 1/2 by far more than the 1e-9 allowed for float rounding.)"""
    return baseline_rate - candidate_rate > 0.5 + 1e-9


def transition(baseline_rate: float, candidate_rate: float) -> str:
    """Name the change of one task's outcome (success rates in [0, 1]).

    regressed: the rate fell by more than one half (`regresses`: 1->0 with one trial a side);
    fixed 0->1, both_pass 1->1, both_fail 0->0; with fractional rates (several trials):
    improved / worsened when the rate moved, flaky when it is the same fractional rate on
    both sides."""
    b, c = baseline_rate, candidate_rate
    if regresses(b, c):
        return "regressed"
    if b == 0.0 and c == 1.0:
        return "fixed"
    if b == 1.0 and c == 1.0:
        return "both_pass"
    if b == 0.0 and c == 0.0:
        return "both_fail"
    if c > b:
        return "improved"
    if c < b:
        return "worsened"
    return "flaky"


class _once:
    """A property computed on first read and then kept in the instance (functools'
    cached_property takes a lock per read in Python 3.11, which shows at 10^4 rows)."""

    def __init__(self, fn):
        self.fn, self.name, self.__doc__ = fn, fn.__name__, fn.__doc__

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


@dataclass
class TaskRow:
    """One task of a comparison."""
    task_id: str
    baseline: list[float]            # baseline trial rewards, in trial order
    candidate: list[float]
    baseline_rate: float             # success rate over trials
    candidate_rate: float
    transition: str                  # one of TRANSITIONS
    baseline_terminations: list[str | None]
    candidate_terminations: list[str | None]
    baseline_flip_rate: float | None  # discordant trial pairs in the baseline's own repeats
    candidate_flip_rate: float | None
    baseline_episode_ids: list[int] = field(default_factory=list)
    candidate_episode_ids: list[int] = field(default_factory=list)
    baseline_successes: list[bool] = field(default_factory=list)
    candidate_successes: list[bool] = field(default_factory=list)

    # cached: the checks and the statistics read them for every task of a 10^4-task pair
    @_once
    def baseline_reward(self) -> float:
        return sum(self.baseline) / len(self.baseline)

    @_once
    def candidate_reward(self) -> float:
        return sum(self.candidate) / len(self.candidate)

    @_once
    def reward_delta(self) -> float:
        return self.candidate_reward - self.baseline_reward

    @_once
    def rate_change(self) -> Fraction:
        """The change of success rate, exact (candidate - baseline): see `rate_delta`."""
        return rate_delta(self)

    @property
    def changed(self) -> bool:
        return self.candidate_rate != self.baseline_rate

    def to_dict(self) -> dict:
        return {"task_id": self.task_id, "baseline": self.baseline, "candidate": self.candidate,
                "baseline_rate": self.baseline_rate, "candidate_rate": self.candidate_rate,
                "transition": self.transition,
                "baseline_terminations": self.baseline_terminations,
                "candidate_terminations": self.candidate_terminations,
                "baseline_flip_rate": self.baseline_flip_rate,
                "candidate_flip_rate": self.candidate_flip_rate}


@dataclass
class Comparison:
    """Two runs paired on their shared tasks. `rows` are in task-id order (numeric ids sort
    as numbers)."""
    baseline: RunInfo
    candidate: RunInfo
    rows: list[TaskRow]
    intersected: bool = False
    only_baseline: list[str] = field(default_factory=list)   # dropped by --intersect
    only_candidate: list[str] = field(default_factory=list)
    no_scored_trials: list[str] = field(default_factory=list)  # infra errors only, on a side
    warnings: list[str] = field(default_factory=list)
    # settings one run records and the other does not (gate/settings.py): why the verdict
    # is inconclusive at most, or None
    unverified_settings: str | None = None
    # each side as read once for this comparison (run_metrics and the checks reuse them)
    baseline_data: RunData | None = field(default=None, repr=False, compare=False)
    candidate_data: RunData | None = field(default=None, repr=False, compare=False)

    @property
    def task_ids(self) -> list[str]:
        return [r.task_id for r in self.rows]

    def of(self, *names: str) -> list[str]:
        """Task ids whose transition is one of `names`."""
        return [r.task_id for r in self.rows if r.transition in names]

    @property
    def fixes(self) -> list[str]:
        return self.of("fixed")

    @property
    def regressions(self) -> list[str]:
        return self.of("regressed")

    @property
    def improved(self) -> list[str]:
        """Tasks whose success rate went up (fixes included)."""
        return [r.task_id for r in self.rows if r.candidate_rate > r.baseline_rate]

    @property
    def worsened(self) -> list[str]:
        """Tasks whose success rate went down (regressions included)."""
        return [r.task_id for r in self.rows if r.candidate_rate < r.baseline_rate]

    @property
    def flaky(self) -> list[str]:
        """Tasks whose trials disagree among themselves, on either side."""
        return [r.task_id for r in self.rows
                if 0.0 < r.baseline_rate < 1.0 or 0.0 < r.candidate_rate < 1.0]

    def to_dict(self) -> dict:
        return {"baseline": self.baseline.run_id, "candidate": self.candidate.run_id,
                "intersected": self.intersected, "tasks": self.task_ids,
                "only_baseline": self.only_baseline, "only_candidate": self.only_candidate,
                "no_scored_trials": self.no_scored_trials, "warnings": self.warnings,
                "rows": [r.to_dict() for r in self.rows]}


def rate_delta(row: TaskRow) -> Fraction:
    """The row's change of success rate, exact (candidate - baseline)."""
    return _rate_delta(sum(row.candidate_successes), len(row.candidate),
                       sum(row.baseline_successes), len(row.baseline))


@lru_cache(maxsize=4096)
def _rate_delta(c_ok: int, c_n: int, b_ok: int, b_n: int) -> Fraction:
    # a handful of distinct (successes, trials) pairs over 10^4 tasks: Fraction arithmetic
    # once per pair, not per task
    return Fraction(c_ok, c_n) - Fraction(b_ok, b_n)


def task_sort_key(task_id: str) -> tuple:
    return (0, int(task_id), "") if task_id.isdigit() else (1, 0, task_id)


def sort_task_ids(ids) -> list[str]:
    """sorted(ids, key=task_sort_key), with int keys for the numeric ids and plain strings
    for the rest (numeric first): the same order, ties kept as given, without 10^5 tuple
    comparisons."""
    ids = list(ids)
    digits = [t for t in ids if t.isdigit()]
    if len(digits) == len(ids):
        return sorted(ids, key=int)
    return sorted(digits, key=int) + sorted(t for t in ids if not t.isdigit())


def compare_runs(db: Any, baseline: str | RunInfo, candidate: str | RunInfo,
                 intersect: bool = False) -> Comparison:
    """Pair two runs task by task.

    `baseline`/`candidate` are run ids, id prefixes or names (or RunInfo). Raises T2EError
    (exit 2) when the runs belong to different worlds, were made with different experiment
    settings (gate/settings.py), or cover different task sets and `intersect` is false. With `intersect`, only the shared tasks are compared and the rest are
    listed in `only_baseline`/`only_candidate`. Tasks whose episodes on one side are all
    infrastructure errors are left out and listed in `no_scored_trials`."""
    conn = conn_of(db)
    b = baseline if isinstance(baseline, RunInfo) else resolve_run(conn, baseline)
    c = candidate if isinstance(candidate, RunInfo) else resolve_run(conn, candidate)
    warnings: list[str] = []
    if b.world_id and c.world_id and b.world_id != c.world_id:
        raise T2EError(
            f"runs {b.label()} and {c.label()} were graded in different worlds "
            f"({b.world_id[:12]} vs {c.world_id[:12]}): their rewards are not comparable")
    if not (b.world_id and c.world_id):
        warnings.append("world id unknown for "
                        + " and ".join(r.label() for r in (b, c) if not r.world_id)
                        + ": the worlds could not be checked equal")
    from world.domains import world_key

    if b.domain and c.domain and world_key(b.domain) != world_key(c.domain):
        raise T2EError(f"runs {b.label()} ({b.domain}) and {c.label()} ({c.domain}) are in "
                       f"different domains")
    memo: dict = {}  # task JSON text -> gold kinds, shared: the runs mostly carry the same tasks
    bd = load_run(conn, b.run_id, actions=False, gold_memo=memo)
    cd = load_run(conn, c.run_id, actions=False, gold_memo=memo)
    said, unverified = check_settings(conn, b, c, bd, cd)
    warnings += said
    bo, co = bd.outcomes, cd.outcomes
    if not bo:
        raise T2EError(f"run {b.label()} has no finished episodes")
    if not co:
        raise T2EError(f"run {c.label()} has no finished episodes")
    only_b = sort_task_ids(set(bo) - set(co))
    only_c = sort_task_ids(set(co) - set(bo))
    shared = sort_task_ids(set(bo) & set(co))
    if (only_b or only_c) and not intersect:
        # (--intersect is advice only where there are shared tasks to compare)
        raise T2EError(
            f"runs {b.label()} and {c.label()} cover different task sets "
            f"({len(bo)} vs {len(co)} tasks; only in baseline: {_few(only_b)}; only in "
            f"candidate: {_few(only_c)})"
            + (f"; pass --intersect to compare the {len(shared)} task(s) they share"
               if shared else "; they share no task")
            + fell_back_note(conn, (b, c)))
    if not shared:
        raise T2EError(f"runs {b.label()} and {c.label()} share no task"
                       f"{fell_back_note(conn, (b, c))}")
    rows, dropped = [], []
    shapes: dict = {}  # (baseline rewards, candidate rewards) -> what a row derives from them
    with paused_gc():
        for tid in shared:
            tb, tc = bo[tid], co[tid]
            if not tb.rewards or not tc.rewards:
                dropped.append(tid)
                continue
            rows.append(_row(tb, tc, shapes))
    if dropped:
        # a foreign trace's episode is unscored where no outcome was mapped; a graded one's
        # only after an infrastructure error (excluded from the figures)
        why = ("no outcome mapped, or infrastructure errors"
               if "foreign" in (b.grading, c.grading) else "infrastructure errors")
        warnings.append(f"{len(dropped)} task(s) left out: no scored trial on one side "
                        f"({why}): {_few(dropped)}")
    if not rows:
        hint = outcome_hint(conn, (b, c))
        raise T2EError(f"runs {b.label()} and {c.label()} have no task scored on both sides"
                       f"{hint}")
    return Comparison(b, c, rows, intersected=bool(intersect and (only_b or only_c)),
                      only_baseline=only_b, only_candidate=only_c, no_scored_trials=dropped,
                      warnings=warnings, unverified_settings=unverified,
                      baseline_data=bd, candidate_data=cd)


def _row(tb: TaskOutcome, tc: TaskOutcome, shapes: dict | None = None) -> TaskRow:
    """One task's row. Everything a row derives (rates, transition, flip rates, mean rewards
    and their deltas) depends only on the two sides' reward lists, and 10^4 tasks share a
    handful of those: `shapes` computes each once and the rows share the results. With the
    terminations, the shape is all of a row but its task id and episodes: rows of one shape
    carry the same `_shape` number (`t2e gate --json` encodes each shape once)."""
    key = (tuple(tb.rewards), tuple(tc.rewards), tuple(tb.terminations),
           tuple(tc.terminations))
    derived = None if shapes is None else shapes.get(key)
    if derived is None:
        b_rate, c_rate = tb.rate, tc.rate
        b_reward = sum(tb.rewards) / len(tb.rewards)
        c_reward = sum(tc.rewards) / len(tc.rewards)
        derived = (b_rate, c_rate, transition(b_rate, c_rate), tb.flip_rate, tc.flip_rate,
                   {"baseline_reward": b_reward, "candidate_reward": c_reward,
                    "reward_delta": c_reward - b_reward,
                    "rate_change": _rate_delta(sum(tc.successes), len(tc.successes),
                                               sum(tb.successes), len(tb.successes)),
                    "_shape": None if shapes is None else len(shapes)})
        if shapes is not None:  # (-0.0 and 0.0 share a key: sum() makes both means 0.0)
            shapes[key] = derived
    row = TaskRow(tb.task_id, tb.rewards, tc.rewards, derived[0], derived[1], derived[2],
                  tb.terminations, tc.terminations, derived[3], derived[4], tb.episode_ids,
                  tc.episode_ids, tb.successes, tc.successes)
    row.__dict__.update(derived[5])  # the _once values, already known
    return row


def _few(ids: list[str], n: int = 8) -> str:
    if not ids:
        return "none"
    more = f" (+{len(ids) - n} more)" if len(ids) > n else ""
    return ", ".join(ids[:n]) + more
