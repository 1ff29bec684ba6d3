"""The latency decision on histogram bucket counts (see :mod:`shifter.analysis.decide`).

``buckets`` are ``(upper bound in seconds, cumulative count)`` pairs as Prometheus
histograms give them, ``+Inf`` included.
"""

from __future__ import annotations

import math

from . import stats
from .decide import Buckets, Decision, not_yet, pct, pval, secs
from .verdict import Value, Verdict

COARSE = 1.1  # a fail bound more than 10% above the limit is reported as coarse


def normalize(buckets: Buckets) -> list[tuple[float, float]]:
    """Sorted, equal bounds merged, counts made monotonic, NaN counts dropped."""
    merged: dict[float, float] = {}
    for bound, count in buckets:
        if math.isnan(count) or math.isnan(bound):
            continue
        merged[bound] = merged.get(bound, 0.0) + count
    out: list[tuple[float, float]] = []
    peak = 0.0
    for bound in sorted(merged):
        peak = max(peak, merged[bound])
        out.append((bound, peak))
    return out


def total(buckets: Buckets) -> int | None:
    """Requests in the histogram (its ``+Inf`` bucket), or None without one."""
    for bound, count in buckets:
        if math.isinf(bound) and bound > 0 and math.isfinite(count):
            return max(0, round(count))
    return None


def above(buckets: Buckets, bound: float, n: int) -> int | None:
    """Requests slower than ``bound`` (which must be one of the buckets' bounds)."""
    for b, count in buckets:
        if b == bound:
            return max(0, n - round(count))
    return None


def fail_bound(buckets: Buckets, limit: float) -> float | None:
    """Smallest finite bound >= ``limit``: requests above it are surely slower than it."""
    return min((b for b, _ in buckets if limit <= b < math.inf), default=None)


def pass_bound(buckets: Buckets, limit: float) -> float | None:
    """Largest bound <= ``limit``: requests at or below it are surely within the limit."""
    return max((b for b, _ in buckets if b <= limit), default=None)


def quantile_upper_bound(buckets: Buckets, n: int, q: float, alpha: float) -> float | None:
    """A bound the true q-quantile is below with probability >= ``1 - alpha``, or None.

    The r-th smallest of ``n`` observations exceeds the q-quantile with probability
    ``P[Binomial(n, q) < r]``; take the smallest such ``r`` reaching ``1 - alpha`` and the
    upper bound of the bucket it falls in.
    """
    lo, hi = 1, n
    if stats.binom_cdf(n - 1, n, q) < 1 - alpha:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if stats.binom_cdf(mid - 1, n, q) >= 1 - alpha:
            hi = mid
        else:
            lo = mid + 1
    bound = next((b for b, c in buckets if c >= lo), None)
    return bound if bound is not None and math.isfinite(bound) else None


def latency(
    new: Buckets | None,
    base: Buckets | None,
    *,
    limit: float,
    quantile: float,
    max_over_baseline: float | None,
    min_requests: int,
    alpha: float,
    new_name: str = "new colour",
    base_name: str = "live colour",
) -> Decision:
    """Judge the new colour's q-quantile latency against ``limit`` seconds and the baseline."""
    nb_ = normalize(new or [])
    n = total(nb_)
    label = f"p{quantile * 100:g}"
    if not n:
        return Decision(Verdict.INCONCLUSIVE, f"no requests reached {new_name} in the window")
    allowed = 1.0 - quantile
    q_new = stats.histogram_quantile(quantile, nb_)
    v: dict[str, Value] = {"requests": n, "quantile": q_new, "limit": limit}
    bb = normalize(base or [])
    nbase = total(bb)
    base_ok = nbase is not None and nbase >= min_requests
    q_base = stats.histogram_quantile(quantile, bb) if nbase else math.nan
    if nbase:
        v |= {"baseline_requests": nbase, "baseline_quantile": q_base}
    seen = f"{label} {secs(q_new)}"
    live = f"{base_name} {label} {secs(q_base)}" if nbase else ""

    fb = fail_bound(nb_, limit)
    coarse = ""
    if fb is None:
        coarse = f" (no bucket bound at or above {secs(limit)}: cannot count slow requests)"
    elif fb > limit * COARSE:
        coarse = f" (coarse buckets: counting requests above {secs(fb)})"
    if pass_bound(nb_, limit) is None:
        coarse += f" (no bucket bound at or below {secs(limit)}: cannot pass)"
    shared = ""
    if fb is not None:
        k = above(nb_, fb, n) or 0
        p_abs = stats.binom_sf(k, n, allowed)
        v |= {"slow_requests": k, "slow_bound": fb, "p_value": p_abs}
        if p_abs < alpha:
            breach = (
                f"{seen} > {secs(limit)} limit: {k}/{n} requests slower than {secs(fb)}, "
                f"{pct(allowed)} allowed, p={pval(p_abs)}"
            )
            kb = above(bb, fb, nbase) if base_ok and nbase else None
            if kb is None:
                return Decision(Verdict.FAIL, f"{breach} ({base_name} not comparable)", v)
            assert nbase is not None
            p_worse = stats.fisher_greater(k, n, kb, nbase)
            v |= {"baseline_slow_requests": kb, "p_value_vs_baseline": p_worse}
            if p_worse < alpha:
                return Decision(Verdict.FAIL, f"{breach}; {live}, p={pval(p_worse)}", v)
            shared = (
                f"{breach}, but {live} ({kb}/{nbase} slow) is as slow: "
                "a shared failure, not the release"
            )

    if max_over_baseline is not None and base_ok and nbase:
        qb = quantile_upper_bound(bb, nbase, quantile, alpha / 2)
        rel = qb * max_over_baseline if qb is not None else None
        rb = fail_bound(nb_, rel) if rel is not None else None
        if rel is not None and rb is not None:
            kr = above(nb_, rb, n) or 0
            p_rel = stats.binom_sf(kr, n, allowed)
            v |= {"relative_limit": rel, "p_value_relative": p_rel}
            if p_rel < alpha / 2:
                return Decision(
                    Verdict.FAIL,
                    f"{seen} > {max_over_baseline:g} x {live}: {kr}/{n} requests slower "
                    f"than {secs(rb)}, p={pval(p_rel)}",
                    v,
                )
    waiting = not_yet(shared, seen, n, min_requests, v)
    if waiting is not None:
        return waiting
    pb = pass_bound(nb_, limit)
    k_pass = n if pb is None else (above(nb_, pb, n) or 0)
    if k_pass > allowed * n:
        return Decision(
            Verdict.INCONCLUSIVE,
            f"{seen} vs {secs(limit)} limit: not significant yet{coarse}",
            v,
        )
    if max_over_baseline is not None and base_ok and q_new > q_base * max_over_baseline:
        return Decision(
            Verdict.INCONCLUSIVE,
            f"{seen} > {max_over_baseline:g} x {live}, not significant yet",
            v,
        )
    tail = f"; {live}" if live else ""
    return Decision(Verdict.PASS, f"{seen} <= {secs(limit)} limit{tail}", v)
