"""The engine's wait loop: block until a sample is due, an operator request arrives or a
signal, and take one analysis sample. A mixin of ``shifter.engine.Engine`` (the decisions
are in ``shifter.state``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from shifter import retry
from shifter.analysis.analyzer import Analyzer
from shifter.analysis.outcome import tick_cause, unmeasured_reason
from shifter.analysis.verdict import Cause, CheckResult, Verdict, combine
from shifter.bookkeeping import HISTORY
from shifter.errors import PrometheusUnavailable
from shifter.keeper import LOOP_BUDGET, POLL_EVERY, LeaseKeeper
from shifter.lease import parse_time
from shifter.plan import Plan
from shifter.record import OperatorRequest, belongs_to
from shifter.report import Reporter
from shifter.state import Broken, Event, Interrupted, Request, Sample, State

if TYPE_CHECKING:
    from shifter.engine import Interrupt

log = structlog.get_logger("shifter.engine")


class _Signalled(Exception):
    """A signal arrived during a retry's wait."""



class SamplingLoop:
    """Needs the Engine's fields below; see ``shifter.engine.Engine``."""

    analyzer: Analyzer | None
    plan: Plan
    reporter: Reporter
    interrupt: Interrupt
    on_interrupt: str
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    state: State
    history: list[dict[str, Any]]
    started_wall: float
    rollout_id: str
    handled: list[str]
    last_cause: str | None
    _next_tick: float | None
    _deferred: list[tuple[str, str]]

    if TYPE_CHECKING:
        @property
        def _keeper(self) -> LeaseKeeper: ...

        def _raise_if_superseded(self) -> None: ...

        def _persist(self, *, deadline: float | None = None) -> None: ...

        def _flush_kevents(self) -> None: ...

        def _kevent(self, reason: str, message: str, *, warning: bool = False) -> None: ...

    def _wait_for_event(self) -> Event:
        """Block until the next sample is due, an operator request, or a signal."""
        self._flush_kevents()
        while True:
            now = self.clock()
            if self.interrupt.signalled:
                return self._take_signal()
            self._raise_if_superseded()
            keeper = self._keeper
            if keeper.broken:
                reason, keeper.broken = keeper.broken, None
                return Broken(now, reason)
            if self.state.phase.is_active and keeper.expired():
                return Broken(now, "this run's lease expired while the Lease API was "
                              "failing: another run could take the release, so no traffic "
                              "moves forward")
            if self._next_tick is not None and now >= self._next_tick:
                self._next_tick += self.plan.interval
                if self._next_tick <= now:  # a slow tick: do not pile samples up
                    self._next_tick = self._aligned(now + self.plan.interval, now)
                return self._sample(now)
            if keeper.due(now):
                req = keeper.poll()
                if req is not None and req.id not in self.handled:
                    request = self._request(req)
                    if request is not None:
                        return request
                continue
            wait = keeper.wait(now, POLL_EVERY if self._next_tick is None
                               else self._next_tick - now)
            self.sleep(max(0.01, min(wait, 0.1)))

    def _aligned(self, due: float, now: float) -> float:
        """A tick due at ``due`` moved to just after a scrape of the new colour's series
        (``Analyzer.tick_shift``), never earlier than half an interval from ``now``."""
        if self.analyzer is None:
            return due
        shift = self.analyzer.tick_shift(time.time() + (due - now), self.plan.interval)
        return max(due + shift, now + self.plan.interval / 2)

    def _take_signal(self) -> Interrupted:
        self.interrupt.signalled = None
        log.warning("interrupted", action=self.on_interrupt)
        return Interrupted(self.clock(), hold=self.on_interrupt == "hold")

    def _sleep_unless_signalled(self, seconds: float) -> None:
        """A retry's wait, cut short by a signal (raises ``_Signalled``)."""
        end = self.clock() + seconds
        while True:
            if self.interrupt.signalled:
                raise _Signalled()
            left = end - self.clock()
            if left <= 0:
                return
            self.sleep(min(0.05, left))

    def _request(self, req: OperatorRequest) -> Event | None:
        """The request as an event, or None when it is not for this rollout or unknown."""
        self.handled.append(req.id)
        if not belongs_to(req, self.rollout_id, self.started_wall, parse_time(req.at)):
            log.warning("ignored a request posted to another rollout", action=req.action,
                        by=req.by, rollout=req.rollout)
            self._persist(deadline=LOOP_BUDGET)
            return None
        action = req.known
        if action is None:
            log.warning("ignored an unknown request", action=req.action, by=req.by)
            self._kevent("RequestIgnored", f"unknown request {req.action[:80]!r} from "
                         f"{req.by}: expected abort, approve, promote, promote-full, "
                         f"promote-force, pause or resume", warning=True)
            self._persist(deadline=LOOP_BUDGET)
            return None
        self.reporter.emit("request", action=action.value, by=req.by)
        self._kevent("OperatorRequest", f"{action.value} requested by {req.by}")
        return Request(self.clock(), action.value)

    def _sample(self, now: float) -> Sample | Broken:
        assert self.analyzer is not None
        analyzer = self.analyzer
        since = self.state.since if self.state.since is not None else now
        window = now - since
        step = self.plan.steps[self.state.step]
        try:
            results = retry.prometheus(lambda: analyzer.evaluate(window),
                                       what="analysis", deadline=min(2.0, self.plan.interval),
                                       clock=self.clock, sleep=self._sleep_unless_signalled)
        except _Signalled:  # Prometheus retries never hold up a signal: judge nothing
            return Sample(now, Verdict.INCONCLUSIVE, "interrupted while querying Prometheus")
        except PrometheusUnavailable as exc:
            results = []
            reason = f"Prometheus unavailable: {exc}"
            verdict = Verdict.INCONCLUSIVE
            unmeasured: str | None = str(exc)
        else:
            verdict = combine(results)
            reason = "; ".join(r.reason for r in results if r.verdict is not Verdict.PASS)
            unmeasured = unmeasured_reason(results)
        gone = self.analyzer.outage.observe(now, unmeasured)
        cause = tick_cause(results, verdict)
        checks = [_result_dict(r) for r in results]
        self.reporter.emit("verdict", step=self.state.step, weight=step.weight,
                           elapsed=round(self.state.elapsed(now), 3), window=round(window, 3),
                           verdict=verdict.value, cause=cause, reason=reason, checks=checks)
        self.history.append({"step": self.state.step, "weight": step.weight,
                             "verdict": verdict.value, "cause": cause,
                             "at": round(time.time(), 3), "reason": reason,
                             "values": {c["check"]: c["values"] for c in checks}})
        del self.history[:-HISTORY]
        self.last_cause = cause
        if gone is not None:
            self.last_cause = Cause.PROMETHEUS_UNAVAILABLE.value
            return Broken(now, gone)
        if verdict is Verdict.FAIL:  # written after the decision (and a revert's write)
            self._deferred.append(("CheckFailed", reason))
        return Sample(now, verdict, reason or ("all checks pass" if results else "no data"))


def _result_dict(r: CheckResult) -> dict[str, Any]:
    return {"check": r.check, "verdict": r.verdict.value, "cause": r.cause.value,
            "reason": r.reason,
            "query": r.query, "values": dict(r.values)}
