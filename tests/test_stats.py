"""The gate's statistical functions against known values."""

from __future__ import annotations

import itertools
import math

import pytest

from t2e_tui.gate.stats import (
    binom_sf,
    binomial_upper_bound,
    bootstrap_mean_ci,
    flip_rate,
    is_success,
    pass_hat_k,
    quantile,
    run_pass_hat_k,
    sign_test,
)


def test_success_tolerance():
    assert is_success(1.0) and is_success(1 - 1e-7) and is_success(1 + 1e-7)
    assert not is_success(1 - 1e-5) and not is_success(0.0) and not is_success(None)


@pytest.mark.parametrize("fixes,regs,p", [
    (6, 0, 0.015625),          # 1/64: the smallest all-fix count significant at 0.05
    (5, 0, 0.03125),
    (4, 0, 0.0625),            # 4 fixes alone are not enough at alpha = 0.05
    (7, 1, 9 / 256),           # P(X >= 7 | n = 8)
    (6, 6, 2510 / 4096),       # P(X >= 6 | n = 12) = (924 + 792 + 495 + 220 + 66 + 12 + 1)/4096
    (0, 3, 1.0),
    (0, 0, 1.0),               # no changed task: no evidence
])
def test_sign_test_known_values(fixes, regs, p):
    assert sign_test(fixes, regs) == pytest.approx(p, abs=1e-12)


def test_binom_sf_matches_direct_sum():
    for n in range(0, 15):
        for k in range(0, n + 2):
            direct = sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n if k <= n else 0.0
            assert binom_sf(k, n) == pytest.approx(direct if k > 0 else 1.0, abs=1e-12)


def test_sign_test_rejects_negative_counts():
    with pytest.raises(ValueError):
        sign_test(-1, 2)


def test_quantile_linear_interpolation():
    assert quantile([1, 2, 3, 4], 0.5) == 2.5
    assert quantile([1, 2, 3, 4], 0.0) == 1 and quantile([1, 2, 3, 4], 1.0) == 4
    assert quantile([0, 10], 0.25) == 2.5


def test_bootstrap_constant_deltas_give_a_point_interval():
    assert bootstrap_mean_ci([0.5, 0.5, 0.5]) == (0.5, 0.5)
    assert bootstrap_mean_ci([]) == (0.0, 0.0)


def test_bootstrap_is_deterministic_for_a_seed_and_varies_with_it():
    d = [0.13, -0.7, 0.42, 0.9, -0.05, 0.31, 0.77]  # off-grid, so seeds show through
    assert bootstrap_mean_ci(d, seed=7, resamples=300) == bootstrap_mean_ci(d, seed=7,
                                                                          resamples=300)
    assert bootstrap_mean_ci(d, seed=7, resamples=300) != bootstrap_mean_ci(d, seed=8,
                                                                          resamples=300)


def _exact_bootstrap_quantiles(values, level):
    """The exact bootstrap distribution of the mean by enumerating all n^n resamples."""
    n = len(values)
    means = sorted(sum(values[i] for i in idx) / n
                   for idx in itertools.product(range(n), repeat=n))
    tail = (1 - level) / 2
    return quantile(means, tail), quantile(means, 1 - tail)


def test_bootstrap_matches_the_exact_bootstrap_distribution():
    # 5 tasks: deltas 1, 1, 0, 0, -1 -> 3125 equally likely resamples, enumerated exactly.
    values = [1.0, 1.0, 0.0, 0.0, -1.0]
    lo_x, hi_x = _exact_bootstrap_quantiles(values, 0.90)
    lo, hi = bootstrap_mean_ci(values, level=0.90, resamples=20000, seed=1)
    assert (lo_x, hi_x) == (-0.4, 0.8)
    assert lo == pytest.approx(lo_x, abs=0.2 + 1e-9)   # one grid step (1/5) of slack
    assert hi == pytest.approx(hi_x, abs=0.2 + 1e-9)
    assert lo < sum(values) / 5 < hi


def test_pass_hat_k_tau2_definition():
    assert pass_hat_k(4, 4, 4) == 1.0
    assert pass_hat_k(2, 4, 1) == 0.5
    assert pass_hat_k(2, 4, 2) == pytest.approx(1 / 6)   # C(2,2)/C(4,2)
    assert pass_hat_k(3, 4, 2) == pytest.approx(0.5)     # C(3,2)/C(4,2) = 3/6
    assert pass_hat_k(1, 4, 2) == 0.0
    with pytest.raises(ValueError):
        pass_hat_k(1, 2, 3)


def test_run_pass_hat_k_uses_fewest_trials_as_k_max():
    # tasks: 4/4, 2/4, 1/3 -> K = 3
    got = run_pass_hat_k([(4, 4), (2, 4), (1, 3)])
    assert set(got) == {1, 2, 3}
    assert got[1] == pytest.approx((1 + 0.5 + 1 / 3) / 3)
    assert got[2] == pytest.approx((1 + 1 / 6 + 0) / 3)
    assert got[3] == pytest.approx((1 + 0 + 0) / 3)


def test_flip_rate_counts_discordant_trial_pairs():
    assert flip_rate([True]) is None
    assert flip_rate([True, True, True]) == 0.0
    assert flip_rate([True, False]) == 1.0
    assert flip_rate([True, False, True, False]) == pytest.approx(4 / 6)


def test_binomial_upper_bound():
    # P(X <= 0 | n=10, p=0.05) = 0.5987; <= 1: 0.9139; <= 2: 0.9885; <= 3: 0.9990
    assert binomial_upper_bound(10, 0.05, 0.95) == 2
    assert binomial_upper_bound(10, 0.05, 0.99) == 3


def test_sign_flip_test_equals_the_sign_test_on_binary_outcomes():
    from t2e_tui.gate.stats import sign_flip_test

    for up, down in [(6, 0), (7, 1), (3, 3), (0, 4), (9, 2)]:
        p, exact = sign_flip_test([1] * up + [-1] * down + [0] * 5)
        assert exact and p == pytest.approx(sign_test(up, down), abs=1e-12)


def test_sign_flip_test_known_values_with_rates():
    from fractions import Fraction as F

    from t2e_tui.gate.stats import sign_flip_test

    # |d| = 3, 1, 1 (quarters); observed sum 3; sign patterns with sum >= 3: 3 of 8
    assert sign_flip_test([F(3, 4), F(1, 4), F(-1, 4)]) == (0.375, True)
    # 0/4 -> 4/4 on two tasks vs two small drops: only the observed pattern and the one
    # flipping both small drops reach it -> (1 + 1 + ... ) / 16
    p, _ = sign_flip_test([F(1), F(1), F(-1, 4), F(-1, 4)])
    # sums: +-1 +-1 +-1/4 +-1/4; >= 1.5: (+,+,+,+) 2.5, (+,+,+,-) 2, (+,+,-,+) 2, (+,+,-,-) 1.5
    assert p == 4 / 16
    assert sign_flip_test([]) == (1.0, True)


def test_sign_flip_test_falls_back_to_seeded_monte_carlo_when_huge():
    from t2e_tui.gate.stats import sign_flip_test

    d = [1] * 8 + [-1] * 2
    p, exact = sign_flip_test(d, max_states=5, samples=4000, seed=3)
    assert not exact and p == pytest.approx(sign_test(8, 2), abs=0.02)
    assert sign_flip_test(d, max_states=5, samples=4000, seed=3)[0] == p
