"""The gate's statistics over a comparison (rules.py makes the verdict from them): the paired
sign and sign-flip tests, the bootstrap CI of the reward delta and the baseline's flip rates.
The tests themselves are in stats.py."""

from __future__ import annotations

from .compare import Comparison
from .policy import Policy
from .stats import bootstrap_mean_ci, sign_flip_test, sign_test


def evidence_stats(cmp: Comparison, policy: Policy) -> dict:
    """Paired sign test over tasks whose outcome changed, bootstrap CI of the reward delta,
    and the baseline's own flip rates across repeats."""
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
        "reward_delta_per_task_mean": sum(deltas) / len(deltas),
        "fixes": fixes,
        "regressions": regressions,
        "improved": improved,
        "worsened": worsened,
        "flaky": flaky,
        "baseline_flip_rate": (sum(flips.values()) / len(flips)) if flips else None,
        "baseline_flip_rates": flips,
    }
