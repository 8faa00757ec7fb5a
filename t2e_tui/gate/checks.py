"""The promotion checks (the vetoes): each compares one figure of the baseline with the
candidate's and names the tasks behind a failure. The verdict is made in rules.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .compare import Comparison
from .metrics import RunMetrics
from .policy import Policy
from .rundata import ZERO, load_run

_KIND_CHECKS = {"action_match_not_worse": "overall", "read_action_match_not_worse": "read",
                "write_action_match_not_worse": "write"}


@dataclass
class Check:
    """One promotion check. `baseline`/`candidate` are the figures compared; what they count
    is in `unit` and, ready to show, in `baseline_text`/`candidate_text` (e.g. for
    no_task_regressions the baseline is the tasks at 1.0 and the candidate the tasks of those
    that regressed, 1->0 with one trial a side: counts of tasks, not metric values). `task_figures` holds, for tasks
    named in `tasks`, the same figure on that one task ready to show (baseline, candidate):
    a task lower on action match shows its action match, not its reward."""
    name: str
    passed: bool
    baseline: Any
    candidate: Any
    tasks: list[str]
    detail: str
    na: bool = False
    unit: str = ""
    baseline_text: str = ""
    candidate_text: str = ""
    task_figures: dict[str, tuple[str, str]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {"name": self.name, "passed": self.passed, "baseline": self.baseline,
             "candidate": self.candidate, "tasks": self.tasks, "detail": self.detail,
             "unit": self.unit, "baseline_text": self.baseline_text,
             "candidate_text": self.candidate_text}
        if self.task_figures:
            d["task_figures"] = {t: list(f) for t, f in self.task_figures.items()}
        if self.na:
            d["na"] = True
        return d


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def _rate(counts: tuple[int, int]) -> float:
    return counts[0] / counts[1]


def _matched(counts: tuple[int, int]) -> str:
    """A task's action match of one kind as the check's cells show a run's: rate (m/n)."""
    m, n = counts
    return f"{m / n:.3f} ({m}/{n})" if n else "n/a"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def checks(conn, cmp: Comparison, bm: RunMetrics, cm: RunMetrics, policy: Policy) -> list[Check]:
    """Every check of the promotion rule, enabled or not (the caller applies the policy)."""
    out: list[Check] = []
    md = policy.param("reward_improved", "min_delta")
    worse_reward = [r.task_id for r in cmp.rows if r.reward_delta < 0]
    better_reward = [r.task_id for r in cmp.rows if r.reward_delta > 0]
    ok = cm.reward - bm.reward > md
    rows = {r.task_id: r for r in cmp.rows}
    out.append(Check(
        "reward_improved", ok, bm.reward, cm.reward, [] if ok else worse_reward,
        f"reward {bm.reward:.4f} -> {cm.reward:.4f} (needs > +{md:g}); "
        f"{len(better_reward)} task(s) up, {len(worse_reward)} down"
        + (f": {', '.join(worse_reward)}" if worse_reward and not ok else ""),
        unit="mean reward", baseline_text=_num(bm.reward), candidate_text=_num(cm.reward),
        task_figures={} if ok else {
            t: (_num(rows[t].baseline_reward), _num(rows[t].candidate_reward))
            for t in worse_reward}))

    tol = policy.param("pass_rate_not_worse", "tolerance")
    ok = cm.pass_rate >= bm.pass_rate - tol
    lower = cmp.worsened
    out.append(Check(
        "pass_rate_not_worse", ok, bm.pass_rate, cm.pass_rate, [] if ok else lower,
        f"pass rate {bm.pass_rate:.4f} -> {cm.pass_rate:.4f} (tolerance {tol:g})"
        + (f"; lower on {', '.join(lower)}" if lower and not ok else ""),
        unit="share of episodes passed", baseline_text=_num(bm.pass_rate),
        candidate_text=_num(cm.pass_rate)))

    per_task: dict = {}  # read only when a check fails: it names the tasks that went down
    for name, kind in _KIND_CHECKS.items():
        b, c = bm.action_match[kind], cm.action_match[kind]
        label = "action match" if kind == "overall" else f"{kind} action match"
        if b is None or c is None:
            where = "both sides" if b is None and c is None else "one side"
            what = "" if kind == "overall" else kind + " "
            out.append(Check(name, True, b, c, [],
                             f"{label} n/a: no gold {what}actions on {where}", na=True,
                             unit=f"share of gold {what}actions matched",
                             baseline_text=_num(b), candidate_text=_num(c)))
            continue
        tol = policy.param(name, "tolerance")
        ok = c >= b - tol
        if not ok and not per_task:
            per_task = _per_task_action_match(conn, cmp)
        down = [] if ok else [
            tid for tid, (tb, tc) in per_task.items()
            if tb[kind][1] and tc[kind][1] and _rate(tc[kind]) < _rate(tb[kind])]
        bc, cc = bm.action_counts[kind], cm.action_counts[kind]
        out.append(Check(name, ok, b, c, [] if ok else down,
                         f"{label} {b:.4f} ({bc[0]}/{bc[1]}) -> {c:.4f} ({cc[0]}/{cc[1]}) "
                         f"(tolerance {tol:g})"
                         + (f"; lower on {', '.join(down)}" if down and not ok else ""),
                         unit=f"share of gold {'' if kind == 'overall' else kind + ' '}actions "
                              "matched",
                         baseline_text=f"{b:.3f} ({bc[0]}/{bc[1]})",
                         candidate_text=f"{c:.3f} ({cc[0]}/{cc[1]})",
                         task_figures={t: (_matched(per_task[t][0][kind]),
                                           _matched(per_task[t][1][kind])) for t in down}))

    regs = cmp.regressions
    unseen = unverified_at_one(cmp)
    # the tasks that could regress (compare.regresses: a fall of more than half) are those
    # the baseline passes in more than half its trials: with one trial a side, those at 1
    one = all(len(r.baseline) == 1 and len(r.candidate) == 1 for r in cmp.rows)
    at, went = (("at 1", "went to 0") if one else
                ("passed in over half their trials", "fell by more than half"))
    at_one = sum(1 for r in cmp.rows if r.baseline_rate > 0.5) + len(unseen)
    # baseline = the tasks that could regress, candidate = those that did or may have: a
    # task with no scored candidate trial is not shown to have held up
    bad = regs + unseen
    if regs:
        detail = (f"{len(regs)} of the {at_one} task(s) {at} in the baseline {went}: "
                  f"{', '.join(regs)}")
    elif not unseen:
        detail = f"none of the {at_one} task(s) {at} in the baseline {went}"
    if unseen:
        n = len(unseen)
        said = (f"; {n} more" if regs else f"{n} of the {at_one} task(s) {at} in the baseline")
        detail = (detail if regs else "") + (
            f"{said} {'has' if n == 1 else 'have'} no scored candidate trial (infrastructure "
            f"errors or no reward), so {'it' if n == 1 else 'they'} may have {went}: "
            f"{', '.join(unseen)}")
    shape = "1→0" if one else "fell >1/2"
    out.append(Check(
        "no_task_regressions", not bad, at_one, len(bad), bad, detail,
        unit=("tasks (baseline: at 1.0; candidate: of those, 1→0 or not scored)" if one else
              "tasks (baseline: passed in over half their trials; candidate: of those, "
              "success rate fell by more than half, or not scored)"),
        baseline_text=f"{_count(at_one, 'task')} {'at 1' if one else '>1/2'}",
        candidate_text=f"{_count(len(regs), 'task')} {shape}"
        + (f", {len(unseen)} not scored" if unseen else "")))

    limit = int(policy.param("no_max_steps", "max_episodes"))
    hit = [r.task_id for r in cmp.rows if "max_steps" in r.candidate_terminations]
    ok = cm.max_steps <= limit
    out.append(Check(
        "no_max_steps", ok, bm.max_steps, cm.max_steps, hit,
        f"{cm.max_steps} candidate episode(s) hit max steps (allowed {limit})"
        + (f": tasks {', '.join(hit)}" if hit else ""),
        unit="episodes that hit max steps",
        baseline_text=_count(bm.max_steps, "episode"),
        candidate_text=_count(cm.max_steps, "episode")))
    return out


