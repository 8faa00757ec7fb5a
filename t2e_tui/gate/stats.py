"""Statistics for the gate: exact sign test, paired bootstrap, pass^k, flip rates.

Stdlib only and deterministic: the bootstrap takes an explicit seed so that the same two runs
always give the same interval (a scoreboard row must be reproducible).
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import Sequence

SUCCESS_TOL = 1e-6


def is_success(reward: float | None) -> bool:
    """tau2's definition: an episode succeeds when its reward is within 1e-6 of 1."""
    return reward is not None and abs(float(reward) - 1.0) <= SUCCESS_TOL


def binom_sf(k: int, n: int, p: Fraction | float = Fraction(1, 2)) -> float:
    """P(X >= k) for X ~ Binomial(n, p), computed exactly with fractions."""
    if n < 0:
        raise ValueError("n must be >= 0")
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    p = Fraction(p)
    q = 1 - p
    total = sum(Fraction(math.comb(n, i)) * p**i * q ** (n - i) for i in range(k, n + 1))
    return float(total)


def binom_cdf(k: int, n: int, p: Fraction | float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), exact."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return 1.0 - binom_sf(k + 1, n, p)


def sign_test(improved: int, worsened: int) -> float:
    """One-sided exact sign test for improvement: P(X >= improved) with
    X ~ Binomial(improved + worsened, 1/2). Ties (unchanged tasks) carry no information and are
    left out, as in McNemar's exact test (which this is when each task has one trial).
    With no changed task there is no evidence at all: p = 1."""
    if improved < 0 or worsened < 0:
        raise ValueError("counts must be >= 0")
    n = improved + worsened
    if n == 0:
        return 1.0
    return binom_sf(improved, n)


def sign_flip_test(deltas: Sequence[Fraction | float], *, max_states: int = 2_000_000,
                   seed: int = 0, samples: int = 20000) -> tuple[float, bool]:
    """One-sided exact paired permutation (sign-flip) test for improvement.

    Under no effect each task's delta is as likely negative as positive, so the p-value is
    P(sum of e_i * |d_i| >= sum of d_i) over independent random signs e_i. Unlike the sign test
    it weighs how far each task moved (a task going 0/4 -> 4/4 counts more than 2/4 -> 3/4);
    with one trial and binary outcomes the deltas are -1/0/+1 and it IS the sign test
    (McNemar exact). Computed exactly by dynamic programming over integer-scaled deltas
    (rates have small denominators); if the sum range would exceed `max_states`, a seeded
    Monte Carlo estimate is returned instead. Returns (p, exact)."""
    fr = [Fraction(d).limit_denominator(10**6) for d in deltas]
    fr = [d for d in fr if d != 0]
    if not fr:
        return 1.0, True
    scale = 1
    for d in fr:
        scale = scale * d.denominator // math.gcd(scale, d.denominator)
    ints = [int(d * scale) for d in fr]
    observed = sum(ints)
    span = sum(abs(v) for v in ints)
    if 2 * span + 1 <= max_states:
        dist = {0: 1}
        for v in ints:
            a = abs(v)
            nxt: dict[int, int] = {}
            for s, c in dist.items():
                nxt[s + a] = nxt.get(s + a, 0) + c
                nxt[s - a] = nxt.get(s - a, 0) + c
            dist = nxt
        hits = sum(c for s, c in dist.items() if s >= observed)
        return float(Fraction(hits, 2 ** len(ints))), True
    rng = random.Random(seed)
    absv = [abs(v) for v in ints]
    hits = sum(1 for _ in range(samples)
               if sum(a if rng.random() < 0.5 else -a for a in absv) >= observed)
    return (hits + 1) / (samples + 1), False


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of already sorted values (numpy's default method)."""
    if not sorted_values:
        raise ValueError("quantile of an empty sequence")
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be in [0, 1]")
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def bootstrap_mean_ci(deltas: Sequence[float], *, level: float = 0.95, resamples: int = 2000,
                      seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI for the mean of paired per-task deltas.

    Tasks are the resampling unit (pairing is kept: a task's baseline and candidate move
    together). Seeded, so the interval is deterministic. Empty input gives (0.0, 0.0)."""
    if not 0.0 < level < 1.0:
        raise ValueError("level must be in (0, 1)")
    n = len(deltas)
    if n == 0:
        return 0.0, 0.0
    values = [float(d) for d in deltas]
    if all(v == values[0] for v in values):
        return values[0], values[0]
    rng = random.Random(seed)
    means = []
    for _ in range(max(1, resamples)):
        s = 0.0
        for _ in range(n):
            s += values[rng.randrange(n)]
        means.append(s / n)
    means.sort()
    tail = (1.0 - level) / 2.0
    return quantile(means, tail), quantile(means, 1.0 - tail)


def pass_hat_k(successes: int, trials: int, k: int) -> float:
    """tau2's pass^k for one task: C(c, k) / C(n, k) — the chance that k trials drawn without
    replacement from the n recorded ones all succeed."""
    if not 1 <= k <= trials:
        raise ValueError(f"k={k} must be between 1 and the trial count {trials}")
    if not 0 <= successes <= trials:
        raise ValueError("successes must be between 0 and trials")
    return math.comb(successes, k) / math.comb(trials, k)


def run_pass_hat_k(per_task: Sequence[tuple[int, int]]) -> dict[int, float]:
    """pass^k of a run for k = 1..K (K = fewest trials of any task): mean over tasks of
    pass_hat_k. `per_task` is a list of (successes, trials); tasks with no trials are skipped."""
    rows = [(c, n) for c, n in per_task if n > 0]
    if not rows:
        return {}
    kmax = min(n for _, n in rows)
    # one definition for the whole workbench: the world's scorer owns pass^k
    from world.scoring import pass_hat_k as world_pass_hat_k

    trials = {str(i): [True] * c + [False] * (n - c) for i, (c, n) in enumerate(rows)}
    return {k: world_pass_hat_k(trials, k) for k in range(1, kmax + 1)}


def flip_rate(outcomes: Sequence[bool]) -> float | None:
    """How often two repeats of the same task disagree: discordant pairs / all pairs
    (= 2c(n-c) / n(n-1)). Order-free, unlike counting adjacent changes, and an unbiased
    estimate of 2p(1-p). None with fewer than two trials."""
    n = len(outcomes)
    if n < 2:
        return None
    c = sum(1 for o in outcomes if o)
    return 2 * c * (n - c) / (n * (n - 1))


def binomial_upper_bound(n: int, p: float, confidence: float = 0.999) -> int:
    """The smallest m with P(X <= m) >= confidence for X ~ Binomial(n, p): a tolerance for
    "no more often than p" checks (calibration)."""
    for m in range(n + 1):
        if binom_cdf(m, n, Fraction(p).limit_denominator(10**6)) >= confidence:
            return m
    return n
