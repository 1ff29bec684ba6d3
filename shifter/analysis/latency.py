"""The latency decision on histogram bucket counts (see :mod:`shifter.analysis.decide`).

``buckets`` are ``(upper bound in seconds, cumulative count)`` pairs as Prometheus
histograms give them, ``+Inf`` included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from . import sequential as seq
from . import stats
from .decide import REF_SHARE, Buckets, ref_for, secs
from .rates import Counts, Decision, Segment, ev, judge
from .verdict import Cause, Verdict

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


def segments_above(steps: Sequence[Buckets], bound: float) -> list[Segment]:
    """Per step ``(requests, slower than bound)``; a step whose buckets lack ``bound`` is
    left out (which steps is decided by the bucket layout, not by the counts)."""
    out: list[Segment] = []
    for b in steps:
        n = total(b)
        k = above(b, bound, n) if n else None
        if n and k is not None:
            out.append((n, k))
    return out


def quantile_upper_bound(steps: Sequence[Buckets], q: float, alpha: float) -> float | None:
    """A bucket bound the true q-quantile is below at every look with probability
    ``>= 1 - alpha``, or None: the smallest finite bound (of the last histogram) whose share
    of slower requests has a confidence-sequence upper end (at ``alpha`` over the number of
    bounds, a union bound) at or below ``1 - q``. ``steps`` are per-step histograms (the
    last is the current step's); their evidence is multiplied."""
    finite = sorted(b for b, _ in (steps[-1] if steps else []) if math.isfinite(b))
    if not finite or not any(total(s) for s in steps):
        return None
    a = alpha / len(finite)
    for b in finite:
        segs = segments_above(steps, b)
        if segs and seq.upper_bound(segs, a, 1.0 - q) <= 1.0 - q:
            return b
    return None


def latency(
    new: Buckets | None,
    base: Buckets | None,
    *,
    limit: float,
    quantile: float,
    max_over_baseline: float | None,
    min_requests: int,
    alpha: float,
    alpha_relative: float | None = None,
    prior: Sequence[Segment] = (),
    live_prior: Sequence[Segment] = (),
    baseline: Buckets | None = None,
    pass_tolerance: float = 1.5,
    prior_pass: Sequence[Segment] | None = None,
    promote: bool = False,
    prior_buckets: Sequence[Buckets] = (),
    live_prior_buckets: Sequence[Buckets] = (),
    new_name: str = "new colour",
    base_name: str = "live colour",
) -> Decision:
    """Judge the new colour's q-quantile latency against ``limit`` seconds and the ref.

    ``prior`` and ``live_prior`` are earlier steps' ``(requests, slower than the fail
    bound)``, ``prior_pass`` the new colour's ``(requests, slower than the pass bound)``
    (default: ``prior``); ``baseline`` the live colour's buckets before the rollout;
    ``prior_buckets`` and ``live_prior_buckets`` the earlier steps' histograms (for the
    relative test, which carries its evidence across steps like the others).
    """
    nb_ = normalize(new or [])
    n = total(nb_)
    label = f"p{quantile * 100:g}"
    if not n:
        return Decision(Verdict.INCONCLUSIVE, f"no requests reached {new_name} in the window",
                        {}, Cause.NO_DATA)
    allowed = 1.0 - quantile
    a_rel = alpha if alpha_relative is None else alpha_relative
    q_new = stats.histogram_quantile(quantile, nb_)
    fb = fail_bound(nb_, limit)
    pb = pass_bound(nb_, limit)
    notes = ""
    if fb is None:
        notes = f" (no bucket bound at or above {secs(limit)}: cannot count slow requests)"
    elif fb > limit * COARSE:
        notes = f" (coarse buckets: counting requests above {secs(fb)})"
    if pb is None:
        notes += f" (no bucket bound at or below {secs(limit)}: cannot pass)"
    k_fail = (above(nb_, fb, n) or 0) if fb is not None else 0
    k_pass = n if pb is None else (above(nb_, pb, n) or 0)
    bb = normalize(base or [])
    nbase = total(bb)
    live = (nbase, above(bb, fb, nbase) or 0) if nbase and fb is not None else None
    base_b = normalize(baseline or [])
    nbl = total(base_b)
    recorded = (nbl, above(base_b, fb, nbl) or 0) if nbl and fb is not None else None
    ref = ref_for(live, live_prior, recorded, min_requests=min_requests, base_name=base_name,
                  promote=promote)
    what = f"{label} {secs(q_new)}: requests slower than {secs(fb) if fb else secs(limit)}"
    counts = Counts((n, k_fail), (n, k_pass), tuple(prior), ref,
                    None if prior_pass is None else tuple(prior_pass))
    d = judge(counts, limit=allowed, what=what,
              unit="slow", max_over_baseline=None, min_requests=min_requests,
              alpha_abs=alpha, alpha_rel=a_rel, pass_tolerance=pass_tolerance,
              new_name=new_name, promote=promote)
    v = dict(d.values)
    v |= {"quantile": q_new, "latency_limit": limit, "slow_requests": k_fail,
          "slow_bound": fb, "pass_slow": k_pass}
    if nbase:
        v |= {"baseline_quantile": stats.histogram_quantile(quantile, bb)}
    if live is not None:
        v |= {"live_requests": live[0], "live_slow": live[1]}
    if d.verdict is Verdict.FAIL or max_over_baseline is None or ref is None or fb is None:
        return Decision(d.verdict, d.reason + (notes if d.verdict is not Verdict.FAIL else ""),
                        v, d.cause)
    ref_steps = ([*map(normalize, live_prior_buckets), bb] if ref.name == base_name
                 else [base_b])
    qb = quantile_upper_bound(ref_steps, quantile, a_rel * REF_SHARE)
    rel = qb * max_over_baseline if qb is not None else None
    rb = fail_bound(nb_, rel) if rel is not None else None
    if rel is not None and rb is not None:
        kr = above(nb_, rb, n) or 0
        a_new = a_rel / 2 / len([b for b, _ in nb_ if math.isfinite(b)])
        segs = segments_above([*map(normalize, prior_buckets), nb_], rb)
        log_e = seq.log_e_above(segs, allowed)
        pooled = (f" ({sum(x[1] for x in segs)}/{sum(x[0] for x in segs)} over the rollout)"
                  if len(segs) > 1 else "")
        v |= {"relative_limit": rel, "log_e_value_relative": log_e}
        if log_e >= math.log(1 / a_new):
            return Decision(Verdict.FAIL, (
                f"{new_name} {label} {secs(q_new)} > {max_over_baseline:g} x {ref.name}'s "
                f"{label} upper bound {secs(qb or 0)}: {kr}/{n} requests slower than "
                f"{secs(rb)}{pooled}, e-value {ev(log_e)} >= {ev(math.log(1 / a_new))}"),
                v, Cause.RELATIVE_BREACH)
    return Decision(d.verdict, d.reason + notes, v, d.cause)
