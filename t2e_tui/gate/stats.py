"""Statistics for the gate: exact sign test, paired bootstrap, pass^k, flip rates.

Deterministic: the bootstrap takes an explicit seed so that the same two runs always give the
same interval (a scoreboard row must be reproducible). numpy does the heavy lifting so a gate
over 25,000 tasks stays under a second (the pure-Python loops took 36 CPU-s at 100k episodes):

- the sign test is exact at any size (integer binomial sums, one division);
- the sign-flip test is exact (grouped convolution of binomial distributions) up to
  `max_states` sums, and a seeded Monte Carlo estimate beyond;
- the bootstrap replays the stdlib generator's exact stream (`random.Random(seed).randrange`)
  vectorised, so its intervals are bit-identical to the pure-Python version, up to
  `EXACT_BOOTSTRAP_DRAWS` draws; beyond that it resamples multinomial counts of the distinct
  deltas (the same estimator, numpy's PCG64 seeded with the same seed), which agrees with the
  exact replay within Monte Carlo error.
"""

from __future__ import annotations

import math
import os
import random
import sys
from collections import Counter
from fractions import Fraction
from functools import lru_cache
from typing import Sequence

if "numpy" not in sys.modules:
    # The gate calls no BLAS routine (elementwise work, pocketfft, one small product), and
    # OpenBLAS starting a thread per core costs ~0.04 CPU-s of every `t2e gate` (a third of
    # numpy's import). A value the user set is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

SUCCESS_TOL = 1e-6
EXACT_BOOTSTRAP_DRAWS = 2_000_000  # resamples x tasks replayed draw by draw (1,000 tasks at 2,000)


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
    if p == Fraction(1, 2):  # the sign test's case: integer sums, exact, fast at any n
        return _half_tail(k, n)
    q = 1 - p
    total = sum(Fraction(math.comb(n, i)) * p**i * q ** (n - i) for i in range(k, n + 1))
    return float(total)


