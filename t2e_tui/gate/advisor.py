"""The trial-budget advisor: how much evidence is enough, given the noise measured.

The zero-tolerance veto (no task 1 -> 0) stays as it is; this only reports. Model: each task is
truly solved or not on each side, and every trial slips to the other outcome with probability
e (the per-trial noise). e comes from disagreement between repeated trials of the same agent on
the same task: the runs' own trials (flip rate f = 2e(1-e)), else an A/A pair (another run of
the baseline's agent on the same tasks and world: share of tasks that differ; the agent as the
gate's first-run rule tells agents apart, so an imported baseline has none). Then, for k
trials per side:

- a regression (compare.regresses: the success rate falls by more than half; 1 -> 0 with
  one trial a side, probability (1-e) e) on a task whose true outcome did not change has
  probability r = P(i/kb - j/kc > 1/2) for i ~ Bin(kb, 1-e), j ~ Bin(kc, 1-e); a regression
  is "within noise" when the chance of at least one among the n tasks compared,
  1 - (1 - r)^n, reaches 5% (e is the runs' measured noise);
- the power to promote a fix of F tasks is P(no 1->0 anywhere AND the sign test significant
  at the gate's alpha), computed exactly over the count of tasks that moved each way.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

from .stats import sign_test

POWER = 0.8
TRIAL_STEPS = (1, 2, 3, 4, 5, 6, 8, 10)   # the trial counts the advisor tries


def slip_from_flip(f: float) -> float:
    """Per-trial slip e from a disagreement rate f = 2e(1-e) (f capped at 0.5)."""
    f = min(max(f, 0.0), 0.5)
    return (1.0 - math.sqrt(1.0 - 2.0 * f)) / 2.0


def _binom(k: int, p: float) -> list[float]:
    return [math.comb(k, i) * p ** i * (1 - p) ** (k - i) for i in range(k + 1)]


@lru_cache(maxsize=256)
def regress_prob(kb: int, kc: int, pb: float, pc: float) -> float:
    """P(a task is seen to regress: its rate falls by more than half) with success
    probabilities pb, pc over kb, kc trials (kb = kc = 1: pb (1 - pc))."""
    from .compare import regresses

    b, c = _binom(kb, pb), _binom(kc, pc)
    return sum(b[i] * c[j] for i in range(kb + 1) for j in range(kc + 1)
               if regresses(i / kb, j / kc))


def _move_probs(k: int, pb: float, pc: float) -> tuple[float, float]:
    """P(candidate rate > baseline rate), P(<), with success probs pb, pc over k trials."""
    b, c = _binom(k, pb), _binom(k, pc)
    up = sum(b[i] * c[j] for i in range(k + 1) for j in range(k + 1) if j > i)
    down = sum(b[i] * c[j] for i in range(k + 1) for j in range(k + 1) if j < i)
    return up, down


def _threshold(m: int, alpha: float, _cache: dict = {}) -> int:
    """Fewest improved tasks out of m changed that the sign test calls significant."""
    key = (m, alpha)
    if key not in _cache:
        _cache[key] = next((i for i in range(m + 1) if sign_test(i, m - i) <= alpha), m + 1)
    return _cache[key]


def _significance(groups: list[tuple[int, tuple]], alpha: float) -> float:
    """P(no task 1 -> 0 AND the sign test p <= alpha): each group is (n tasks, (up, down,
    regressed)) with regressed a part of down; a DP over the (improved, worsened) grid whose
    mass leaves at any 1 -> 0 (a veto). States below 1e-10 are dropped (subnormal numbers are
    slow, and they add nothing). numpy steps the whole grid at once: the dict of states this
    replaced took ~0.2 s a gate at 56 tasks, most of a scripted run's gate."""
    import numpy as np

    total = sum(n for n, _ in groups)
    dist = np.zeros((total + 1, total + 1))
    dist[0, 0] = 1.0
    t = 0   # tasks seen so far: the states live in dist[:t + 1, :t + 1]
    for n, (up, down, reg) in groups:
        stay = max(0.0, 1.0 - up - down)
        for _ in range(n):
            cur = dist[:t + 1, :t + 1].copy()
            grid = dist[:t + 2, :t + 2]
            grid *= stay
            grid[1:, :-1] += cur * up            # improved
            grid[:-1, 1:] += cur * (down - reg)  # worsened, not a 1 -> 0
            grid[grid <= 1e-10] = 0.0
            t += 1
    improved, worsened = np.nonzero(dist)
    if not improved.size:   # every path met a 1 -> 0
        return 0.0
    changed = improved + worsened
    # thresholds only for the counts reached (each costs sign tests, and they are cached)
    need = np.array([_threshold(m, alpha) for m in range(int(changed.max()) + 1)])
    return float(dist[improved, worsened][improved >= need[changed]].sum())


