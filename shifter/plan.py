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
    approve: bool = False  # an operator must approve before this step's weight is set


@dataclass(frozen=True)
class Plan:
    """The whole rollout: steps in order, the sampling interval and the failure limits."""

    steps: tuple[Step, ...]
    interval: float
    max_consecutive_failures: int = 1
    max_total_failures: int = 1
    approval_timeout: float = 3600.0  # a gate nobody answers this long: revert (exit 4)
    watch: float = 0.0  # seconds the new live colour is still judged after the promotion

    @property
    def weights(self) -> tuple[int, ...]:
        return tuple(s.weight for s in self.steps)

    def step(self, index: int) -> Step:
        return self.steps[index]

    @property
    def last(self) -> int:
        return len(self.steps) - 1


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
              max_consecutive_failures: int = 1, max_total_failures: int = 1,
              gates: Sequence[int] = (), approval_timeout: float = 3600.0,
              watch: float = 0.0) -> Plan:
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
    if gates and supports_partial and weights[0] in gates:
        raise ConfigError("steps[0].approve", "the first step cannot wait for approval (no "
                                              "traffic is on the new colour yet to judge); "
                                              "gate a later step")
    if approval_timeout <= 0:
        raise ConfigError("approval_timeout", "expected a duration above 0")
    if watch < 0:
        raise ConfigError("after_promotion.watch", "expected a duration that is not negative")
    return Plan(
        steps=tuple(Step(i, w, bake, deadline, approve=w in gates and i > 0)
                    for i, w in enumerate(weights)),
        interval=interval,
        max_consecutive_failures=max_consecutive_failures,
        max_total_failures=max_total_failures,
        approval_timeout=approval_timeout,
        watch=watch,
    )


@dataclass(frozen=True)
class Forecast:
    """What one step should take at a measured request rate (see :func:`timeline`)."""

    step: int
    weight: int
    new_rps: float  # requests per second the new colour gets at this weight
    to_min_requests: float  # seconds until min_requests (the earliest pass)
    to_detect_2x: float  # expected seconds to fail a release at twice the limit
    to_detect_5x: float  # ... at five times the limit
    deadline: float
    to_pass_at_limit: float = math.inf  # typical seconds for a release at its limit to pass
    promotes: bool = False  # the step's pass is the promotion (the stricter rule)

    @property
    def meets_deadline(self) -> bool:
        """min_requests arrive before the step's deadline."""
        return self.to_min_requests <= self.deadline

    @property
    def passes_at_limit(self) -> bool:
        """A release at its limit (the live colour there too) typically passes in time."""
        return self.to_pass_at_limit <= self.deadline


def timeline(plan: Plan, rps: float, *, min_requests: int, limit: float, alpha: float,
             pass_tolerance: float = 1.5) -> list[Forecast]:
    """Per step, at ``rps`` requests per second in total: the time to ``min_requests``, the
    expected time to detect a 2x and 5x breach of ``limit`` with the anytime test at
    ``alpha`` (Wald's approximation, :func:`shifter.analysis.sequential.requests_to_detect`),
    and the typical time for a release exactly at its limit (the live colour there too) to
    pass the step (:func:`shifter.analysis.sequential.requests_to_pass` with the pass rule
    of :mod:`shifter.analysis.rates`; the 100% step is the promotion), counting the
    requests it got in the earlier steps, each step taken to end when it passes or at its
    bake. Each time is rounded up to the next tick."""
    from shifter.analysis.rates import PASS_ALPHA, PROMOTE_ALPHA, PROMOTE_TOLERANCE
    from shifter.analysis.sequential import requests_to_detect, requests_to_pass

    def tick(seconds: float) -> float:
        if not math.isfinite(seconds):
            return math.inf
        return max(1, math.ceil(seconds / plan.interval - 1e-9)) * plan.interval

    out = []
    def needed_at(alpha_: float, tol: float) -> float:
        return requests_to_pass(limit, min(1.0, (1 + tol) * limit), alpha_, limit)

    to_pass_step = needed_at(PASS_ALPHA, pass_tolerance)
    to_promote = needed_at(PROMOTE_ALPHA, min(pass_tolerance, PROMOTE_TOLERANCE))
    carried = 0.0  # requests the release got in the earlier steps
    for s in plan.steps:
        new = rps * s.weight / 100

        def per(n: float, new: float = new) -> float:
            return n / new if new > 0 else math.inf

        promotes = s.weight >= 100  # as the analyzer judges it
        needed = to_promote if promotes else to_pass_step
        to_min = tick(per(min_requests))
        to_pass = max(to_min, tick(per(max(0.0, needed - carried))))
        out.append(Forecast(
            s.index, s.weight, new, to_min,
            tick(per(requests_to_detect(min(2 * limit, 0.99), limit, alpha))),
            tick(per(requests_to_detect(min(5 * limit, 0.99), limit, alpha))), s.deadline,
            to_pass_at_limit=to_pass, promotes=promotes))
        ends = min(max(s.bake, to_pass), s.deadline)
        carried += new * ends if math.isfinite(ends) else 0.0
    return out


def timeline_lines(forecasts: Sequence[Forecast], rps: float) -> list[str]:
    """The timeline as lines for ``validate`` and ``run``; a step that cannot reach
    ``min_requests`` before its deadline gets a ``WARNING`` line."""
    def fmt(x: float) -> str:
        return "never" if not math.isfinite(x) else f"{x:.0f}s"

    lines = [f"at the measured {rps:.3g} requests/s:"]
    for f in forecasts:
        lines.append(f"  step {f.step + 1} ({f.weight}%, {f.new_rps:.3g} rps on the new colour):"
                     f" min_requests after {fmt(f.to_min_requests)}, a 2x breach caught "
                     f"after ~{fmt(f.to_detect_2x)}, 5x after ~{fmt(f.to_detect_5x)}, a "
                     f"release at the limit {'promoted' if f.promotes else 'passed'} after "
                     f"~{fmt(f.to_pass_at_limit)}; deadline {fmt(f.deadline)}")
        if not f.meets_deadline:
            lines.append(f"  WARNING: step {f.step + 1} cannot reach min_requests before its "
                         f"deadline at this traffic: it would be reverted at the deadline "
                         f"(raise step_deadline or the weight, or lower min_requests)")
        elif not f.passes_at_limit:
            what = "promoted" if f.promotes else "passed"
            lines.append(f"  WARNING: step {f.step + 1}: a release at its error-rate limit "
                         f"(the live colour there too) is typically {what} only after "
                         f"~{fmt(f.to_pass_at_limit)}, past the {fmt(f.deadline)} deadline: "
                         f"it would be reverted at the deadline (raise step_deadline to "
                         f"pass one at its limit; one well below it passes sooner)")
    return lines


def raise_if_unmeetable(forecasts: Sequence[Forecast], rps: float, *, min_requests: int
                        ) -> None:
    """``--strict``: a step that cannot reach ``min_requests`` before its deadline at the
    measured traffic is an error (exit 2, before anything changed), not a warning."""
    for f in forecasts:
        if not f.meets_deadline:
            after = ("never" if not math.isfinite(f.to_min_requests)
                     else f"after {f.to_min_requests:.0f}s")
            raise ConfigError("step_deadline", (
                f"step {f.step + 1} ({f.weight}%) cannot reach min_requests ({min_requests}) "
                f"before its deadline ({f.deadline:g}s) at the measured {rps:.3g} requests/s "
                f"({f.new_rps:.3g} on the new colour: {after}); raise step_deadline or the "
                f"weight, lower min_requests, or run without --strict"))