def _half_tail(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2): sum of C(n, i) for i >= k over 2**n, in integers
    (each coefficient from the last, so 7,600 changed tasks cost milliseconds) and one
    correctly rounded division."""
    c = math.comb(n, k)
    total = 0
    for i in range(k, n + 1):
        total += c
        c = c * (n - i) // (i + 1)
    return total / (1 << n)


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
    # Fraction arithmetic once per distinct delta object, not per task: the gate's deltas are a
    # handful of shared objects over 10^4 tasks (counted by id, as hashing a Fraction is slow;
    # `deltas` keeps every object alive meanwhile, so no id is reused)
    keys = list(map(id, deltas))
    objects = dict(zip(keys, deltas))
    exact = {k: Fraction(d).limit_denominator(10**6) for k, d in objects.items()}
    exact = {k: f for k, f in exact.items() if f != 0}
    if not exact:
        return 1.0, True
    scale = 1
    for d in exact.values():
        scale = scale * d.denominator // math.gcd(scale, d.denominator)
    scaled = {k: int(d * scale) for k, d in exact.items()}
    many = Counter(keys)
    observed = sum(v * many[k] for k, v in scaled.items())
    groups: Counter = Counter()  # |scaled delta| -> how many tasks
    for k, v in scaled.items():
        groups[abs(v)] += many[k]
    span = sum(a * m for a, m in groups.items())
    if 2 * span + 1 <= max_states:
        return _flip_tail(groups, observed), True
    ints = [scaled[k] for k in keys if k in scaled]  # task order: the draws below follow it
    rng = np.random.Generator(np.random.PCG64(seed))
    absv = np.abs(np.asarray(ints, dtype=np.float64))
    hits = 0
    chunk = max(1, 4_000_000 // len(ints))
    for start in range(0, samples, chunk):
        rows = min(chunk, samples - start)
        signs = rng.integers(0, 2, size=(rows, len(ints)), dtype=np.int8) * 2 - 1
        hits += int(np.count_nonzero(signs @ absv >= observed))
    return (hits + 1) / (samples + 1), False


def _flip_tail(groups: Counter, observed: int) -> float:
    """P(sum of e_i * |v_i| >= observed) for independent fair signs e_i, exactly up to float
    rounding, `groups` counting the tasks of each |v_i| (> 0): tasks with the same |v| form one
    binomial (m of them give a * (2j - m) with probability C(m, j) / 2**m), and the few
    distinct magnitudes are convolved on the integer grid. Dyadic probabilities make small
    cases exact to the last bit."""
    span = sum(a * m for a, m in groups.items())
    dist = np.ones(1)  # distribution of the partial sum, index 0 = its lowest value
    low = 0
    for a, m in sorted(groups.items()):
        pmf = np.zeros(2 * a * m + 1)
        c, scale = 1, 1 << m
        for j in range(m // 2 + 1):  # C(m, j) = C(m, m - j): half the big-integer work
            pmf[2 * a * j] = pmf[2 * a * (m - j)] = c / scale  # correctly rounded
            c = c * (m - j) // (j + 1)
        if dist.size * pmf.size <= 50_000_000:
            dist = np.convolve(dist, pmf)
        else:  # huge and spread out: FFT (absolute error ~1e-15, far below any alpha)
            size = dist.size + pmf.size - 1
            nfft = 1 << (size - 1).bit_length()
            dist = np.fft.irfft(np.fft.rfft(dist, nfft) * np.fft.rfft(pmf, nfft), nfft)[:size]
            dist = np.clip(dist, 0.0, None)
        low -= a * m
    assert low == -span and dist.size == 2 * span + 1
    first = observed - low  # index of the observed sum
    if first <= 0:
        return 1.0
    return float(min(1.0, dist[first:].sum()))


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
    draws = max(1, resamples) * n
    tail = (1.0 - level) / 2.0
    if draws <= EXACT_BOOTSTRAP_DRAWS:
        scale = _exact_scale(values)
        if scale is not None:
            means = _replayed_sums(values, scale, max(1, resamples), seed)
            return quantile(means, tail), quantile(means, 1.0 - tail)
        means = _replayed_means(values, max(1, resamples), seed)
    else:
        means = _count_means(values, max(1, resamples), seed)
    # numpy's stable sort orders floats as sorted() does (equal values keep their order);
    # sorting 100,000 means (the tested level's resamples) as Python floats took 13 ms a gate
    means = np.sort(means, kind="stable").tolist()
    return quantile(means, tail), quantile(means, 1.0 - tail)


def _exact_scale(values: list[float]) -> int | None:
    """k such that every value times 2**k is an integer and any sum of len(values) of them
    is exact in float64 (below 2**53 in those units), or None. Then a resample's total does
    not depend on the order of its additions, and its mean is the replayed loop's to the bit.
    None where a value is -0.0 (the loop's sums keep a zero's sign, integers don't), not
    finite, or needs more than 30 binary places (1/3: most fractional rates)."""
    arr = np.asarray(values, dtype=np.float64)
    if not np.isfinite(arr).all() or np.signbit(arr[arr == 0.0]).any():
        return None
    biggest = float(np.abs(arr).max())
    for k in range(31):
        scaled = np.ldexp(arr, k)
        if (scaled == np.floor(scaled)).all():
            return k if math.ldexp(biggest, k) * len(values) < 2.0 ** 53 else None
    return None


class _SortedMeans:
    """The resampled means in sorted order, read by index (all `quantile` reads): from a
    histogram of the integer totals where they span few values (no sort), else from the
    sorted integers. Mean = total * 2**-scale / n, a non-decreasing function of the total,
    so the i-th smallest mean is the i-th smallest total's."""

    def __init__(self, totals: np.ndarray, scale: int, n: int):
        self._low, self._scale, self._n = int(totals.min()), scale, n
        self._len = int(totals.size)
        if int(totals.max()) - self._low <= 4 * self._len:
            self._cum: np.ndarray | None = np.cumsum(np.bincount(totals - self._low))
        else:
            self._cum, self._sorted = None, np.sort(totals)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i: int) -> float:
        if not 0 <= i < self._len:
            raise IndexError(i)
        if self._cum is None:
            total = int(self._sorted[i])
        else:
            total = self._low + int(np.searchsorted(self._cum, i, side="right"))
        return math.ldexp(float(total), -self._scale) / self._n


def _replayed_sums(values: list[float], scale: int, resamples: int,
                   seed: int) -> _SortedMeans:
    """`_replayed_means` where the sums are exact (`_exact_scale`): the same draws, each
    resample's total summed as integers (order does not matter when nothing rounds), and the
    means read off a histogram of the totals instead of sorting 100,000 floats. The same
    interval to the bit, a third of the CPU of a gate's interval at the tested level."""
    n = len(values)
    picked = _replayed_picks(n, resamples, seed)
    ints = np.ldexp(np.asarray(values, dtype=np.float64), scale).astype(np.int64)
    biggest = int(np.abs(ints).max())
    small = np.int8 if biggest < 2 ** 7 else np.int16 if biggest < 2 ** 15 else np.int64
    picks = np.take(ints.astype(small), picked).reshape(resamples, n)
    return _SortedMeans(picks.sum(axis=1, dtype=np.int64), scale, n)


