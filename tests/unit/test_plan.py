"""The step plan: validation and defaults."""

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


def test_looks_and_the_false_revert_budget_per_look():
    plan = make_plan((10, 50, 100), bake=60, interval=10)
    assert plan.looks == 3 * 6  # one look per interval through each step's 60 s bake
    assert plan.per_look(0.01) * plan.looks == pytest.approx(0.01)
    single = make_plan((100,), bake=5, interval=2, deadline=7)
    assert single.looks == 3
    assert make_plan((100,), bake=0, interval=2).looks == 1
