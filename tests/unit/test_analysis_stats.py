"""Exact statistics against brute force and known values."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from shifter.analysis import stats


def brute_sf(k: int, n: int, p: Fraction) -> float:
    return float(sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)))


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [
        (0, 10, "1/10"),
        (1, 60, "1/100"),
        (5, 25, "1/100"),
        (3, 40, "1/20"),
        (30, 50, "1/2"),
        (1, 1, "1/3"),
        (20, 20, "9/10"),
        (7, 200, "1/100"),
        (150, 300, "1/2"),
    ],
)
def test_binom_sf_matches_exact_rational_sum(k: int, n: int, p: str) -> None:
    expected = brute_sf(k, n, Fraction(p))
    assert stats.binom_sf(k, n, float(Fraction(p))) == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_binom_known_values() -> None:
    assert stats.binom_sf(1, 60, 0.01) == pytest.approx(1 - 0.99**60)
    assert stats.binom_sf(5, 25, 0.01) == pytest.approx(4.496e-6, rel=1e-3)
    assert stats.binom_sf(0, 5, 0.3) == 1.0
    assert stats.binom_sf(6, 5, 0.3) == 0.0
    assert stats.binom_sf(1, 5, 0.0) == 0.0
    assert stats.binom_sf(5, 5, 1.0) == 1.0


def test_binom_cdf_and_sf_are_complements_for_large_n() -> None:
    n, p = 1_000_000, 0.01
    for k in (9_000, 9_990, 10_000, 10_100, 10_500):
        assert stats.binom_sf(k, n, p) + stats.binom_cdf(k - 1, n, p) == pytest.approx(1.0)
    # normal approximation with continuity correction: z = 99.5 / 99.5
    assert stats.binom_sf(10_100, n, p) == pytest.approx(0.1587, abs=0.003)
    tiny = stats.binom_sf(12_000, n, p)
    assert 0.0 < tiny < 1e-80  # far tail stays positive, no underflow to a wrong 0 or 1


def test_binom_large_n_against_full_log_space_sum() -> None:
    n, p, k = 200_000, 0.003, 650
    full = sum(math.exp(stats.binom_logpmf(i, n, p)) for i in range(k, 2_000))
    assert stats.binom_sf(k, n, p) == pytest.approx(full, rel=1e-9)


def test_fisher_tea_tasting() -> None:
    # Fisher's lady tasting tea: 3 of 4 right, one-sided p = 17/70
    assert stats.fisher_greater(3, 4, 1, 4) == pytest.approx(17 / 70)
    assert stats.fisher_greater(4, 4, 0, 4) == pytest.approx(1 / 70)
    assert stats.fisher_greater(0, 4, 4, 4) == 1.0


def test_fisher_against_brute_force() -> None:
    a, n1, c, n2 = 7, 30, 2, 50
    total, succ = n1 + n2, a + c

    def pmf(x: int) -> Fraction:
        return Fraction(math.comb(succ, x) * math.comb(total - succ, n1 - x), math.comb(total, n1))

    expected = float(sum(pmf(x) for x in range(a, min(n1, succ) + 1)))
    assert stats.fisher_greater(a, n1, c, n2) == pytest.approx(expected, rel=1e-9)


def test_fisher_large_balanced_is_about_normal() -> None:
    # X ~ ~Binomial(10100, 1/2): mean 5050, sd ~50: X >= 5100 is z ~ 1
    assert stats.fisher_greater(5100, 500_000, 5000, 500_000) == pytest.approx(0.16, abs=0.01)


def test_clopper_pearson_upper_bound() -> None:
    # zero events: the bound solves (1 - p)^n = alpha
    assert stats.binom_upper_bound(0, 100, 0.05) == pytest.approx(1 - 0.05 ** (1 / 100), rel=1e-6)
    ub = stats.binom_upper_bound(5, 100, 0.025)
    assert stats.binom_cdf(5, 100, ub) == pytest.approx(0.025, rel=1e-4)
    assert stats.binom_upper_bound(10, 10, 0.05) == 1.0


INF = math.inf


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.5, [(0.1, 10), (0.2, 20), (INF, 20)], 0.1),
        (0.75, [(0.1, 10), (0.2, 20), (INF, 20)], 0.15),
        (0.25, [(0.1, 10), (0.2, 20), (INF, 20)], 0.05),
        (0.99, [(0.1, 0), (INF, 5)], 0.1),  # rank in +Inf bucket: highest finite bound
        (0.2, [(-1.0, 5), (INF, 10)], -1.0),  # first bound <= 0 answers itself
        (0.5, [(0.1, 10), (0.2, 8), (INF, 10)], 0.05),  # made monotonic
        (0.5, [(INF, 4), (0.2, 4), (0.1, 0)], 0.15),  # unsorted input
        (0.5, [(0.1, 2), (0.1, 2), (INF, 4)], 0.05),  # equal bounds merged
        (1.0, [(0.1, 10), (0.2, 20), (INF, 20)], 0.2),
    ],
)
def test_histogram_quantile_parity(
    q: float, buckets: list[tuple[float, float]], expected: float
) -> None:
    assert stats.histogram_quantile(q, buckets) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("q", "buckets"),
    [
        (0.5, [(0.1, 10), (0.2, 20)]),  # no +Inf bucket
        (0.5, [(INF, 20)]),  # one bucket
        (0.5, [(0.1, 0), (INF, 0)]),  # no observations
        (math.nan, [(0.1, 1), (INF, 2)]),
        (0.5, []),
    ],
)
def test_histogram_quantile_nan_cases(q: float, buckets: list[tuple[float, float]]) -> None:
    assert math.isnan(stats.histogram_quantile(q, buckets))


def test_histogram_quantile_out_of_range_q() -> None:
    assert stats.histogram_quantile(-0.1, [(0.1, 1), (INF, 1)]) == -INF
    assert stats.histogram_quantile(1.1, [(0.1, 1), (INF, 1)]) == INF