def _replayed_means(values: list[float], resamples: int, seed: int) -> np.ndarray:
    """Bootstrap means from exactly the draws `random.Random(seed).randrange(n)` makes, summed
    in the same order: numpy's MT19937 continues the stdlib generator's state, `randrange`'s
    rejection sampling (top k bits, redraw if >= n) is replayed on its raw 32-bit stream, and
    the columns are added left to right as the old loop did. Bit-identical results, ~100x
    faster."""
    n = len(values)
    picked = _replayed_picks(n, resamples, seed)
    arr = np.asarray(values, dtype=np.float64)
    means = np.empty(resamples)
    rows = max(1, 2_000_000 // n)
    for start in range(0, resamples, rows):
        stop = min(resamples, start + rows)
        block = arr[picked[start * n:stop * n]].reshape(stop - start, n)
        # column by column, left to right: the additions cumsum made, without its n partial
        # sums per row (a row's last partial sum was all it kept)
        total = block[:, 0].copy()
        for j in range(1, n):
            total += block[:, j]
        means[start:stop] = total / n
    return means


@lru_cache(maxsize=8)
def _replayed_picks(n: int, resamples: int, seed: int) -> np.ndarray:
    """The task index of every draw of `_replayed_means` (read-only). They depend on the
    number of tasks, the resamples and the seed, never on the deltas, so gates of as many
    tasks share them: making them is most of a bootstrap's cost (the interval at a corrected
    alpha takes 100,000 resamples, ~50 ms at 20 tasks), and a calibration gates hundreds of
    pairs. At most EXACT_BOOTSTRAP_DRAWS draws each, in the smallest integer type. Eight
    kept: gates in turn on one set take the policy's resamples and, as the corrected alpha
    falls, four more sizes (1,645 to 100,000 at 20 tasks); with four kept, each new set
    made them all again."""
    k = n.bit_length()
    if k > 32:  # pragma: no cover - 4 billion tasks
        raise ValueError("too many tasks for the replayed bootstrap")
    state = random.Random(seed).getstate()[1]
    bits = np.random.MT19937()
    bits.state = {"bit_generator": "MT19937",
                  "state": {"key": np.array(state[:624], dtype=np.uint32), "pos": state[624]}}
    need = resamples * n
    picked = np.empty(need, dtype=np.min_scalar_type(max(n - 1, 0)))
    got = 0
    while got < need:
        raw = bits.random_raw(max(1024, int((need - got) * 1.1) + 64))
        raw >>= np.uint64(32 - k)
        ok = raw[raw < n]
        take = min(ok.size, need - got)
        picked[got:got + take] = ok[:take]
        got += take
    picked.setflags(write=False)
    return picked


def _count_means(values: list[float], resamples: int, seed: int) -> np.ndarray:
    """Bootstrap means for big inputs: a resample of n tasks is a multinomial draw of how many
    times each distinct delta is picked, so its mean is counts . values / n. Same estimator as
    resampling indices, cost independent of n (deltas take few distinct values)."""
    n = len(values)
    distinct = Counter(values)
    vals = np.array(list(distinct.keys()), dtype=np.float64)
    probs = np.array(list(distinct.values()), dtype=np.float64) / n
    rng = np.random.Generator(np.random.PCG64(seed))
    counts = rng.multinomial(n, probs, size=resamples)
    return (counts @ vals) / n


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
    # one definition for the whole workbench: the world's scorer owns pass^k. Its per-task
    # term comes from world_pass_hat_k once per (successes, trials) shape (a handful over 10^4
    # tasks); the mean adds the terms in task order from 0.0, as its own loop does, so the
    # figure is the same float
    from world.scoring import pass_hat_k as world_pass_hat_k

    out = {}
    for k in range(1, kmax + 1):
        term: dict[tuple[int, int], float] = {}
        for shape in set(rows):
            c, n = shape
            term[shape] = world_pass_hat_k({"": [True] * c + [False] * (n - c)}, k)
        out[k] = sum([term[shape] for shape in rows], 0.0) / len(rows)
    return out


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
