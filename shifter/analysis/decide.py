"""The decisions, pure functions over counts: error rate, latency and threshold checks.

Error rate (new colour: ``e`` errors of ``n`` requests; live colour: ``eb`` of ``nb``):

- ``FAIL`` on the absolute limit when the exact one-sided binomial test rejects
  ``H0: rate <= max`` (p-value ``P[X >= e | n, max] < alpha``) and, when the live colour
  had at least ``min_requests``, the new colour is also significantly worse than it
  (one-sided Fisher exact test, ``p < alpha``). A significant breach that the live colour
  shares is ``INCONCLUSIVE`` ("the live colour breaches too"): a shared dependency outage is
  not blamed on the release. With too little baseline traffic (the 100% step) the absolute
  test alone decides.
- ``FAIL`` on the relative limit when the new rate is significantly above the live
  colour's rate plus ``max_over_baseline`` points. The live rate is itself uncertain, so it
  is replaced by its one-sided Clopper-Pearson upper bound at ``alpha/2`` and the binomial
  test runs at ``alpha/2``: a healthy release fails with probability at most ``alpha``.
- ``PASS`` only with ``n >= min_requests`` and the observed rate within every limit;
  anything else (including an observed breach that is not significant yet) is
  ``INCONCLUSIVE``.

Latency is judged the same way on counts of slow requests: the q-quantile is within the
limit exactly when at most a fraction ``1 - q`` of requests is slower. A histogram only
tells which bucket a request fell in, so a ``FAIL`` counts requests above the smallest
bucket bound >= the limit (an undercount: conservative against false fails), and a
``PASS`` counts requests above the largest bound <= the limit (an overcount: conservative
against false passes). The relative limit compares the new colour with
``max_over_baseline`` times an upper confidence bound of the live colour's quantile (the
bound of the bucket holding the order statistic that exceeds the quantile with
probability ``1 - alpha/2``).

Thresholds (custom checks, HAProxy's mean) have no counts and so no significance: a value
over the limit fails at once; rely on the step's consecutive-failure limit for noise.

Counts from ``increase()`` are extrapolated floats: they are rounded to whole requests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import stats
from .verdict import Value, Verdict

Buckets = Sequence[tuple[float, float]]  # (upper bound in seconds, cumulative count)


@dataclass(frozen=True)
class Decision:
    """A verdict, its one-line reason and the numbers behind it."""

    verdict: Verdict
    reason: str
    values: dict[str, Value] = field(default_factory=dict)


def pct(x: float) -> str:
    """``0.2`` -> ``20.0%``."""
    return f"{x * 100:.1f}%"


def secs(x: float) -> str:
    """``0.6123`` -> ``612ms``, ``1.5`` -> ``1.50s``."""
    if not math.isfinite(x):
        return str(x)
    return f"{x * 1000:.0f}ms" if abs(x) < 1 else f"{x:.2f}s"


def pval(p: float) -> str:
    """A p-value in two significant digits."""
    return f"{p:.2g}"


def not_yet(shared: str, seen: str, n: int, min_requests: int,
            values: dict[str, Value]) -> Decision | None:
    """INCONCLUSIVE when the live colour breaches too (``shared`` says how) or the window
    holds fewer than ``min_requests``; None when a pass or fail can be judged."""
    if shared:
        return Decision(Verdict.INCONCLUSIVE, shared, values)
    if n < min_requests:
        return Decision(Verdict.INCONCLUSIVE,
                        f"{seen}: only {n} requests, {min_requests} needed", values)
    return None


def _count(x: float | None) -> int | None:
    if x is None or not math.isfinite(x):
        return None
    return max(0, round(x))


def error_rate(
    new: tuple[float | None, float | None] | None,
    base: tuple[float | None, float | None] | None,
    *,
    max_rate: float,
    max_over_baseline: float | None,
    min_requests: int,
    alpha: float,
    new_name: str = "new colour",
    base_name: str = "live colour",
) -> Decision:
    """Judge ``(requests, errors)`` of the new colour against the limits and the baseline."""
    n = _count(new[0]) if new else None
    e = _count(new[1]) if new else None
    if not n:
        return Decision(Verdict.INCONCLUSIVE, f"no requests reached {new_name} in the window")
    if e is None:
        return Decision(Verdict.INCONCLUSIVE, f"no error count for {new_name} in the result")
    e = min(e, n)
    rate = e / n
    v: dict[str, Value] = {"requests": n, "errors": e, "error_rate": rate, "limit": max_rate}
    nb = _count(base[0]) if base else None
    eb = _count(base[1]) if base else None
    base_ok = nb is not None and eb is not None and nb >= min_requests
    brate = None
    if nb is not None and eb is not None and nb > 0:
        eb = min(eb, nb)
        brate = eb / nb
        v |= {"baseline_requests": nb, "baseline_errors": eb, "baseline_error_rate": brate}
    seen = f"error rate {pct(rate)} ({e}/{n})"
    live = f"{base_name} {pct(brate)} ({eb}/{nb})" if brate is not None else ""
    shared = ""

    p_abs = stats.binom_sf(e, n, max_rate)
    v["p_value"] = p_abs
    if p_abs < alpha:
        breach = f"{seen} > {pct(max_rate)} limit, p={pval(p_abs)}"
        if not base_ok:
            why = f"{base_name} has too few requests to compare"
            return Decision(Verdict.FAIL, f"{breach} ({why})", v)
        assert nb is not None and eb is not None
        p_worse = stats.fisher_greater(e, n, eb, nb)
        v["p_value_vs_baseline"] = p_worse
        if p_worse < alpha:
            return Decision(Verdict.FAIL, f"{breach}; {live}, p={pval(p_worse)}", v)
        shared = f"{breach}, but {live} breaches too: a shared failure, not the release"

    if max_over_baseline is not None and base_ok:
        assert nb is not None and eb is not None and brate is not None
        bound = stats.binom_upper_bound(eb, nb, alpha / 2)
        rel_limit = min(1.0, bound + max_over_baseline)
        p_rel = stats.binom_sf(e, n, rel_limit)
        v |= {"relative_limit": rel_limit, "p_value_relative": p_rel}
        if p_rel < alpha / 2:
            return Decision(
                Verdict.FAIL,
                f"{seen} > {live} + {pct(max_over_baseline)} points, p={pval(p_rel)}",
                v,
            )
    waiting = not_yet(shared, seen, n, min_requests, v)
    if waiting is not None:
        return waiting
    if rate > max_rate:
        return Decision(
            Verdict.INCONCLUSIVE,
            f"{seen} > {pct(max_rate)} limit but not significant yet (p={pval(p_abs)})",
            v,
        )
    if max_over_baseline is not None and base_ok and brate is not None \
            and rate > brate + max_over_baseline:
        return Decision(
            Verdict.INCONCLUSIVE,
            f"{seen} > {live} + {pct(max_over_baseline)} points, not significant yet",
            v,
        )
    tail = f"; {live}" if live else ""
    return Decision(Verdict.PASS, f"{seen} <= {pct(max_rate)} limit{tail}", v)


def threshold(
    new: float | None,
    base: float | None,
    *,
    limit: float,
    max_over_baseline: float | None,
    new_name: str = "new colour",
    base_name: str = "live colour",
    what: str = "value",
) -> Decision:
    """Judge one value per colour against ``limit`` (and ``base * max_over_baseline``)."""
    if new is None or math.isnan(new):
        return Decision(Verdict.INCONCLUSIVE, f"no {what} for {new_name} in the window")
    v: dict[str, Value] = {"value": new, "limit": limit}
    has_base = base is not None and math.isfinite(base)
    if has_base:
        v["baseline_value"] = base
    rel = None
    if max_over_baseline is not None and has_base:
        assert base is not None
        rel = base * max_over_baseline
        v["relative_limit"] = rel
    seen = f"{what} {new:.4g}"
    if new > limit:
        if rel is not None and new <= rel:
            return Decision(
                Verdict.INCONCLUSIVE,
                f"{seen} > {limit:.4g} limit, but {base_name} is at {base:.4g} too: shared",
                v,
            )
        return Decision(Verdict.FAIL, f"{seen} > {limit:.4g} limit", v)
    if rel is not None and new > rel:
        return Decision(
            Verdict.INCONCLUSIVE,
            f"{seen} > {max_over_baseline:g} x {base_name}'s {base:.4g}",
            v,
        )
    return Decision(Verdict.PASS, f"{seen} <= {limit:.4g} limit", v)
