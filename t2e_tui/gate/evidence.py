"""The gate's statistics over a comparison (rules.py makes the verdict from them): the paired
sign and sign-flip tests, the bootstrap CI of the reward delta and the baseline's flip rates.
The tests themselves are in stats.py."""

from __future__ import annotations

import math

from .compare import Comparison
from .policy import Policy
from .stats import bootstrap_mean_ci, sign_flip_test, sign_test

TAIL_DRAWS = 25               # resampled means wanted beyond each end of the tested interval
MAX_TESTED_RESAMPLES = 100_000


def tested_resamples(resamples: int, alpha: float) -> int:
    """Bootstrap resamples for the interval at level 1 - alpha: the policy's, or enough that
    each tail (alpha / 2) holds TAIL_DRAWS resampled means (2,000 leave four beyond a 99.6%
    interval), at most MAX_TESTED_RESAMPLES."""
    need = math.ceil(TAIL_DRAWS / (alpha / 2.0)) if alpha > 0 else MAX_TESTED_RESAMPLES
    return max(resamples, min(need, MAX_TESTED_RESAMPLES))


def evidence_stats(cmp: Comparison, policy: Policy) -> dict:
    """Paired sign test over tasks whose outcome changed, bootstrap CI of the reward delta
    (`ci_low`/`ci_high` at the policy's `ci_level`; `ci_tested_*` at 1 - alpha, the level the
    test is run at, which every report prints), and the baseline's own flip rates across
    repeats."""
    # one pass over the rows (the Comparison properties each take one): the same lists, in
    # task order
    improved, worsened, flaky, fixes, regressions = [], [], [], [], []
    rate_deltas, deltas, flips = [], [], {}
    one_trial = True
    for r in cmp.rows:
        tid, b, c = r.task_id, r.baseline_rate, r.candidate_rate
        if c > b:
            improved.append(tid)
        elif c < b:
            worsened.append(tid)
        if 0.0 < b < 1.0 or 0.0 < c < 1.0:
            flaky.append(tid)
        if r.transition == "fixed":
            fixes.append(tid)
        elif r.transition == "regressed":
            regressions.append(tid)
        if one_trial and (len(r.baseline) != 1 or len(r.candidate) != 1):
            one_trial = False
        rate_deltas.append(r.rate_change)
        deltas.append(r.reward_delta)
        if r.baseline_flip_rate is not None:
            flips[tid] = r.baseline_flip_rate
    p_sign = sign_test(len(improved), len(worsened))
    p_perm, perm_exact = sign_flip_test(rate_deltas, seed=policy.bootstrap_seed)
    if policy.test == "permutation":
        p = p_perm
        name = "paired_permutation_exact" if perm_exact else "paired_permutation_mc"
    else:
        p = p_sign
        name = "mcnemar_exact" if one_trial else "sign_test"
    lo, hi = bootstrap_mean_ci(deltas, level=policy.ci_level,
                               resamples=policy.bootstrap_resamples, seed=policy.bootstrap_seed)
    # the interval at the level the test is run at (1 - alpha, alpha corrected for the agents
    # tried on the set): printed beside "p <= alpha", a 95% interval claimed more than the
    # test did. More resamples as the tails thin, so each holds some (tested_resamples).
    level_t = 1.0 - policy.alpha
    n_t = tested_resamples(policy.bootstrap_resamples, policy.alpha)
    lo_t, hi_t = ((lo, hi) if (level_t, n_t) == (policy.ci_level, policy.bootstrap_resamples)
                  else bootstrap_mean_ci(deltas, level=level_t, resamples=n_t,
                                         seed=policy.bootstrap_seed))
    return {
        "test": name,
        "sided": "one-sided (improvement)",
        "p_value": p,
        "p_sign_test": p_sign,
        "p_permutation": p_perm,
        "alpha": policy.alpha,
        "significant": p <= policy.alpha,
        "ci_low": lo,
        "ci_high": hi,
        "ci_level": policy.ci_level,
        "bootstrap_resamples": policy.bootstrap_resamples,
        "bootstrap_seed": policy.bootstrap_seed,
        "ci_tested_low": lo_t,
        "ci_tested_high": hi_t,
        "ci_tested_level": level_t,
        "ci_tested_resamples": n_t,
        "reward_delta_per_task_mean": sum(deltas) / len(deltas),
        "fixes": fixes,
        "regressions": regressions,
        "improved": improved,
        "worsened": worsened,
        "flaky": flaky,
        "baseline_flip_rate": (sum(flips.values()) / len(flips)) if flips else None,
        "baseline_flip_rates": flips,
    }
