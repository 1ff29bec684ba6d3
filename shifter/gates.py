"""The engine's side of gates and aftercare: announcing an approval gate, starting the
watch after the promotion, and the scale-down hook when the rollout ends. A mixin of
``shifter.engine.Engine`` (the decisions are in ``shifter.state``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

from shifter.analysis.analyzer import Analyzer
from shifter.errors import ShifterError
from shifter.plan import Plan
from shifter.record import Aftercare
from shifter.report import Reporter
from shifter.routers.base import Colour, Target
from shifter.state import AwaitApproval, StartWatch, State

log = structlog.get_logger("shifter.engine")


class GatesAndWatch:
    """Needs the Engine's fields below; see ``shifter.engine.Engine``."""

    analyzer: Analyzer | None
    plan: Plan
    target: Target
    new: Colour
    reporter: Reporter
    clock: Callable[[], float]
    on_final: Callable[[State], Aftercare | None] | None
    aftercare: Aftercare | None
    _final_seen: bool
    _next_tick: float | None
    # A resumed watch (``shifter.rollout``): the recorded unix times of the promote write
    # and of the end of the watch, and the recorded reason.
    resumed_watch: tuple[float | None, float | None, str] = (None, None, "")

    @property
    def live(self) -> Colour:
        return self.new.other

    def _kevent(self, reason: str, message: str, *, warning: bool = False) -> None:
        raise NotImplementedError

    def _notify(self, event: str, **payload: Any) -> None:
        raise NotImplementedError

    def _aligned(self, due: float, now: float) -> float:
        raise NotImplementedError

    def _await_approval(self, a: AwaitApproval) -> None:
        """A gate: announce it; the loop keeps sampling (a failure still reverts)."""
        command = f"shifter approve {self.target.release} -n {self.target.namespace}"
        timeout = self.plan.approval_timeout
        self.reporter.emit("awaiting_approval", step=a.step, weight=a.weight,
                           next_weight=a.next_weight, timeout=timeout, command=command)
        self._notify("awaiting_approval", step=a.step + 1, weight=a.weight,
                     next_weight=a.next_weight, command=command)
        self._kevent("AwaitingApproval", f"holding {a.weight}% on "
                     f"{self.target.service(self.new)} until approved ({command}); "
                     f"reverted after {timeout:g}s without an answer")

    def _start_watch(self, a: StartWatch) -> None:
        """Judge the new live colour every interval for ``a.seconds`` (a fresh test
        against the absolute limits and the pre-rollout baseline). A resumed watch is the
        same test: its window starts at the promote write (``State.since``), so the time
        no run was watching is judged too, against the baseline the record carried."""
        if self.analyzer is not None:
            self.analyzer.start_watch()
        now = self.clock()
        self._next_tick = self._aligned(now + self.plan.interval, now)
        seconds = round(a.seconds, 1)
        self.reporter.emit("watch", new=self.new.value, seconds=seconds, resumed=a.resumed)
        what = "resumed the watch after the promotion" if a.resumed else "watching it"
        self._kevent("Watching", f"{self.target.service(self.new)} is live; {what} for "
                     f"{seconds:g}s (a failure puts all traffic back on "
                     f"{self.target.service(self.live)})")

    def _clocked(self, wall: float | None) -> float | None:
        """A recorded unix time as an instant of ``clock`` (the inverse of ``_wall``)."""
        return None if wall is None else self.clock() - (time.time() - wall)

    def _on_final_phase(self, state: State) -> None:
        """Once, when the rollout reaches a final phase, before its last record write (the
        lock still held): the scale-down it leaves behind (``shifter.aftercare``)."""
        if self.on_final is None or self._final_seen:
            return
        self._final_seen = True
        try:
            self.aftercare = self.on_final(state)
        except ShifterError as exc:  # traffic is where it must be: report, go on
            log.error("aftercare failed", error=str(exc))
            self._kevent("AftercareFailed", str(exc), warning=True)

    def _wall(self, t: float | None) -> float | None:
        """A monotonic instant as unix time (for the record)."""
        return None if t is None else round(time.time() + (t - self.clock()), 3)