EXACT_MAX_TASKS = 300   # above this the DP's (improved, worsened) grid gets too big


def _normal_power(groups: list[tuple[int, tuple]], alpha: float) -> float:
    """Large sets: P(no 1 -> 0) x P(sign test significant), the test by its normal
    approximation (improved - worsened >= z sqrt(improved + worsened))."""
    from statistics import NormalDist

    no_veto, mean_d, var_d, mean_m = 1.0, 0.0, 0.0, 0.0
    for n, (up, down, reg) in groups:
        no_veto *= (1 - reg) ** n
        mean_d += n * (up - down)
        var_d += n * (up + down - (up - down) ** 2)
        mean_m += n * (up + down)
    if var_d <= 0:
        return no_veto * float(mean_m > 0 and mean_d >= NormalDist().inv_cdf(1 - alpha)
                               * math.sqrt(mean_m))
    z = NormalDist().inv_cdf(1 - alpha)
    return no_veto * (1 - NormalDist().cdf((z * math.sqrt(mean_m) - mean_d)
                                           / math.sqrt(var_d)))


def power(e: float, k: int, n_tasks: int, fix: int, alpha: float) -> float:
    """P(the gate promotes a real fix of `fix` tasks among `n_tasks`) at k trials per side
    and per-trial slip e (other vetoes ignored). Exact up to EXACT_MAX_TASKS tasks, a normal
    approximation above."""
    fix = max(0, min(fix, n_tasks))
    up_f, down_f = _move_probs(k, e, 1 - e)
    up_o, down_o = _move_probs(k, 1 - e, 1 - e)
    groups = [(fix, (up_f, down_f, regress_prob(k, k, e, 1 - e))),    # a fix seen to regress
              (n_tasks - fix, (up_o, down_o, regress_prob(k, k, 1 - e, 1 - e)))]  # unchanged
    if n_tasks > EXACT_MAX_TASKS:
        return _normal_power(groups, alpha)
    return _significance(groups, alpha)


def trials_needed(e: float, n_tasks: int, fix: int, alpha: float) -> int | None:
    """Smallest k in TRIAL_STEPS with power >= 80%, else None. (With the sign test, power
    can fall again as k grows: more trials make unchanged tasks' rates differ more often.)"""
    for k in TRIAL_STEPS:
        if power(e, k, n_tasks, fix, alpha) >= POWER:
            return k
    return None


def _aa_partner(conn: Any, run: Any, tasks: list[str],
                exclude: tuple[str, ...] = ()) -> tuple[str, float] | None:
    """Another run of the baseline's agent on the same world and tasks: (run id, share of
    tasks whose success rate differs between the two). "The baseline's agent" is the gate's
    (`heldout.stored_runs_of_agent`: candidate text, agent and user model), so an imported
    baseline has none: a file's agent label is whatever the file says, and another agent's
    file under that label would measure the difference between two agents as noise. Not a
    run in `exclude` (the candidate: what the gate judges cannot also be its noise), and not
    a run holding copies of the baseline's episodes (a re-import of its export, or the same
    file reformatted: the same evidence twice measures no noise; it read 0)."""
    from store.provenance import copies_of

    from .heldout import stored_runs_of_agent
    from .metrics import task_outcomes

    same = [rid for rid in stored_runs_of_agent(conn, run) if rid not in exclude]
    if not same:
        return None
    worlds = dict(conn.execute(
        "SELECT run_id, world_id FROM runs WHERE run_id IN (SELECT value FROM json_each(?))",
        (json.dumps(same),)))
    mine = task_outcomes(conn, run.run_id)
    for rid in same:
        if worlds.get(rid) != run.world_id:
            continue
        other = task_outcomes(conn, rid)
        both = [t for t in tasks if t in other and t in mine and other[t].rate is not None
                and mine[t].rate is not None]
        if len(both) == len(tasks) and not copies_of(conn, rid, run.run_id) \
                and not _same_calls(conn, rid, run.run_id, both):
            return rid, sum(other[t].rate != mine[t].rate for t in both) / len(both)
    return None