def unverified_at_one(cmp: Comparison) -> list[str]:
    """Tasks left out of the comparison (no scored trial on a side) that could regress (the
    baseline passes over half its trials: at 1 with one trial) and have no scored candidate
    trial: a regression the comparison cannot rule out."""
    bd, cd = cmp.baseline_data, cmp.candidate_data
    if not cmp.no_scored_trials or bd is None or cd is None:
        return []
    out = []
    for tid in cmp.no_scored_trials:
        b, c = bd.outcomes.get(tid), cd.outcomes.get(tid)
        if b is not None and b.rate is not None and b.rate > 0.5 and (c is None or not c.rewards):
            out.append(tid)
    return out


def _per_task_action_match(conn, cmp: Comparison) -> dict[str, tuple[dict, dict]]:
    """Each task's action match on both sides, kind -> (matched, total), from the counts each
    run was read with once (rundata.RunData.task_actions: the same figures as
    metrics.task_action_match per task)."""
    sides = []
    for data, run in ((cmp.baseline_data, cmp.baseline), (cmp.candidate_data, cmp.candidate)):
        if data is None or data.run_id != run.run_id:
            data = load_run(conn, run.run_id)
        sides.append(data.ensure_actions(conn).task_actions)
    tb, tc = sides
    return {r.task_id: (_by_kind(tb.get(r.task_id, ZERO)), _by_kind(tc.get(r.task_id, ZERO)))
            for r in cmp.rows}


def _by_kind(counts: tuple) -> dict[str, tuple[int, int]]:
    """A 6-tuple of action counts (rundata) as kind -> (matched, total)."""
    return {k: (counts[2 * i], counts[2 * i + 1])
            for i, k in enumerate(("overall", "read", "write"))}
