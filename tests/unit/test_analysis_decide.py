"""Error-rate and threshold decisions: every verdict path, and the false-fail rate."""

from __future__ import annotations

import json
import math
import random

import pytest

from shifter.analysis.decide import error_rate, threshold
from shifter.analysis.verdict import Cause, CheckResult, Verdict, combine

LIMITS = {"max_rate": 0.01, "max_over_baseline": 0.01, "min_requests": 50, "alpha": 0.005,
          "alpha_relative": 0.005}
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


def test_enough_healthy_requests_pass_on_an_upper_bound() -> None:
    d = judge((300.0, 0.0))
    assert d.verdict is Verdict.PASS and d.cause is Cause.WITHIN_LIMITS
    assert d.reason.startswith("new colour error rate 0.0% (0/300 errors): upper bound 0.8% <=")
    assert "pass limit 2.5% = (1 + 1.5) x max(1.0% limit, live colour 0.2% (2/1000))" in d.reason
    # 2 errors in 100 are not yet evidence of a rate under 2.5%: the bound is 5.2%
    assert judge((100.0, 2.0)).cause is Cause.NOT_SIGNIFICANT_YET


def test_too_few_requests_cause() -> None:
    d = judge((49.0, 0.0))
    assert d.cause is Cause.TOO_FEW_REQUESTS and "only 49 requests, 50 needed" in d.reason


def test_noisy_but_healthy_is_not_fail() -> None:
    d = judge((60.0, 1.0))
    assert d.verdict is Verdict.INCONCLUSIVE and d.cause is Cause.NOT_SIGNIFICANT_YET
    assert "not significant yet: e-value" in d.reason


def test_significant_breach_fails_and_states_each_statistic() -> None:
    d = judge((25.0, 5.0), (500.0, 0.0))
    assert d.verdict is Verdict.FAIL and d.cause is Cause.BREACH
    assert d.reason.startswith("new colour error rate 20.0% (5/25 errors) > 1.0% limit: e-value")
    assert ">= 200 (1/alpha, alpha 0.005)" in d.reason
    assert "live colour 0.0% (0/500), live colour's own e-value" in d.reason
    assert d.values["errors"] == 5 and d.values["requests"] == 25


def test_issue_9_case_a_clean_live_colour_never_vetoes_a_revert() -> None:
    """3/17 on the new colour, 0/84 on the live one: the old rule called it shared."""
    with_live = judge((17.0, 3.0), (84.0, 0.0))
    without = judge((17.0, 3.0), None)
    assert with_live.verdict is without.verdict
    assert with_live.cause is not Cause.SHARED
    assert "breaches too" not in with_live.reason


def test_breach_without_baseline_still_fails() -> None:
    d = judge((25.0, 5.0), None)
    assert d.verdict is Verdict.FAIL and "no live colour traffic to compare" in d.reason


def test_breach_with_thin_live_colour_uses_the_recorded_baseline() -> None:
    # 10 live requests are too few: the recorded baseline (0.2%) is the reference
    d = judge((25.0, 5.0), (10.0, 5.0), baseline=(3000, 6))
    assert d.verdict is Verdict.FAIL
    assert "live colour before the rollout 0.2% (6/3000)" in d.reason


def test_shared_outage_only_when_the_live_colours_own_test_rejects() -> None:
    d = judge((100.0, 30.0), (1000.0, 300.0))
    assert d.verdict is Verdict.INCONCLUSIVE and d.cause is Cause.SHARED
    assert "breaches too (its e-value" in d.reason


def test_a_baseline_that_breached_before_the_rollout_makes_the_100_percent_step_shared() -> None:
    d = judge((2000.0, 60.0), (0.0, 0.0), baseline=(3000, 90), max_over_baseline=None)
    assert d.cause is Cause.SHARED


def test_worse_than_a_failing_live_colour_fails() -> None:
    d = judge((1000.0, 600.0), (1000.0, 300.0))
    assert d.verdict is Verdict.FAIL


def test_relative_breach_fails_under_a_lax_absolute_limit() -> None:
    d = judge((1000.0, 100.0), (1000.0, 5.0), max_rate=0.5)
    assert d.verdict is Verdict.FAIL and d.cause is Cause.RELATIVE_BREACH
    assert "> live colour 0.5% (5/1000) + 1.0% points: lower bound" in d.reason
    assert d.values["lower_bound"] > d.values["baseline_upper_bound"] + 0.01  # type: ignore[operator]


def test_relative_breach_not_significant_is_not_a_fail() -> None:
    """3/100 against 1/1000 with a 1-point allowance: not shown worse than 1.1%. Below
    100% the step is held back only by evidence (its 50% bound's lower end, 0.4%, is not
    above 1.1%), so it moves on; the promotion still needs the observed 3% within 1.1%."""
    d = judge((100.0, 3.0), (1000.0, 1.0), max_rate=0.5)
    assert d.verdict is Verdict.PASS, d.reason
    held = judge((100.0, 3.0), (1000.0, 1.0), max_rate=0.5, promote=True)
    assert held.verdict is Verdict.INCONCLUSIVE
    assert "3.0% (this step) > live colour 0.1% (1/1000) + 1.0% points" in held.reason


def test_a_step_below_100_is_held_back_by_evidence_of_a_relative_breach() -> None:
    """12/200 (6%) against 0.1% + 1 point: the 50% bound's lower end is above 1.1%."""
    d = judge((200.0, 12.0), (2000.0, 2.0), max_rate=0.5)
    assert d.verdict is Verdict.INCONCLUSIVE
    assert "lower bound" in d.reason and "> live colour 0.1% (2/2000) + 1.0% points" in d.reason


