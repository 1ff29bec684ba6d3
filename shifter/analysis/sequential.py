"""Anytime-valid tests on counts: e-processes and confidence sequences. Pure.

A rollout looks at the same growing counts again and again (every ``interval``, for as long
as a step runs, across steps and across resumed runs). A fixed-sample test at level alpha
looked at that often rejects a true null far more often than alpha. These tests do not:
each is built on a non-negative supermartingale (an *e-process*) ``M`` with ``M_0 = 1``
under the null, so by Ville's inequality ``P[M_t >= 1/alpha for some t] <= alpha``, for
any number of looks at any times, however they are chosen.

Requests are a stream of Bernoulli outcomes (error or not; slower than a bound or not).
The counts a check reads are a prefix of a step's stream; a rollout's steps are disjoint
segments of the release's stream; requests between a step's last look and the next
weight change are left out (which ones is decided without looking at them, so the
product stays a supermartingale). Evidence is therefore kept as a list of segments
``(n, k)``: ``k`` events of ``n`` requests, one per step, and multiplied.

``log_e_above(segments, p0)``
    One-sided test of ``H0: rate <= p0``: a uniform mixture of likelihood ratios
    ``(p/p0)^k ((1-p)/(1-p0))^(n-k)`` over the alternatives ``p = p0 * r`` for ``r`` in
    :data:`GRID`. Each ratio is a supermartingale for every true rate ``<= p0`` (its
    one-request expectation is linear in the true rate and equals 1 at ``p0``), so the
    mixture is one too. The grid spans 1.5x to 50x the limit so both a slow creep and an
    outage are detected close to the information limit.
``bounds(segments, alpha)``
    A two-sided confidence sequence (Robbins' beta-binomial mixture): the rates ``c``
    whose mixture martingale ``B(a+k, b+n-k) / (B(a, b) c^k (1-c)^(n-k))`` (averaged over
    the priors of ``_priors``) stays below ``1/alpha``; the true rate is inside at every
    look with probability ``>= 1 - alpha``. The set is an interval (the log-martingale is
    a log-sum-exp of functions convex in ``c``, so convex), found by bisection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Segment = tuple[int, int]  # (requests, events)
GRID = (1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0)


def _logsumexp(xs: Sequence[float]) -> float:
    top = max(xs)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(x - top) for x in xs))


def alternatives(p0: float) -> list[float]:
    """The alternatives of the one-sided mixture for a limit ``p0``."""
    alts = sorted({min(p0 * r, 1.0 - (1.0 - p0) / (2 * r)) for r in GRID})
    return [p for p in alts if p0 < p < 1.0]


def log_e_above(segments: Sequence[Segment], p0: float) -> float:
    """``log`` of the e-value against ``H0: rate <= p0`` over ``segments``."""
    if p0 <= 0.0:
        return math.inf if any(k > 0 for _, k in segments) else 0.0
    if p0 >= 1.0:
        return -math.inf
    n = sum(s[0] for s in segments)
    k = sum(s[1] for s in segments)
    alts = alternatives(p0)
    if not alts or n == 0:
        return 0.0
    lw = -math.log(len(alts))
    return _logsumexp([lw + k * math.log(p / p0) + (n - k) * math.log1p(-p)
                       - (n - k) * math.log1p(-p0) for p in alts])


def rejects_above(segments: Sequence[Segment], p0: float, alpha: float) -> bool:
    """True once the evidence that the rate exceeds ``p0`` reaches ``1/alpha``."""
    return log_e_above(segments, p0) >= math.log(1.0 / alpha)


def _priors(p0: float, wide: bool) -> tuple[tuple[float, float], ...]:
    """Beta(a, b) priors mixed equally. Narrow: one prior with its mean at the limit (most
    mass where a pass is decided). Wide: one with its mean at the limit and a uniform one,
    so rates far from the limit (a shared outage at 30%) are bounded tightly too."""
    p0 = min(max(p0, 1e-4), 0.5)
    if not wide:
        return ((2.0, max(1.0, 2.0 / p0 - 2.0)),)
    return (1.0, max(1.0, 1.0 / p0 - 1.0)), (1.0, 1.0)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def log_robbins(segments: Sequence[Segment], c: float,
                priors: Sequence[tuple[float, float]]) -> float:
    """``log`` of the product over segments of Robbins' mixture martingales at rate ``c``
    (each segment's martingale mixes ``priors`` equally)."""
    total = 0.0
    for n, k in segments:
        if n == 0:
            continue
        lik = (k * math.log(c) if k else 0.0) + ((n - k) * math.log1p(-c) if n - k else 0.0)
        terms = [_log_beta(a + k, b + n - k) - _log_beta(a, b) - lik for a, b in priors]
        total += _logsumexp(terms) - math.log(len(priors))
    return total


def bounds(segments: Sequence[Segment], alpha: float, p0: float, *, wide: bool = False
           ) -> tuple[float, float]:
    """``(lower, upper)``: a ``1 - alpha`` confidence sequence for the rate.

    ``p0`` only centres the mixing prior (the check's limit); the coverage holds for any
    true rate.
    """
    prior = _priors(p0, wide)
    n = sum(s[0] for s in segments)
    k = sum(s[1] for s in segments)
    if n == 0:
        return 0.0, 1.0
    level = math.log(1.0 / alpha)
    mle = min(max(k / n, 1e-12), 1 - 1e-12)

    def inside(c: float) -> bool:
        return log_robbins(segments, c, prior) < level

    def edge(lo: float, hi: float, inside_at_lo: bool) -> float:
        for _ in range(60):
            mid = (lo + hi) / 2
            if inside(mid) == inside_at_lo:
                lo = mid
            else:
                hi = mid
            if abs(hi - lo) < 1e-7 * max(mid, 1e-6):
                break
        return hi if inside_at_lo else lo

    lower = 0.0 if k == 0 or inside(1e-12) else edge(mle, 1e-12, True)
    upper = 1.0 if k == n or inside(1 - 1e-12) else edge(mle, 1 - 1e-12, True)
    return lower, upper


def upper_bound(segments: Sequence[Segment], alpha: float, p0: float, *,
                wide: bool = False) -> float:
    """The confidence sequence's upper end (the rate is below it at every look w.p. 1-alpha)."""
    return bounds(segments, alpha, p0, wide=wide)[1]


def lower_bound(segments: Sequence[Segment], alpha: float, p0: float, *,
                wide: bool = False) -> float:
    """The confidence sequence's lower end."""
    return bounds(segments, alpha, p0, wide=wide)[0]


def requests_to_detect(rate: float, p0: float, alpha: float) -> float:
    """Expected requests for :func:`log_e_above` to reach ``1/alpha`` at a true ``rate``.

    Wald's approximation: the threshold over the best alternative's expected log-ratio per
    request (drift), plus the log of the number of alternatives mixed.
    """
    alts = alternatives(p0)
    if rate <= p0 or not alts:
        return math.inf
    best = max(rate * math.log(p / p0) + (1 - rate) * (math.log1p(-p) - math.log1p(-p0))
               for p in alts)
    if best <= 0:
        return math.inf
    return (math.log(1.0 / alpha) + math.log(len(alts))) / best


def requests_to_pass(rate: float, pass_limit: float, alpha: float, p0: float) -> float:
    """Requests (over the rollout) after which a release whose observed rate is ``rate``
    has its ``1 - alpha`` confidence sequence's upper end at or below ``pass_limit``: the
    fewest that can pass it (``inf`` when ``rate >= pass_limit``). The counts are taken
    as their expectation, ``k = rate * n``, so this is the typical, not the worst, case."""
    if rate >= pass_limit:
        return math.inf

    def passes(n: int) -> bool:
        k = min(n, round(rate * n))
        return upper_bound([(n, k)], alpha, p0) <= pass_limit

    hi = 16
    while not passes(hi):
        hi *= 2
        if hi > 1 << 26:
            return math.inf
    lo = hi // 2
    while hi - lo > max(1, hi // 200):  # within 0.5%
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if passes(mid) else (mid, hi)
    return float(hi)
