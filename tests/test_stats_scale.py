"""The vectorised gate statistics (issue 18) against their definitions: the bootstrap replays the
stdlib generator bit for bit, its big-input form agrees within Monte Carlo error, the sign-flip
test equals brute-force enumeration, and the sign test stays exact at thousands of tasks."""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import pytest

from t2e_tui.gate import stats
from t2e_tui.gate.stats import bootstrap_mean_ci, sign_flip_test, sign_test


def reference_bootstrap(deltas, level=0.95, resamples=2000, seed=0):
    """The pure-Python loop the gate used before numpy (kept here as the definition)."""
    values = [float(d) for d in deltas]
    n = len(values)
    rng = random.Random(seed)
    means = []
    for _ in range(resamples):
        s = 0.0
        for _ in range(n):
            s += values[rng.randrange(n)]
        means.append(s / n)
    means.sort()
    tail = (1.0 - level) / 2.0
    return stats.quantile(means, tail), stats.quantile(means, 1.0 - tail)


@pytest.mark.parametrize("n,seed", [(7, 0), (50, 3), (129, 11), (1000, 7)])
def test_bootstrap_replays_the_stdlib_stream_bit_for_bit(n, seed):
    rng = random.Random(n)
    deltas = [rng.choice((-1.0, -0.5, 0.0, 0.25, 0.5, 1.0)) for _ in range(n)]
    resamples = 2000 if n <= 129 else 400
    assert bootstrap_mean_ci(deltas, resamples=resamples, seed=seed) == \
        reference_bootstrap(deltas, resamples=resamples, seed=seed)


def test_bootstraps_of_as_many_tasks_share_draws_but_never_values():
    """The draws (which task each resample picks) depend on the number of tasks, the
    resamples and the seed alone, so they are made once and reused; each list of deltas still
    gets its own interval, bit for bit the stdlib loop's, at the policy's level and at the
    tested level's 100,000 resamples."""
    rng = random.Random(9)
    lists = [[rng.choice((-1.0, -2 / 3, -1 / 3, 0.0, 1 / 3, 1.0)) for _ in range(12)]
             for _ in range(3)]
    got = [bootstrap_mean_ci(d, resamples=300, seed=4) for d in lists]
    assert got == [reference_bootstrap(d, resamples=300, seed=4) for d in lists]
    assert len(set(got)) == 3
    tested = [bootstrap_mean_ci(d, level=1 - 1e-4, resamples=100_000, seed=4)
              for d in lists[:2]]
    assert tested == [reference_bootstrap(d, level=1 - 1e-4, resamples=100_000, seed=4)
                      for d in lists[:2]]
    assert tested[0] != tested[1]


@pytest.mark.parametrize("pool,scale", [
    ((-1.0, 0.0, 1.0), 0),                  # one trial: the totals span a few integers
    ((-1.0, -0.5, 0.0, 0.5, 1.0), 1),       # two trials
    ((-(2.0 ** 40), 3.0, 0.0), 0),          # totals spread wide: sorted, not histogrammed
    ((0.0, 1.0, 2.0 ** -30), 30),
    ((-0.0, 0.0, 1.0), None),               # a zero's sign: the loop's own sums
    ((1 / 3, 0.0, 1.0), None),              # not exact in binary: the loop's own sums
])
def test_exact_totals_give_the_stdlib_loops_interval(pool, scale):
    """Where every sum of the deltas is exact (`_exact_scale`), the totals are added as
    integers and the quantiles read off their histogram, no sort: still the stdlib loop's
    interval bit for bit, at the policy's level and at a tested level's tail."""
    rng = random.Random(len(pool))
    deltas = [rng.choice(pool) for _ in range(20)]
    assert stats._exact_scale(deltas) == scale
    for level, resamples in ((0.95, 300), (1 - 1e-3, 20_000)):
        got = bootstrap_mean_ci(deltas, level=level, resamples=resamples, seed=3)
        want = reference_bootstrap(deltas, level=level, resamples=resamples, seed=3)
        if any(math.copysign(1.0, v) < 0 for v in pool if v == 0.0):
            # a zero's sign is the vectorised loop's (it starts at the first pick, the
            # reference at +0.0); the values are the same
            want, got = tuple(w + 0.0 for w in want), tuple(g + 0.0 for g in got)
        assert repr(got) == repr(want)


