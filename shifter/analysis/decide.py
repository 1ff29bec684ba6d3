"""The error-rate and threshold decisions, pure functions over counts and values.

Error rate: ``e`` errors of ``n`` new-colour requests this step, judged with the anytime-
valid tests of :mod:`.rates` (breach, shared, relative breach, pass) against
``max_error_rate`` and the live colour (``eb`` of ``nb`` over the same window) or, when
the live colour has fewer than ``min_requests`` there (the 100% step), the baseline
recorded before the first weight moved.

Thresholds (custom checks, HAProxy's mean) have no counts and so no significance: a value
over the limit fails at once unless the live colour's own value is over the limit too
(shared); rely on the step's consecutive-failure limit for noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .rates import Counts, Decision, Ref, Segment, judge, pct
from .verdict import Cause, Value, Verdict

Buckets = Sequence[tuple[float, float]]  # (upper bound in seconds, cumulative count)
REF_SHARE = 0.25  # the live colour's and the baseline's share of the relative test's alpha

__all__ = ["Buckets", "Decision", "error_rate", "pct", "ref_for", "secs", "threshold"]


def secs(x: float) -> str:
    """``0.6123`` -> ``612ms``, ``1.5`` -> ``1.50s``."""
    if not math.isfinite(x):
        return str(x)
    return f"{x * 1000:.0f}ms" if abs(x) < 1 else f"{x:.2f}s"


def count(x: float | None) -> int | None:
    """A whole, non-negative request count, or None for a missing or non-finite value."""
    if x is None or not math.isfinite(x):
        return None
    return max(0, round(x))


def ref_for(live: Segment | None, live_prior: Sequence[Segment], baseline: Segment | None,
            *, min_requests: int, base_name: str, promote: bool = False) -> Ref | None:
    """The live colour over this window if it has ``min_requests`` there, else the recorded
    baseline, else None. At the promotion (100%, and the watch after it) the recorded
    baseline whenever there is one: the live colour gets no routed traffic there, only
    residue (requests in flight at the change, probes), and 0 errors in its 24 leftover
    requests once held a healthy release back from its promotion in the lab."""
    has_baseline = baseline is not None and baseline[0] > 0
    if live is not None and live[0] >= min_requests and not (promote and has_baseline):
        return Ref(base_name, live, (*live_prior, live), REF_SHARE)
    if baseline is not None and baseline[0] > 0:
        return Ref(f"{base_name} before the rollout", baseline, (baseline,), REF_SHARE)
    return None


def error_rate(
    new: tuple[float | None, float | None] | None,
    base: tuple[float | None, float | None] | None,
    *,
    max_rate: float,
    max_over_baseline: float | None,
    min_requests: int,
    alpha: float,
    alpha_relative: float | None = None,
    prior: Sequence[Segment] = (),
    live_prior: Sequence[Segment] = (),
    baseline: Segment | None = None,
    pass_tolerance: float = 1.5,
    promote: bool = False,
    new_name: str = "new colour",
    base_name: str = "live colour",
) -> Decision:
    """Judge ``(requests, errors)`` of the new colour against the limits and the ref."""
    n = count(new[0]) if new else None
    e = count(new[1]) if new else None
    if not n:
        return Decision(Verdict.INCONCLUSIVE, f"no requests reached {new_name} in the window",
                        {}, Cause.NO_DATA)
    if e is None:
        return Decision(Verdict.INCONCLUSIVE, f"no error count for {new_name} in the result",
                        {}, Cause.NO_DATA)
    e = min(e, n)
    nb = count(base[0]) if base else None
    eb = count(base[1]) if base else None
    live = (nb, min(eb, nb)) if nb is not None and eb is not None else None
    ref = ref_for(live, live_prior, baseline, min_requests=min_requests, base_name=base_name,
                  promote=promote)
    d = judge(Counts((n, e), (n, e), tuple(prior), ref), limit=max_rate, what="error rate",
              unit="errors", max_over_baseline=max_over_baseline, min_requests=min_requests,
              alpha_abs=alpha, alpha_rel=alpha if alpha_relative is None else alpha_relative,
              pass_tolerance=pass_tolerance, new_name=new_name, promote=promote)
    v = dict(d.values)
    v |= {"errors": e, "error_rate": e / n}
    if live is not None:
        v |= {"live_requests": live[0], "live_errors": live[1]}
    return Decision(d.verdict, d.reason, v, d.cause)


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
        return Decision(Verdict.INCONCLUSIVE, f"no {what} for {new_name} in the window",
                        {}, Cause.NO_DATA)
    v: dict[str, Value] = {"value": new, "limit": limit}
    has_base = base is not None and math.isfinite(base)
    if has_base:
        v["baseline_value"] = base
    rel = None
    if max_over_baseline is not None and has_base:
        assert base is not None
        rel = base * max_over_baseline
        v["relative_limit"] = rel
    seen = f"{new_name} {what} {new:.4g}"
    if rel is not None and new > rel and new > limit:
        return Decision(Verdict.FAIL, f"{seen} > {limit:.4g} limit and > {max_over_baseline:g}"
                        f" x {base_name}'s {base:.4g} = {rel:.4g}", v, Cause.BREACH)
    if new > limit:
        if has_base and base is not None and base > limit:
            return Decision(Verdict.INCONCLUSIVE, (
                f"{seen} > {limit:.4g} limit, but {base_name}'s own {base:.4g} > "
                f"{limit:.4g} too: a shared failure, not the release"), v, Cause.SHARED)
        tail = f"; {base_name} {base:.4g} <= {limit:.4g}" if has_base else ""
        return Decision(Verdict.FAIL, f"{seen} > {limit:.4g} limit{tail}", v, Cause.BREACH)
    if rel is not None and new > rel:
        return Decision(Verdict.INCONCLUSIVE, (
            f"{seen} > {max_over_baseline:g} x {base_name}'s {base:.4g} = {rel:.4g}"),
            v, Cause.NOT_SIGNIFICANT_YET)
    return Decision(Verdict.PASS, f"{seen} <= {limit:.4g} limit", v, Cause.WITHIN_LIMITS)
