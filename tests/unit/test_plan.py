"""The step plan: validation and defaults."""

import math

import pytest

from shifter.errors import ConfigError
from shifter.plan import make_plan, parse_steps, validate_steps


def test_default_plan_has_three_steps_with_deadlines():
    plan = make_plan((10, 50, 100), bake=60, interval=10)
    assert plan.weights == (10, 50, 100)
    assert [s.index for s in plan.steps] == [0, 1, 2]
    assert all(s.bake == 60 and s.deadline == 180 for s in plan.steps)
    assert plan.last == 2


def test_short_bake_deadline_leaves_room_for_three_samples():
    plan = make_plan((100,), bake=1, interval=1)
    assert plan.steps[0].deadline == 4


@pytest.mark.parametrize("text,expected", [("10,50,100", (10, 50, 100)), ("100", (100,)),
                                           (" 5, 25% ,100 ", (5, 25, 100))])
def test_parse_steps(text, expected):
    assert parse_steps(text) == expected


@pytest.mark.parametrize("steps,message", [
    ([50, 10, 100], "strictly increasing"),
    ([10, 10, 100], "strictly increasing"),
    ([10, 50], "last step to be 100"),
    ([0, 100], "1..100"),
    ([10, 150], "1..100"),
    ([], "at least one step"),
    ([10.5, 100], "whole percent"),
    ([True, 100], "whole percent"),
])
def test_bad_steps_name_the_field(steps, message):
    with pytest.raises(ConfigError) as err:
        validate_steps(steps)
    assert err.value.field.startswith("steps")
    assert message in str(err.value)


def test_unparseable_steps():
    with pytest.raises(ConfigError, match="comma-separated"):
        parse_steps("ten,fifty")


def test_router_without_partial_support_collapses_to_one_step():
    plan = make_plan((10, 50, 100), bake=5, interval=1, supports_partial=False)
    assert plan.weights == (100,)


@pytest.mark.parametrize("kwargs,field", [
    ({"interval": 0}, "interval"), ({"bake": -1}, "bake"), ({"deadline": 1}, "deadline"),
    ({"max_consecutive_failures": 0}, "failure_limits"),
])
def test_bad_timing(kwargs, field):
    args = {"bake": 10.0, "interval": 1.0, **kwargs}
    with pytest.raises(ConfigError) as err:
        make_plan((10, 100), **args)
    assert err.value.field == field


def test_timeline_predicts_each_step_at_the_measured_traffic():
    from shifter.plan import timeline, timeline_lines

    plan = make_plan((10, 50, 100), bake=60, interval=10)
    f = timeline(plan, 50.0, min_requests=50, limit=0.01, alpha=0.0025)
    assert [x.new_rps for x in f] == [5.0, 25.0, 50.0]
    assert f[0].to_min_requests == 10.0  # 50 requests at 5 rps, one tick
    assert f[0].to_detect_5x < f[0].to_detect_2x  # bigger breaches are caught sooner
    assert all(x.meets_deadline for x in f)
    slow = timeline(plan, 0.2, min_requests=50, limit=0.01, alpha=0.0025)
    assert not slow[0].meets_deadline and slow[2].meets_deadline is False
    lines = timeline_lines(slow, 0.2)
    assert any(line.startswith("  WARNING: step 1 cannot reach min_requests") for line in lines)


def test_strict_makes_an_unmeetable_deadline_an_error_naming_the_step():
    from shifter.plan import raise_if_unmeetable, timeline

    plan = make_plan((10, 50, 100), bake=60, interval=10)
    raise_if_unmeetable(timeline(plan, 50.0, min_requests=50, limit=0.01, alpha=0.0025), 50.0,
                        min_requests=50)  # meetable: no error
    slow = timeline(plan, 0.2, min_requests=50, limit=0.01, alpha=0.0025)
    with pytest.raises(ConfigError) as err:
        raise_if_unmeetable(slow, 0.2, min_requests=50)
    assert err.value.field == "step_deadline"
    assert str(err.value).startswith(
        "step_deadline: step 1 (10%) cannot reach min_requests (50) before its deadline "
        "(180s) at the measured 0.2 requests/s (0.02 on the new colour: after 2500s)")


def test_timeline_predicts_when_a_release_at_its_limit_is_promoted():
    """At 50 rps a release at a 1% limit needs ~2,000 requests over the rollout for its 95%
    bound to fall below 1.75%: about 40 s at 100%. A 15 s deadline cannot give it that (a
    warning); 120 s can. The earlier steps' requests count towards it."""
    from shifter.analysis.sequential import requests_to_pass
    from shifter.plan import timeline, timeline_lines

    needed = requests_to_pass(0.01, 0.0175, 0.05, 0.01)
    assert 1500 <= needed <= 2500
    short = timeline(make_plan((10, 50, 100), bake=3, interval=1, deadline=15), 50.0,
                     min_requests=20, limit=0.01, alpha=0.00375)
    assert [f.promotes for f in short] == [False, False, True]
    # 10% of 50 rps: ~120 requests for the step rule's 50% bound below 2.5%: 25 s > 15 s
    assert [f.passes_at_limit for f in short] == [False, True, False]
    carried = sum(f.new_rps * min(15, max(3, f.to_pass_at_limit)) for f in short[:2])
    assert short[2].to_pass_at_limit == math.ceil((needed - carried) / 50)
    lines = timeline_lines(short, 50.0)
    assert any(line.startswith("  WARNING: step 1: a release at its error-rate limit (the "
                               "live colour there too) is typically passed only after ~25s")
               for line in lines), lines
    assert any(line.startswith("  WARNING: step 3: a release at its error-rate limit (the "
                               "live colour there too) is typically promoted only after ~")
               for line in lines), lines
    long = timeline(make_plan((10, 50, 100), bake=3, interval=1, deadline=120), 50.0,
                    min_requests=20, limit=0.01, alpha=0.00375)
    assert all(f.passes_at_limit for f in long)
    assert not any("error-rate limit" in line for line in timeline_lines(long, 50.0))
