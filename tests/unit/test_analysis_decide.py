"""Error-rate and threshold decisions: every verdict path, and the false-fail rate."""

from __future__ import annotations

import json
import math
import random

import pytest

from shifter.analysis.decide import error_rate, threshold
from shifter.analysis.verdict import CheckResult, Verdict, combine

LIMITS = {"max_rate": 0.01, "max_over_baseline": 0.01, "min_requests": 50, "alpha": 0.01}
HEALTHY_BASE = (1000.0, 2.0)


def judge(new, base=HEALTHY_BASE, **kw):  # type: ignore[no-untyped-def]
    return error_rate(new, base, **{**LIMITS, **kw})


@pytest.mark.parametrize(
    "new",
    [None, (None, None), (math.nan, 0.0), (0.0, 0.0), (0.4, 0.0), (math.inf, 1.0)],
)
def test_no_data_is_inconclusive(new) -> None:  # type: ignore[no-untyped-def]
    d = judge(new)
    assert d.verdict is Verdict.INCONCLUSIVE
    assert "no requests" in d.reason


def test_missing_error_count_is_inconclusive() -> None:
    assert judge((100.0, None)).verdict is Verdict.INCONCLUSIVE
    assert judge((100.0, math.nan)).verdict is Verdict.INCONCLUSIVE


def test_too_few_requests_without_errors_is_inconclusive() -> None:
    d = judge((49.0, 0.0))
    assert d.verdict is Verdict.INCONCLUSIVE
    assert "only 49 requests, 50 needed" in d.reason


def test_enough_healthy_requests_pass() -> None:
    d = judge((50.0, 0.0))
    assert d.verdict is Verdict.PASS
    assert d.reason.startswith("error rate 0.0% (0/50) <= 1.0% limit")


def test_noisy_but_healthy_is_not_fail() -> None:
    # one error in 60 at a 1% limit: 1.7% observed, but p = 0.45
    d = judge((60.0, 1.0))
    assert d.verdict is Verdict.INCONCLUSIVE
    assert "not significant yet" in d.reason
    assert d.values["p_value"] == pytest.approx(1 - 0.99**60)


def test_significant_breach_fails_with_counts_and_p_value() -> None:
    d = judge((25.0, 5.0), (500.0, 0.0))
    assert d.verdict is Verdict.FAIL
    assert d.reason.startswith("error rate 20.0% (5/25) > 1.0% limit, p=4.5e-06")
    assert "live colour 0.0% (0/500)" in d.reason
    assert d.values["errors"] == 5 and d.values["requests"] == 25


def test_breach_without_baseline_still_fails() -> None:
    d = judge((25.0, 5.0), None)
    assert d.verdict is Verdict.FAIL
    assert "too few requests to compare" in d.reason


def test_breach_with_thin_baseline_fails_on_absolute_test_alone() -> None:
    assert judge((25.0, 5.0), (10.0, 5.0)).verdict is Verdict.FAIL


def test_shared_outage_is_inconclusive_not_fail() -> None:
    d = judge((100.0, 30.0), (1000.0, 300.0))
    assert d.verdict is Verdict.INCONCLUSIVE
    assert "breaches too" in d.reason


def test_worse_than_a_failing_baseline_fails() -> None:
    d = judge((1000.0, 600.0), (1000.0, 300.0))
    assert d.verdict is Verdict.FAIL


def test_relative_breach_fails_under_a_lax_absolute_limit() -> None:
    d = judge((1000.0, 100.0), (1000.0, 5.0), max_rate=0.5)
    assert d.verdict is Verdict.FAIL
    assert "live colour 0.5% (5/1000) + 1.0% points" in d.reason
    assert d.values["p_value_relative"] is not None


def test_relative_breach_not_significant_is_inconclusive() -> None:
    d = judge((100.0, 3.0), (1000.0, 1.0), max_rate=0.5)
    assert d.verdict is Verdict.INCONCLUSIVE


def test_relative_limit_off_passes_within_absolute() -> None:
    assert (
        judge((100.0, 3.0), (1000.0, 1.0), max_rate=0.5, max_over_baseline=None).verdict
        is Verdict.PASS
    )


def test_fractional_extrapolated_counts_are_rounded() -> None:
    d = judge((59.7, 0.4))
    assert d.values["requests"] == 60 and d.values["errors"] == 0
    assert judge((10.0, 12.0), None).values["errors"] == 10  # errors never exceed requests


def _binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


@pytest.mark.parametrize("true_rate", [0.005, 0.01])
def test_false_fail_rate_of_healthy_releases_is_at_most_alpha(true_rate: float) -> None:
    """Healthy new colours at half the limit and AT the limit: fails must stay <= alpha."""
    rng = random.Random(20261125)
    trials, fails = 1500, 0
    for _ in range(trials):
        n = rng.randint(20, 400)
        new = (float(n), float(_binomial(rng, n, true_rate)))
        base = (1000.0, float(_binomial(rng, 1000, true_rate)))
        fails += judge(new, base).verdict is Verdict.FAIL
    assert fails / trials <= 0.01 + 0.006  # alpha plus three binomial standard errors


def test_real_breach_is_caught_most_of_the_time() -> None:
    rng = random.Random(7)
    caught = sum(
        judge((25.0, float(_binomial(rng, 25, 0.2))), (500.0, 1.0)).verdict is Verdict.FAIL
        for _ in range(300)
    )
    assert caught / 300 > 0.8


def test_threshold_verdicts() -> None:
    kw = {"limit": 0.5, "max_over_baseline": None}
    assert threshold(None, 0.1, **kw).verdict is Verdict.INCONCLUSIVE
    assert threshold(math.nan, 0.1, **kw).verdict is Verdict.INCONCLUSIVE
    assert threshold(0.6, 0.1, **kw).verdict is Verdict.FAIL
    assert threshold(0.5, 0.1, **kw).verdict is Verdict.PASS
    shared = threshold(0.6, 0.55, limit=0.5, max_over_baseline=1.5)
    assert shared.verdict is Verdict.INCONCLUSIVE and "shared" in shared.reason
    assert threshold(0.6, 0.3, limit=0.5, max_over_baseline=1.5).verdict is Verdict.FAIL
    assert threshold(0.4, 0.1, limit=0.5, max_over_baseline=1.5).verdict is Verdict.INCONCLUSIVE
    assert threshold(0.4, math.nan, limit=0.5, max_over_baseline=1.5).verdict is Verdict.PASS


def test_combine() -> None:
    def r(v: Verdict) -> CheckResult:
        return CheckResult("c", v, "")

    assert combine([]) is Verdict.INCONCLUSIVE
    assert combine([r(Verdict.PASS), r(Verdict.PASS)]) is Verdict.PASS
    assert combine([r(Verdict.PASS), r(Verdict.INCONCLUSIVE)]) is Verdict.INCONCLUSIVE
    assert combine([r(Verdict.INCONCLUSIVE), r(Verdict.FAIL), r(Verdict.PASS)]) is Verdict.FAIL
    assert Verdict.FAIL.is_fail and Verdict.PASS.is_pass and Verdict.INCONCLUSIVE.is_inconclusive


def test_result_is_json_serializable_with_nan_as_null() -> None:
    res = CheckResult("latency-p99", Verdict.INCONCLUSIVE, "x", "q", {"quantile": math.nan, "n": 3})
    assert json.loads(json.dumps(res.to_dict(), allow_nan=False))["values"] == {
        "quantile": None,
        "n": 3,
    }
