"""Latency decisions on histogram bucket counts."""

from __future__ import annotations

import math

from shifter.analysis.latency import latency, normalize, quantile_upper_bound
from shifter.analysis.verdict import Cause, Verdict

INF = math.inf
BOUNDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, INF)
KW = {"limit": 0.5, "quantile": 0.99, "max_over_baseline": None, "min_requests": 50, "alpha": 0.01}


def hist(**per_bucket: int) -> list[tuple[float, float]]:
    """Cumulative buckets from per-bucket counts keyed like b0_05=10, b1=3, binf=1."""
    counts = {
        float(k[1:].replace("_", ".")) if k != "binf" else INF: v for k, v in per_bucket.items()
    }
    out, running = [], 0.0
    for b in BOUNDS:
        running += counts.get(b, 0)
        out.append((b, running))
    return out


def test_no_requests_is_inconclusive() -> None:
    assert latency(None, None, **KW).verdict is Verdict.INCONCLUSIVE
    assert latency(hist(), hist(b0_05=100), **KW).verdict is Verdict.INCONCLUSIVE
    assert latency([(0.1, 5.0)], None, **KW).verdict is Verdict.INCONCLUSIVE  # no +Inf


def test_one_slow_outlier_of_25_is_not_fail() -> None:
    d = latency(hist(b0_05=24, b1=1), hist(b0_05=1000), **KW)
    assert d.verdict is Verdict.INCONCLUSIVE
    assert d.values["slow_requests"] == 1 and d.values["requests"] == 25


def test_all_slow_fails_with_counts() -> None:
    d = latency(hist(b1=25), hist(b0_05=1000), **KW)
    assert d.verdict is Verdict.FAIL
    assert d.cause is Cause.BREACH
    assert d.reason.startswith(
        "new colour p99 995ms: requests slower than 500ms 100.0% (25/25 slow) > 1.0% limit")


def test_healthy_passes_and_reports_quantile() -> None:
    d = latency(hist(b0_05=180, b0_1=120), hist(b0_05=1000), **KW)
    assert d.verdict is Verdict.PASS
    assert d.values["quantile"] is not None and 0.05 < d.values["quantile"] <= 0.1


def test_too_few_fast_requests_is_inconclusive() -> None:
    assert latency(hist(b0_05=20), None, **KW).verdict is Verdict.INCONCLUSIVE


def test_shared_slowness_is_inconclusive() -> None:
    d = latency(hist(b0_05=50, b1=50), hist(b0_05=500, b1=500), **KW)
    assert d.verdict is Verdict.INCONCLUSIVE
    assert "shared" in d.reason


def test_slower_than_a_slow_baseline_fails() -> None:
    assert latency(hist(b1=100), hist(b0_05=500, b1=500), **KW).verdict is Verdict.FAIL


def test_coarse_buckets_say_so() -> None:
    coarse = [(0.1, 97.0), (1.0, 98.0), (INF, 100.0)]
    d = latency(coarse, None, **KW)
    assert d.verdict is Verdict.INCONCLUSIVE
    assert "coarse buckets: counting requests above 1.00s" in d.reason


def test_no_bound_above_limit_cannot_fail() -> None:
    d = latency([(0.1, 0.0), (INF, 100.0)], None, **KW)
    assert d.verdict is Verdict.INCONCLUSIVE
    assert "cannot count slow requests" in d.reason


def test_relative_latency_breach_fails() -> None:
    kw = {**KW, "limit": 2.5, "max_over_baseline": 1.5}
    d = latency(hist(b0_25=200), hist(b0_05=5000), **kw)
    assert d.verdict is Verdict.FAIL and d.cause is Cause.RELATIVE_BREACH
    assert "> 1.5 x live colour's p99 upper bound 50ms: 200/200 requests slower than 100ms" \
        in d.reason


def test_relative_within_ratio_passes() -> None:
    kw = {**KW, "limit": 2.5, "max_over_baseline": 1.5}
    assert latency(hist(b0_05=400), hist(b0_05=5000), **kw).verdict is Verdict.PASS


def test_normalize_merges_and_makes_monotonic() -> None:
    assert normalize([(INF, 5.0), (0.1, 6.0), (0.1, 1.0), (0.2, math.nan)]) == [
        (0.1, 7.0),
        (INF, 7.0),
    ]


def test_quantile_upper_bound_is_conservative() -> None:
    # 1000 requests, 15 above 0.1: the p99 may be above 0.1 -> bound is the next bucket
    buckets = [(0.1, 985.0), (0.5, 1000.0), (INF, 1000.0)]
    assert quantile_upper_bound([buckets], 0.99, 0.005) == 0.5
    # 40 of 5000 slower than 0.1 s: 0.8% observed, but 1% is not excluded yet
    assert quantile_upper_bound([[(0.1, 4960.0), (0.5, 5000.0), (INF, 5000.0)]], 0.99,
                                0.005) == 0.5
    assert quantile_upper_bound([[(0.1, 5000.0), (INF, 5000.0)]], 0.99, 0.005) == 0.1
    assert quantile_upper_bound([[(0.1, 5.0), (INF, 10.0)]], 0.99, 0.005) is None


def _h(n: float, slow: float) -> list[tuple[float, float]]:
    return [(0.05, n - slow), (0.1, n - slow), (0.25, n), (INF, n)]


def test_the_relative_test_carries_its_evidence_across_steps() -> None:
    # 6 of 150 requests slower than 1.5 x the live colour's p99 bound: not enough in one
    # step, enough over three steps with the same counts (one anytime test per rollout).
    live = [(0.05, 5000.0), (0.1, 5000.0), (0.25, 5000.0), (INF, 5000.0)]
    kw = {**KW, "limit": 0.25, "max_over_baseline": 1.5}
    alone = latency(_h(150, 6), live, **kw)
    assert alone.verdict is Verdict.PASS
    carried = latency(_h(150, 6), live, prior_buckets=[_h(150, 6)] * 2,
                      live_prior_buckets=[live] * 2, **kw)
    assert carried.verdict is Verdict.FAIL and carried.cause is Cause.RELATIVE_BREACH
    assert "6/150 requests slower than 100ms (18/450 over the rollout)" in carried.reason
