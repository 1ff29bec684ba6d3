"""The step plan: which weights, how long each step bakes, how often it samples. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shifter.errors import ConfigError

DEFAULT_STEPS = (10, 50, 100)


@dataclass(frozen=True)
class Step:
    """One step: ``weight`` percent on the new colour, held ``bake`` seconds once healthy,
    given up (reverted) when still inconclusive ``deadline`` seconds after the weight moved."""

    index: int
    weight: int
    bake: float
    deadline: float


@dataclass(frozen=True)
class Plan:
    """The whole rollout: steps in order, the sampling interval and the failure limits."""

    steps: tuple[Step, ...]
    interval: float
    max_consecutive_failures: int = 1
    max_total_failures: int = 1

    @property
    def weights(self) -> tuple[int, ...]:
        return tuple(s.weight for s in self.steps)

    def step(self, index: int) -> Step:
        return self.steps[index]

    @property
    def last(self) -> int:
        return len(self.steps) - 1

    @property
    def looks(self) -> int:
        """The evaluations a release makes on its way through the plan when every step
        passes at the end of its bake: one per interval per step. The false-revert budget
        is split over them (see ``per_look``)."""
        return sum(max(1, math.ceil(s.bake / self.interval)) for s in self.steps)

    def per_look(self, alpha: float) -> float:
        """Significance level of one evaluation so that a release exactly at its limits is
        reverted on noise with probability at most ``alpha`` over the whole rollout
        (Bonferroni over the looks; they overlap, so this is conservative). A step that
        stays inconclusive past its bake looks more often; it is reverted at its deadline
        anyway if it never passes."""
        return alpha / self.looks


def validate_steps(steps: Sequence[int], *, field: str = "steps") -> tuple[int, ...]:
    """Steps are strictly increasing whole percents in 1..100 ending at 100."""
    if not steps:
        raise ConfigError(field, "expected at least one step, e.g. 10,50,100")
    out: list[int] = []
    for i, w in enumerate(steps):
        if isinstance(w, bool) or not isinstance(w, int):
            raise ConfigError(f"{field}[{i}]", f"expected a whole percent 1..100, got {w!r}")
        if not 1 <= w <= 100:
            raise ConfigError(f"{field}[{i}]", f"expected a percent in 1..100, got {w}")
        if out and w <= out[-1]:
            raise ConfigError(field, f"expected strictly increasing percents, got "
                                     f"{','.join(map(str, steps))}")
        out.append(w)
    if out[-1] != 100:
        raise ConfigError(field, f"expected the last step to be 100, got {out[-1]}")
    return tuple(out)


def parse_steps(text: str, *, field: str = "steps") -> tuple[int, ...]:
    """``"10,50,100"`` to a validated tuple."""
    parts = [p.strip().rstrip("%") for p in text.split(",") if p.strip()]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(field, f"expected comma-separated percents like 10,50,100, got {text!r}"
                          ) from None
    return validate_steps(values, field=field)


def make_plan(steps: Sequence[int], *, bake: float, interval: float,
              deadline: float | None = None, supports_partial: bool = True,
              max_consecutive_failures: int = 1, max_total_failures: int = 1) -> Plan:
    """Build the plan. A router that cannot split traffic gets one step of 100.

    The deadline of a step defaults to three bake times (at least bake + 3 intervals): long
    enough for sparse traffic to reach ``min_requests``, short enough that a rollout never
    waits on missing data forever.
    """
    weights = validate_steps(steps)
    if not supports_partial:
        weights = (100,)
    if interval <= 0:
        raise ConfigError("interval", f"expected a duration above 0, got {interval}")
    if bake < 0:
        raise ConfigError("bake", "expected a duration that is not negative")
    if deadline is None:
        deadline = max(3 * bake, bake + 3 * interval)
    if deadline < bake:
        raise ConfigError("deadline", f"expected at least the bake time ({bake:g}s), "
                                      f"got {deadline:g}s")
    if max_consecutive_failures < 1 or max_total_failures < 1:
        raise ConfigError("failure_limits", "expected limits of at least 1")
    return Plan(
        steps=tuple(Step(i, w, bake, deadline) for i, w in enumerate(weights)),
        interval=interval,
        max_consecutive_failures=max_consecutive_failures,
        max_total_failures=max_total_failures,
    )