def test_big_bootstrap_agrees_with_the_exact_replay_within_monte_carlo_error(monkeypatch):
    rng = random.Random(5)
    n = 3000
    deltas = [rng.choice((-1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 1.0)) for _ in range(n)]
    mean = sum(deltas) / n
    sd_mean = math.sqrt(sum((d - mean) ** 2 for d in deltas) / (n - 1) / n)
    monkeypatch.setattr(stats, "EXACT_BOOTSTRAP_DRAWS", 10**12)
    exact = bootstrap_mean_ci(deltas)
    monkeypatch.setattr(stats, "EXACT_BOOTSTRAP_DRAWS", 0)
    counts = bootstrap_mean_ci(deltas)
    assert exact != counts  # really two methods
    # each 2.5% quantile from 2,000 resamples has a standard error of ~0.06 sd of the mean;
    # 0.35 sd is ~4 standard errors of the difference, far below a mis-scaled interval
    for a, b in zip(exact, counts):
        assert abs(a - b) <= 0.35 * sd_mean
    assert counts[0] < mean < counts[1]
    assert counts == bootstrap_mean_ci(deltas)  # seeded: reproducible


def brute_force_flip(deltas):
    vals = [d for d in deltas if d != 0]
    observed = sum(vals)
    hits = sum(1 for signs in itertools.product((1, -1), repeat=len(vals))
               if sum(s * abs(v) for s, v in zip(signs, vals)) >= observed)
    return hits / 2 ** len(vals)


@pytest.mark.parametrize("seed", range(8))
def test_sign_flip_equals_enumeration(seed):
    rng = random.Random(seed)
    deltas = [Fraction(rng.choice((-4, -3, -2, -1, 0, 1, 2, 3, 4)), 4) for _ in range(13)]
    p, exact = sign_flip_test(deltas)
    assert exact and p == pytest.approx(brute_force_flip(deltas), abs=1e-12)


def test_sign_flip_is_exact_and_fast_at_25k_tasks():
    rng = random.Random(2)
    deltas = [Fraction(rng.choice((-2, -1, 0, 0, 0, 1, 2)), 2) for _ in range(25_000)]
    p, exact = sign_flip_test(deltas)
    assert exact
    # same tail by a normal approximation with continuity correction (n is huge): close, not equal
    ints = [int(d * 2) for d in deltas if d]
    z = (sum(ints) - 0.5) / math.sqrt(sum(v * v for v in ints))
    assert p == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)), abs=2e-3)


def test_monte_carlo_fallback_is_seeded_and_close():
    deltas = [1] * 8 + [-1] * 2
    p, exact = sign_flip_test(deltas, max_states=5, samples=4000, seed=3)
    assert not exact and p == pytest.approx(sign_test(8, 2), abs=0.02)
    assert sign_flip_test(deltas, max_states=5, samples=4000, seed=3)[0] == p


@pytest.mark.parametrize("improved,worsened", [(3900, 3700), (40, 25), (0, 9), (7, 0)])
def test_sign_test_is_exact_at_any_size(improved, worsened):
    n = improved + worsened
    exact = Fraction(sum(math.comb(n, i) for i in range(improved, n + 1)), 2 ** n)
    assert sign_test(improved, worsened) == float(exact)


def test_flip_tail_mirrors_each_binomial_without_changing_a_bit():
    """_flip_tail builds each group's pmf from half its coefficients (C(m, j) = C(m, m - j));
    the p-value is the float a pmf built from every coefficient gives."""
    from collections import Counter

    import numpy as np

    from t2e_tui.gate.stats import _flip_tail

    def full(groups, observed):
        dist, low = np.ones(1), 0
        for a, m in sorted(groups.items()):
            pmf, c = np.zeros(2 * a * m + 1), 1
            for j in range(m + 1):
                pmf[2 * a * j] = c / (1 << m)
                c = c * (m - j) // (j + 1)
            dist = np.convolve(dist, pmf)
            low -= a * m
        first = observed - low
        return 1.0 if first <= 0 else float(min(1.0, dist[first:].sum()))

    rng = random.Random(1)
    for trial in range(20):
        groups = Counter({a: rng.randint(1, 400 if trial % 2 else 7)
                          for a in rng.sample([1, 2, 3, 4], rng.randint(1, 3))})
        span = sum(a * m for a, m in groups.items())
        for observed in (rng.randint(-span, span), 0, span, -span):
            assert _flip_tail(groups, observed) == full(groups, observed)
