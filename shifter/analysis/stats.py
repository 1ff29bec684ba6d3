"""Exact small-sample statistics, pure Python: binomial tails, Fisher's exact test, bounds.

Every probability is summed in log space from the largest term outward and stops once the
terms no longer change the sum, so ``n`` up to about 10^7 costs a few thousand terms
(``lgamma`` keeps each term exact to double precision). Also :func:`histogram_quantile`,
which reproduces Prometheus's function of the same name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

_EPS = 1e-17


def log_choose(n: int, k: int) -> float:
    """``log(C(n, k))``."""
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def binom_logpmf(k: int, n: int, p: float) -> float:
    """``log P[X = k]`` for ``X ~ Binomial(n, p)``, ``0 < p < 1``."""
    return log_choose(n, k) + k * math.log(p) + (n - k) * math.log1p(-p)


def _tail(logpmf: Callable[[int], float], start: int, stop: int, step: int) -> float:
    """Sum ``exp(logpmf(i))`` from ``start`` towards ``stop`` (inclusive); terms must shrink."""
    t0 = logpmf(start)
    total = 0.0
    i = start
    while True:
        term = math.exp(logpmf(i) - t0)
        total += term
        if term < _EPS * total or i == stop:
            break
        i += step
    return math.exp(t0) * total


def binom_sf(k: int, n: int, p: float) -> float:
    """``P[X >= k]`` for ``X ~ Binomial(n, p)``: the one-sided p-value of ``k`` successes."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    mode = min(n, int((n + 1) * p))
    pmf = lambda i: binom_logpmf(i, n, p)  # noqa: E731
    if k > mode:
        return min(1.0, _tail(pmf, k, n, 1))
    return max(0.0, 1.0 - _tail(pmf, k - 1, 0, -1))


def binom_cdf(k: int, n: int, p: float) -> float:
    """``P[X <= k]`` for ``X ~ Binomial(n, p)``."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    mode = min(n, int((n + 1) * p))
    pmf = lambda i: binom_logpmf(i, n, p)  # noqa: E731
    if k < mode:
        return min(1.0, _tail(pmf, k, 0, -1))
    return max(0.0, 1.0 - _tail(pmf, k + 1, n, 1))


def binom_upper_bound(k: int, n: int, alpha: float) -> float:
    """One-sided Clopper-Pearson upper bound: the largest ``p`` with ``P[X <= k | p] >= alpha``.

    The true rate is below it with probability at least ``1 - alpha``.
    """
    if n <= 0 or k >= n:
        return 1.0
    lo, hi = k / n, 1.0
    while hi - lo > 1e-9 * max(hi, 1e-6):
        mid = (lo + hi) / 2
        if binom_cdf(k, n, mid) >= alpha:
            lo = mid
        else:
            hi = mid
    return hi


def hypergeom_logpmf(x: int, total: int, successes: int, draws: int) -> float:
    """``log P[X = x]`` drawing ``draws`` of ``total`` items of which ``successes`` are marked."""
    return (
        log_choose(successes, x)
        + log_choose(total - successes, draws - x)
        - log_choose(total, draws)
    )


def fisher_greater(a: int, n1: int, c: int, n2: int) -> float:
    """One-sided Fisher exact p-value that group 1's rate (``a/n1``) exceeds group 2's (``c/n2``).

    ``P[X >= a]`` for the hypergeometric count of group-1 events given both margins.
    """
    total, successes, draws = n1 + n2, a + c, n1
    lo = max(0, draws - (total - successes))
    hi = min(draws, successes)
    if a <= lo:
        return 1.0
    if a > hi:
        return 0.0
    mode = min(hi, max(lo, int((draws + 1) * (successes + 1) / (total + 2))))
    pmf = lambda i: hypergeom_logpmf(i, total, successes, draws)  # noqa: E731
    if a > mode:
        return min(1.0, _tail(pmf, a, hi, 1))
    return max(0.0, 1.0 - _tail(pmf, a - 1, lo, -1))


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """Prometheus's ``histogram_quantile`` over ``(upper_bound, cumulative_count)`` pairs.

    Same rules as Prometheus 2.42 (``promql/quantile.go``): NaN without a ``+Inf`` bucket,
    with fewer than two buckets or no observations; buckets with equal bounds are merged and
    counts made monotonic; a rank in the ``+Inf`` bucket answers the highest finite bound;
    otherwise linear interpolation inside the bucket (from 0 for the first bucket unless its
    bound is <= 0).
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if not buckets:
        return math.nan
    merged: list[list[float]] = []
    for bound, count in sorted(buckets, key=lambda b: b[0]):
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    if not math.isinf(merged[-1][0]) or merged[-1][0] < 0:
        return math.nan
    peak = -math.inf
    for bucket in merged:  # counts must not decrease
        peak = max(peak, bucket[1])
        bucket[1] = peak
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0 or math.isnan(observations):
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[b][0], merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    if count == 0:  # only for q == 0 over an empty first bucket: 0/0 in Go is NaN
        return math.nan
    return start + (end - start) * (rank / count)
