"""The count decision shared by error-rate and latency checks. Pure.

A check counts *events* among requests: errors, or requests slower than the latency
limit. ``limit`` is the allowed event rate (``max_error_rate``, or ``1 - quantile``).
The new colour's evidence is the current step's counts plus the earlier steps'
(``prior``, see :mod:`.sequential`); the reference ("ref") is the live colour measured
over the same window when it has at least ``min_requests`` there, otherwise the baseline
recorded before the first weight moved (the 100% step), otherwise nothing.

- **breach** (``FAIL``): the new colour's e-value against ``rate <= limit`` reaches
  ``1/alpha_abs``, unless the breach is **shared**: the ref's *own* e-value against the
  same limit reaches ``1/alpha_abs`` too (the live colour breaches; or, for the recorded
  baseline, breached before the rollout) and the new colour is not worse than the ref
  by more than the relative allowance (0 when ``max_over_baseline`` is unset).
- **relative_breach** (``FAIL``): with ``max_over_baseline`` (points) and a ref, the new
  colour's confidence-sequence lower bound (``alpha_rel / 2``) is above the ref's upper
  bound (``alpha_rel / 4`` for the live colour, ``alpha_rel / 4`` for the baseline) plus
  the allowance. A release within its allowance is failed this way with probability at
  most ``alpha_rel``.
- **within_limits** (``PASS``): at least ``min_requests`` new-colour requests in this
  step, and the upper end of a 1 - :data:`PASS_ALPHA` confidence sequence over the
  release's counts so far (earlier steps and this one) at or below the pass limit
  ``(1 + pass_tolerance) * max(limit, ref rate)``: a release no worse than the live
  colour is (or was, before the rollout) passes even when both sit at the limit. At the
  step that promotes (``promote``, the 100% step) the bound is at 1 - :data:`PROMOTE_ALPHA`
  and the tolerance at most :data:`PROMOTE_TOLERANCE`: a release at or above
  ``(1 + 0.75) * max(limit, ref rate)`` is promoted with probability at most 5% over the
  whole rollout, however often it is looked at. With a relative limit the release must
  also not be worse than the ref's rate plus the allowance: below 100% not shown worse
  (the sequence's lower end), at the promotion its observed rate (the rollout's).
- otherwise ``INCONCLUSIVE``: ``too_few_requests`` or ``not_significant_yet``.

False reverts: a release whose rate is at most ``limit`` and at most the ref's plus the
allowance is failed with probability at most ``alpha_abs + alpha_rel``, at any number of
looks, for the whole rollout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import sequential as seq
from .verdict import Cause, Value, Verdict

PASS_ALPHA = 0.5  # a release above its pass limit passes a step with at most this chance
# The promotion (the 100% step) needs more: the release's whole rollout below a tighter
# limit at 95% confidence, so a release at twice its limit is rarely let through.
PROMOTE_ALPHA = 0.05
PROMOTE_TOLERANCE = 0.75

Segment = seq.Segment


@dataclass(frozen=True)
class Decision:
    """A verdict, its machine-readable cause, its one-line reason and the numbers behind it."""

    verdict: Verdict
    reason: str
    values: dict[str, Value] = field(default_factory=dict)
    cause: Cause = Cause.NOT_SIGNIFICANT_YET


@dataclass(frozen=True)
class Ref:
    """The colour the new one is compared with: the live colour now, or its baseline."""

    name: str  # "shop-blue" or "shop-blue before the rollout"
    counts: Segment
    segments: tuple[Segment, ...]  # all the ref's evidence for its confidence sequence
    alpha_share: float  # the share of alpha_rel its bound uses (1/4)


@dataclass(frozen=True)
class Counts:
    """One check's counts, ready to judge."""

    new: Segment  # this step's (requests, events) counted for a fail (an undercount)
    new_pass: Segment  # ... counted for a pass (an overcount; = new for error rates)
    prior: tuple[Segment, ...] = ()  # earlier steps' new-colour counts
    ref: Ref | None = None
    prior_pass: tuple[Segment, ...] | None = None  # ... counted for a pass (None: = prior)


def pct(x: float) -> str:
    """``0.2`` -> ``20.0%``."""
    return f"{x * 100:.1f}%" if x >= 0.001 or x == 0 else f"{x * 100:.2g}%"


def ev(log_e: float) -> str:
    """An e-value for a reason: ``412``, ``0.43``, ``2.1e+05``."""
    if log_e > 700:
        return "inf"
    return f"{math.exp(log_e):.3g}"