def _calls_by_task(conn: Any, run_id: str, tasks: set[str]) -> dict[str, list]:
    """task -> its episodes' tool calls (name and arguments, the arguments as canonical JSON
    where they parse), each episode's in order, the episodes by trial."""
    import json

    eps: dict[tuple, list] = {}
    for task, trial, eid, name, args in conn.execute(
            "SELECT e.task_id, e.trial, e.episode_id, tc.name, tc.arguments FROM episodes e "
            "LEFT JOIN steps s ON s.episode_id = e.episode_id LEFT JOIN tool_calls tc ON "
            "tc.step_id = s.step_id WHERE e.run_id = ? ORDER BY e.task_id, e.trial, "
            "e.episode_id, s.idx, tc.pos", (run_id,)):
        if task not in tasks:
            continue
        calls = eps.setdefault((task, trial, eid), [])
        if name is not None:
            try:
                args = json.dumps(json.loads(args), sort_keys=True)
            except (TypeError, ValueError):
                pass
            calls.append((name, args))
    out: dict[str, list] = {}
    for (task, _trial, _eid), calls in eps.items():
        out.setdefault(task, []).append(calls)
    return out


def _same_calls(conn: Any, a: str, b: str, tasks: list[str]) -> bool:
    """Whether run `a` made exactly run `b`'s tool calls on every task (names and arguments,
    in order, trial by trial): the baseline's episodes with their wording edited and their ids
    changed (a copy that copies_of cannot match) measure no noise either. Two real runs of an
    agent that is not deterministic part somewhere; one that is has no noise to measure from
    another run, and its own --trials say so."""
    wanted = set(tasks)
    return _calls_by_task(conn, a, wanted) == _calls_by_task(conn, b, wanted)


def advise(result: Any, db: Any) -> dict:
    """The advisor's report for a gate result (the `trial_budget` of `t2e gate --json`)."""
    from .heldout import agent_key
    from .runs import conn_of

    cmp = result.comparison
    rows = cmp.rows
    n = len(rows)
    alpha = result.stats.get("alpha", result.policy.alpha)
    # one pass: the fewest trials of any side, and the mean of the recorded flip rates (added
    # in row order, baseline then candidate, as a sum over their list would)
    fewest, flip_sum, flips = None, 0, 0
    for r in rows:
        nb, nc = len(r.baseline), len(r.candidate)
        m = nb if nb < nc else nc
        if fewest is None or m < fewest:
            fewest = m
        for f in (r.baseline_flip_rate, r.candidate_flip_rate):
            if f is not None:
                flip_sum += f
                flips += 1
    k = max(1, fewest or 0)
    source, e = None, None
    if flips:
        source, e = "repeated trials", slip_from_flip(flip_sum / flips)
    else:
        try:
            partner = _aa_partner(conn_of(db), cmp.baseline, cmp.task_ids,
                                  (cmp.candidate.run_id,))
        except Exception:  # noqa: BLE001 - the advisor never breaks a verdict
            partner = None
        if partner is not None:
            source, e = f"A/A pair with run {partner[0]}", slip_from_flip(partner[1])
    out: dict = {"noise_source": source, "slip_per_trial": e, "trials_per_side": k,
                 "tasks": n, "power_target": POWER}
    if e is None:
        out["note"] = ("noise unknown: measure it with --trials 2+ or an A/A pair (the "
                       "baseline run twice)" if agent_key(cmp.baseline) is not None else
                       "noise unknown: the baseline was imported (its agent cannot be "
                       "identified, so no other run is its A/A pair): files with 2+ "
                       "trials per task measure it")
        return out
    per_task = {}
    for r in rows:
        if r.transition != "regressed":
            continue
        # the chance noise alone makes an unchanged task regress, at this task's trials
        et = e
        p = regress_prob(len(r.baseline), len(r.candidate), 1 - et, 1 - et)
        chance = 1 - (1 - p) ** n
        per_task[r.task_id] = {"slip": et, "chance_by_noise": chance,
                               "within_noise": chance >= 0.05}
    fix = max(1, len(result.stats.get("fixes") or []))
    need = trials_needed(e, n, fix, alpha)
    out.update({"regressions": per_task, "fix_size": fix,
                "power_now": power(e, k, n, fix, alpha), "trials_needed": need})
    if need is None:
        out["note"] = (f"no trial count up to {TRIAL_STEPS[-1]} reaches 80% power for a fix of "
                       f"{fix} task(s) at this noise with the {result.stats.get('test')} test: "
                       "a larger set, or the policy's permutation test, may")
    return out