def test_a_release_as_bad_as_the_live_colour_at_the_limit_passes() -> None:
    """1% on both, limit 1%: the pass limit follows the live colour's rate."""
    d = judge((3000.0, 30.0), (3000.0, 31.0))
    assert d.verdict is Verdict.PASS


def test_fractional_counts_are_rounded() -> None:
    d = judge((59.7, 0.4))
    assert d.values["requests"] == 60 and d.values["errors"] == 0
    assert judge((10.0, 12.0), None).values["errors"] == 10  # errors never exceed requests


def test_prior_steps_count_as_evidence() -> None:
    # 3/40 alone is not significant; with 5/60 from the step before it is
    assert judge((40.0, 3.0), (400.0, 0.0)).verdict is Verdict.INCONCLUSIVE
    assert judge((40.0, 3.0), (400.0, 0.0), prior=[(60, 5)]).verdict is Verdict.FAIL


def _binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


@pytest.mark.parametrize("true_rate", [0.005, 0.01])
def test_false_fail_rate_over_every_look_is_at_most_alpha(true_rate: float) -> None:
    """Healthy new colours looked at after every 10 requests up to 600: the probability of
    any fail stays <= alpha (the bench proves it with many more trials)."""
    rng = random.Random(20261201)
    trials, fails = 300, 0
    for _ in range(trials):
        n = e = 0
        for _look in range(60):
            n += 10
            e += _binomial(rng, 10, true_rate)
            if judge((float(n), float(e)), (9000.0, 90.0)).verdict is Verdict.FAIL:
                fails += 1
                break
    assert fails / trials <= 0.01 + 0.017  # alpha plus three binomial standard errors


def test_real_breach_is_caught_most_of_the_time() -> None:
    rng = random.Random(7)
    caught = sum(
        judge((25.0, float(_binomial(rng, 25, 0.2))), (500.0, 1.0)).verdict is Verdict.FAIL
        for _ in range(300)
    )
    assert caught / 300 > 0.6


def test_threshold_verdicts() -> None:
    kw = {"limit": 0.5, "max_over_baseline": None}
    assert threshold(None, 0.1, **kw).verdict is Verdict.INCONCLUSIVE
    assert threshold(math.nan, 0.1, **kw).verdict is Verdict.INCONCLUSIVE
    assert threshold(0.6, 0.1, **kw).verdict is Verdict.FAIL
    assert threshold(0.5, 0.1, **kw).verdict is Verdict.PASS
    shared = threshold(0.6, 0.55, limit=0.5, max_over_baseline=1.5)
    assert shared.verdict is Verdict.INCONCLUSIVE and shared.cause is Cause.SHARED
    # the live colour within the limit: not shared, even when new <= 1.5 x live
    assert threshold(0.6, 0.45, limit=0.5, max_over_baseline=1.5).verdict is Verdict.FAIL
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


def test_the_promotion_needs_the_tighter_bound_a_step_does_not() -> None:
    # 1.5% observed over 2000 requests, live colour at the 1% limit: within a step's pass
    # limit (2.5% at 50%), not shown within the promotion limit (1.75% at 95%): waits.
    base = (5000.0, 50.0)
    new = (2000.0, 30.0)
    kw = {"max_over_baseline": None, "alpha": 1e-9}  # keep the fail test out of the way
    step = judge(new, base, **kw)
    assert step.verdict is Verdict.PASS
    last = judge(new, base, promote=True, **kw)
    assert last.verdict is Verdict.INCONCLUSIVE and last.cause is Cause.NOT_SIGNIFICANT_YET
    assert "promotion limit 1.8% = (1 + 0.75)" in last.reason
    assert last.values["pass_alpha"] == 0.05


def test_a_healthy_release_with_enough_evidence_is_promoted() -> None:
    d = judge((6000.0, 60.0), (5000.0, 50.0), promote=True)
    assert d.verdict is Verdict.PASS, d.reason
    assert "95% confidence sequence" in d.reason


def test_the_pass_bound_pools_the_earlier_steps() -> None:
    # 1% over 60 requests this step proves little; with 3000 earlier requests at 1% the
    # promotion bound is tight enough.
    alone = judge((60.0, 1.0), (5000.0, 50.0), promote=True)
    pooled = judge((60.0, 1.0), (5000.0, 50.0), promote=True, prior=[(3000, 30), (3000, 30)])
    assert alone.verdict is Verdict.INCONCLUSIVE
    assert pooled.verdict is Verdict.PASS, pooled.reason
    assert "61/6060 over the rollout" in pooled.reason


def test_the_promotion_compares_with_the_baseline_not_the_live_colours_residue() -> None:
    """At 100% the live colour gets only leftovers: 0/24 there once held back a release at
    1.3% (45/3354) with its live colour at 1% before the rollout (lab). The promotion
    judges against the recorded baseline; a step below 100% still uses the live colour."""
    new, residue, baseline = (3354.0, 45.0), (24.0, 0.0), (3000, 30)
    kw = {"min_requests": 20, "alpha": 0.00375, "alpha_relative": 0.00125}
    promoted = judge(new, residue, baseline=baseline, promote=True, **kw)
    assert "live colour before the rollout 1.0% (30/3000)" in promoted.reason, promoted.reason
    assert promoted.values["baseline_requests"] == 3000
    step = judge(new, residue, baseline=baseline, **kw)
    assert step.values["baseline_requests"] == 24  # below 100%: the live colour now
    no_baseline = judge(new, residue, promote=True, **kw)
    assert no_baseline.values["baseline_requests"] == 24  # nothing recorded: the live colour