def judge(
    c: Counts,
    *,
    limit: float,
    what: str,
    unit: str,
    max_over_baseline: float | None,
    min_requests: int,
    alpha_abs: float,
    alpha_rel: float,
    pass_tolerance: float,
    new_name: str,
    promote: bool = False,
) -> Decision:
    """The verdict on counts (see the module docstring)."""
    n, k = c.new
    v: dict[str, Value] = {"requests": n, "events": k, "rate": k / n if n else None,
                           "limit": limit, "prior_requests": sum(s[0] for s in c.prior),
                           "prior_events": sum(s[1] for s in c.prior)}
    seen = f"{new_name} {what} {pct(k / n)} ({k}/{n} {unit})"
    segs = (*c.prior, c.new)
    level = math.log(1 / alpha_abs)
    log_e = seq.log_e_above(segs, limit)
    v |= {"log_e_value": log_e, "log_e_threshold": level}
    ref = c.ref
    allowance = max_over_baseline or 0.0
    ref_txt = ""
    rel_fail = False
    if ref is not None:
        nb, kb = ref.counts
        ref_rate = kb / nb if nb else 0.0
        ref_txt = f"{ref.name} {pct(ref_rate)} ({kb}/{nb})"
        v |= {"baseline_requests": nb, "baseline_events": kb, "baseline_rate": ref_rate}
        # lower <= observed and observed <= upper: no relative breach is possible unless
        # the observed rates differ by more than the allowance (skips two bisections)
        pooled_new = sum(x[1] for x in segs) / max(1, sum(x[0] for x in segs))
        pooled_ref = (sum(x[1] for x in ref.segments)
                      / max(1, sum(x[0] for x in ref.segments)))
        if pooled_new > pooled_ref + allowance:
            lo_new = seq.lower_bound(segs, alpha_rel / 2, limit, wide=True)
            hi_ref = seq.upper_bound(ref.segments, alpha_rel * ref.alpha_share, limit,
                                     wide=True)
            v |= {"lower_bound": lo_new, "baseline_upper_bound": hi_ref}
            rel_fail = lo_new > hi_ref + allowance
    if log_e >= level:
        breach = (f"{seen} > {pct(limit)} limit: e-value {ev(log_e)} >= {ev(level)} "
                  f"(1/alpha, alpha {alpha_abs:.3g})")
        if ref is None:
            return Decision(Verdict.FAIL, f"{breach}; no live colour traffic to compare",
                            v, Cause.BREACH)
        ref_log_e = seq.log_e_above([ref.counts], limit)
        v["baseline_log_e_value"] = ref_log_e
        if ref_log_e < level or rel_fail:
            why = (f"{ref.name}'s own e-value {ev(ref_log_e)} < {ev(level)}: not shared"
                   if ref_log_e < level else f"worse than {ref.name} + {pct(allowance)}")
            return Decision(Verdict.FAIL, f"{breach}; {ref_txt}, {why}", v, Cause.BREACH)
    if ref is not None and max_over_baseline is not None and rel_fail:
        return Decision(Verdict.FAIL, (
            f"{seen} > {ref_txt} + {pct(allowance)} points: lower bound "
            f"{pct(v['lower_bound'] or 0)} > {ref.name}'s upper bound "
            f"{pct(v['baseline_upper_bound'] or 0)} + {pct(allowance)} (confidence sequences "
            f"at alpha {alpha_rel / 2:.2g} and {alpha_rel * ref.alpha_share:.2g})"),
            v, Cause.RELATIVE_BREACH)
    if log_e >= level:
        assert ref is not None
        return Decision(Verdict.INCONCLUSIVE, (
            f"{breach}, but {ref_txt} breaches too (its e-value {ev(ref_log_e)} >= "
            f"{ev(level)}): a shared failure, not the release"), v, Cause.SHARED)
    npass, kpass = c.new_pass
    if npass < min_requests:
        return Decision(Verdict.INCONCLUSIVE, (
            f"{seen}: only {npass} requests, {min_requests} needed; e-value {ev(log_e)} "
            f"< {ev(level)}"), v, Cause.TOO_FEW_REQUESTS)
    ref_rate_now = (ref.counts[1] / ref.counts[0]) if ref and ref.counts[0] else 0.0
    p_alpha, tol = ((PROMOTE_ALPHA, min(pass_tolerance, PROMOTE_TOLERANCE)) if promote
                    else (PASS_ALPHA, pass_tolerance))
    pass_limit = min(1.0, (1 + tol) * max(limit, ref_rate_now))
    pseg = (*(c.prior if c.prior_pass is None else c.prior_pass), c.new_pass)
    pn, pk = sum(x[0] for x in pseg), sum(x[1] for x in pseg)
    upper = seq.upper_bound(pseg, p_alpha, limit) if pk / pn <= pass_limit else 1.0
    v |= {"upper_bound": upper, "pass_limit": pass_limit, "pass_alpha": p_alpha,
          "pass_requests": pn, "pass_events": pk}
    basis = f"(1 + {tol:g}) x max({pct(limit)} limit" + (f", {ref_txt})" if ref else ")")
    over = f"{pk}/{pn} over the rollout" if c.prior else "this step"
    over_rel = (max_over_baseline is not None and ref is not None
                and pk / pn > ref_rate_now + allowance)
    rel_txt = f"{pct(pk / pn)} ({over}) > {ref_txt} + {pct(allowance)} points"
    if over_rel and not promote:
        # below 100% a step only decides to look at more traffic: it is held back only by
        # evidence (its 1 - PASS_ALPHA bound) that the release is worse than the reference
        # plus the allowance, not by a point estimate that chance put above it
        lower = seq.lower_bound(pseg, p_alpha, limit)
        v["pass_lower_bound"] = lower
        over_rel = lower > ref_rate_now + allowance
        rel_txt = (f"lower bound {pct(lower)} ({1 - p_alpha:.0%}, {over}) > {ref_txt} + "
                   f"{pct(allowance)} points")
    which = "promotion" if promote else "pass"
    cs = f"{1 - p_alpha:.0%} confidence sequence over {over}"
    if upper <= pass_limit and not over_rel:
        return Decision(Verdict.PASS, (
            f"{seen}: upper bound {pct(upper)} <= {which} limit {pct(pass_limit)} = {basis} "
            f"({cs})"), v, Cause.WITHIN_LIMITS)
    why = (rel_txt if over_rel
           else f"upper bound {pct(upper)} > {which} limit {pct(pass_limit)} = {basis} ({cs})")
    return Decision(Verdict.INCONCLUSIVE, (
        f"{seen}: not significant yet: e-value {ev(log_e)} < {ev(level)}, {why}"),
        v, Cause.NOT_SIGNIFICANT_YET)


def segments_of(prior: Sequence[Segment], current: Segment) -> tuple[Segment, ...]:
    """``prior`` plus ``current``."""
    return (*prior, current)
