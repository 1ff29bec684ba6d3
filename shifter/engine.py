"""The rollout engine: runs the state machine against a router, Prometheus and the Lease.

All decisions are in ``shifter.state`` (pure); this module only carries out actions, feeds
their outcomes back as events, samples the analysis every interval from the moment the
weight changed, polls the Lease for operator requests, and reports what happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from shifter import retry
from shifter.analysis.analyzer import Analyzer
from shifter.analysis.outcome import tick_cause, unmeasured_reason
from shifter.analysis.verdict import Cause, CheckResult, Verdict, combine
from shifter.errors import Forbidden, InvalidInput, PrometheusUnavailable, ShifterError
from shifter.kevents import EventRecorder
from shifter.lease import Lease, LockLost
from shifter.notify import Notifier
from shifter.plan import Plan
from shifter.report import Reporter
from shifter.routers.base import Colour, Router, Target
from shifter.state import (
    Action,
    Broken,
    Done,
    Event,
    Interrupted,
    Phase,
    Promote,
    Release,
    Request,
    Revert,
    RevertCause,
    Sample,
    SetWeight,
    Start,
    State,
    WeightApplied,
    advance,
)

log = structlog.get_logger("shifter.engine")

POLL_EVERY = 0.5  # seconds between Lease reads for operator requests
HISTORY = 60  # verdicts kept in the Lease record


class Interrupt:
    """Set from a signal handler; read by the loop."""

    def __init__(self) -> None:
        self.signalled: str | None = None

    def set(self, name: str) -> None:
        self.signalled = self.signalled or name


@dataclass
class Outcome:
    phase: Phase
    reason: str
    exit_code: int
    revert_seconds: float | None = None


@dataclass
class Engine:
    """One rollout of ``new`` over ``plan``."""

    router: Router
    analyzer: Analyzer
    plan: Plan
    target: Target
    new: Colour
    reporter: Reporter
    lease: Lease | None = None
    events: EventRecorder | None = None
    notifier: Notifier | None = None
    interrupt: Interrupt = field(default_factory=Interrupt)
    on_interrupt: str = "revert"
    router_record: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    revert_deadline: float = 60.0
    state: State = field(default_factory=State)
    history: list[dict[str, Any]] = field(default_factory=list)
    started_wall: float = field(default_factory=time.time)
    revert_seconds: float | None = None
    _next_tick: float | None = None
    _last_poll: float = 0.0
    _lease_broken: str | None = None
    _superseded: LockLost | None = None  # another run took the lease: it owns the traffic
    traffic_moved: bool = False  # some traffic is (or may be) on the new colour
    resume_promote: bool = False  # the recorded rollout had a promote request pending
    last_cause: str | None = None  # the machine-readable cause of the last tick's verdict

    @property
    def live(self) -> Colour:
        return self.new.other

    # -- the loop ----------------------------------------------------------------------------

    def run(self, *, start_step: int = 0, resume_phase: str | None = None,
            resume_cause: str | None = None) -> Outcome:
        """Drive the machine to a final phase (resuming a recorded one where given)."""
        try:
            return self._run(start_step, resume_phase, resume_cause)
        except Exception as exc:
            self._safety_revert(exc)
            raise

    def _raise_if_superseded(self) -> None:
        """Another run holds the lease now (this one stalled past its lease): that run owns
        the rollout, so this one must not touch the router again. Exit 6."""
        if self._superseded is not None and self.state.phase.is_final:
            log.warning("could not record the final state: another run holds the lease",
                        error=str(self._superseded))
            self._superseded = None
        if self._superseded is not None:
            log.error("another run took over the release's lease; stopping without "
                      "touching traffic", error=str(self._superseded))
            raise self._superseded

    def _safety_revert(self, exc: Exception) -> None:
        """An unexpected error (a bug) must never leave unverified traffic on the new
        colour: put it back, loudly, then let the error surface (exit 1)."""
        if not self.traffic_moved or self.state.phase in (Phase.PROMOTING, Phase.PROMOTED,
                                                          Phase.ROLLED_BACK, Phase.ABORTED):
            return
        if isinstance(exc, ShifterError) and self.state.phase is Phase.FAILED:
            return  # already handled: e.g. a refused first weight, nothing moved
        if isinstance(exc, LockLost):
            return  # the run that holds the lease now owns the traffic
        log.critical("unexpected error mid-rollout; putting traffic back", error=repr(exc))
        try:
            retry.revert(lambda: self.router.revert(self.new), what=self._router_name(),
                         deadline=self.revert_deadline, clock=self.clock, sleep=self.sleep)
        except ShifterError as revert_exc:
            log.critical("REVERT FAILED", error=str(revert_exc))
            return
        self.state = replace(self.state, phase=Phase.FAILED, reason=f"internal error: {exc!r}")
        self._persist()

    def _run(self, start_step: int, resume_phase: str | None,
             resume_cause: str | None) -> Outcome:
        if resume_phase == Phase.REVERTING.value:
            cause = RevertCause(resume_cause or RevertCause.ERROR.value)
            why = "finishing a revert that a previous run started"
            self._feed_actions(State(phase=Phase.REVERTING, step=start_step,
                                     revert_cause=cause, reason=why), [Revert(cause, why)])
        elif resume_phase == Phase.PROMOTING.value:
            self._feed_actions(State(phase=Phase.PROMOTING, step=start_step,
                                     reason="finishing a promotion a previous run started"),
                               [Promote("finishing an interrupted promotion")])
        else:
            if resume_phase is None:
                self._notify("started", steps=list(self.plan.weights), new=self.new.value)
            self._kevent("RolloutResumed" if resume_phase else "RolloutStarted",
                         f"shifting {self.target.release} from {self.live.value} to "
                         f"{self.new.value} in steps {','.join(map(str, self.plan.weights))}"
                         + (f", from step {start_step + 1}" if resume_phase else ""))
            self.feed(Start(self.clock(), start_step))
            # A resumed rollout keeps what operators asked of it before the crash.
            if resume_phase == Phase.PAUSED.value and self.state.phase.is_active:
                self.feed(Request(self.clock(), "pause"))
            if self.resume_promote and self.state.phase.is_active:
                self.feed(Request(self.clock(), "promote"))
        while not self.state.phase.is_final:
            event = self._wait_for_event()
            self.feed(event)
        return self._finish()

    def feed(self, event: Event) -> None:
        state, actions = advance(self.state, event, self.plan)
        self._feed_actions(state, actions)

    def _feed_actions(self, state: State, actions: list[Action]) -> None:
        self.state = state
        self._persist()
        self._raise_if_superseded()
        if self._lease_broken and state.phase.is_active:
            reason, self._lease_broken = self._lease_broken, None
            self.feed(Broken(self.clock(), reason))
            return
        for action in actions:
            follow = self._execute(action)
            if follow is not None:
                self.feed(follow)

    def _wait_for_event(self) -> Event:
        """Block until the next sample is due, an operator request, or a signal."""
        while True:
            now = self.clock()
            if self.interrupt.signalled:
                self.interrupt.signalled = None
                log.warning("interrupted", action=self.on_interrupt)
                return Interrupted(now, hold=self.on_interrupt == "hold")
            self._raise_if_superseded()
            if self._lease_broken:
                reason, self._lease_broken = self._lease_broken, None
                return Broken(now, reason)
            if self.lease is not None and now - self._last_poll >= POLL_EVERY:
                self._last_poll = now
                request = self._poll_lease()
                if isinstance(request, Event):
                    return request
            if self._next_tick is not None and now >= self._next_tick:
                self._next_tick += self.plan.interval
                if self._next_tick <= now:  # a slow tick: do not pile samples up
                    self._next_tick = now + self.plan.interval
                return self._sample(now)
            wait = POLL_EVERY if self._next_tick is None else self._next_tick - now
            self.sleep(max(0.01, min(wait, 0.1)))

    def _poll_lease(self) -> Event | None:
        assert self.lease is not None
        try:
            if self.lease.due_for_renewal():
                self.lease.write()
            req = self.lease.poll()
        except LockLost as exc:
            self._superseded = exc
            return None
        except Forbidden as exc:
            self._lease_broken = f"cannot keep the release's lease: {exc}"
            return None
        except ShifterError as exc:
            log.warning("could not read the lease", error=str(exc))
            return None
        if not req:
            return None
        action = str(req.get("action"))
        self.reporter.emit("request", action=action, by=req.get("by", "?"))
        self._kevent("OperatorRequest", f"{action} requested by {req.get('by', '?')}")
        return Request(self.clock(), action)

    def _sample(self, now: float) -> Sample | Broken:
        since = self.state.since if self.state.since is not None else now
        window = now - since
        step = self.plan.steps[self.state.step]
        try:
            results = retry.prometheus(lambda: self.analyzer.evaluate(window),
                                       what="analysis", deadline=min(2.0, self.plan.interval),
                                       clock=self.clock, sleep=self.sleep)
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
        if verdict is Verdict.FAIL:
            self._kevent("CheckFailed", reason, warning=True)
        return Sample(now, verdict, reason or ("all checks pass" if results else "no data"))

    # -- actions -----------------------------------------------------------------------------

    def _execute(self, action: Action) -> Event | None:
        if isinstance(action, SetWeight):
            return self._set_weight(action)
        if isinstance(action, Revert):
            return self._revert(action)
        if isinstance(action, Promote):
            return self._promote(action)
        if isinstance(action, Release):
            self._release(action.reason)
            return None
        raise AssertionError(action)

    def _fence(self) -> None:
        """Before moving traffic forward, make sure this run still holds the lease."""
        if self.lease is None:
            return
        try:
            self.lease.check_held()
        except LockLost as exc:
            self._superseded = exc
            self._raise_if_superseded()
        except ShifterError as exc:  # cannot tell: the write's own retries decide
            log.warning("could not check the lease before a write", error=str(exc))

    def _set_weight(self, a: SetWeight) -> Event:
        self._fence()
        try:
            retry.kube(lambda: self.router.set_weight(self.new, a.weight),
                       what=f"set weight {a.weight}%", retry_on_invalid=True,
                       clock=self.clock, sleep=self.sleep)
        except ShifterError as exc:
            if not self.traffic_moved and isinstance(exc, Forbidden | InvalidInput):
                # Refused before any traffic moved: nothing changed, nothing to put back.
                self.state = replace(self.state, phase=Phase.FAILED, reason=str(exc))
                self._persist()
                raise
            log.error("could not set the weight", weight=a.weight, error=str(exc))
            return Broken(self.clock(), f"could not set {a.weight}% on {self.new}: {exc}")
        self.traffic_moved = True
        self.analyzer.new_step(a.weight)  # carry the evidence: one always-valid test
        now = self.clock()
        self._next_tick = now + self.plan.interval
        self.reporter.emit("step", step=a.step, steps=len(self.plan.steps), weight=a.weight,
                           bake=self.plan.steps[a.step].bake,
                           new=self.new.value, live=self.live.value)
        self._notify("step", step=a.step + 1, weight=a.weight)
        self._kevent("StepStarted", f"step {a.step + 1}/{len(self.plan.steps)}: "
                     f"{a.weight}% of traffic on {self.target.service(self.new)}")
        return WeightApplied(now)

    def _revert(self, a: Revert) -> Event:
        self._next_tick = None
        t0 = self.clock()
        self.reporter.emit("revert", live=self.live.value, new=self.new.value,
                           cause=a.cause.value, reason=a.reason)

        def attempt_failed(n: int, exc: Exception) -> None:
            log.error("REVERT ATTEMPT FAILED; retrying", attempt=n, error=str(exc))

        try:
            retry.revert(lambda: self.router.revert(self.new), what=self._router_name(),
                         deadline=self.revert_deadline, on_attempt_failed=attempt_failed,
                         clock=self.clock, sleep=self.sleep)
        except ShifterError as exc:
            log.critical("REVERT FAILED: traffic may still reach the new colour",
                         new=self.target.service(self.new), error=str(exc))
            self._kevent("RevertFailed", str(exc), warning=True)
            self._notify("failed", reason=str(exc))
            return Broken(self.clock(), str(exc))
        self.revert_seconds = self.clock() - t0
        self.reporter.emit("reverted", live=self.live.value, seconds=round(self.revert_seconds, 3))
        self._kevent("Reverted", f"all traffic back on {self.target.service(self.live)}: "
                     f"{a.reason}", warning=True)
        self._notify("aborted" if a.cause in (RevertCause.ABORT, RevertCause.SIGNAL)
                     else "reverted", reason=a.reason)
        return Done(self.clock())

    def _promote(self, a: Promote) -> Event:
        self._fence()
        self._next_tick = None
        self.reporter.emit("promote", new=self.new.value, reason=a.reason)
        try:
            retry.kube(lambda: self.router.promote(self.new), what="promote",
                       retry_on_invalid=True, deadline=60.0, clock=self.clock,
                       sleep=self.sleep)
        except ShifterError as exc:
            log.critical("PROMOTE FAILED", error=str(exc))
            self._kevent("PromoteFailed", str(exc), warning=True)
            return Broken(self.clock(), f"promotion failed: {exc}")
        self._kevent("Promoted", f"{self.target.service(self.new)} is live: {a.reason}")
        self._notify("promoted", reason=a.reason)
        return Done(self.clock())

    def _router_name(self) -> str:
        objects = self.router.objects()
        return str(objects[0]) if objects else "the router"

    def _release(self, reason: str) -> None:
        self._kevent("RolloutHeld", reason, warning=True)

    # -- record keeping ----------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        s = self.state
        weight = (self.plan.steps[s.step].weight if s.phase.is_active or
                  s.phase is Phase.HELD else (100 if s.phase is Phase.PROMOTED else 0))
        return {
            "phase": s.phase.value, "step": s.step, "steps": list(self.plan.weights),
            "weight": weight, "new": self.new.value, "live": self.live.value,
            "reason": s.reason, "started": round(self.started_wall, 3),
            "step_started": round(time.time() - s.elapsed(self.clock()), 3),
            "router": self.router_record, "namespace": self.target.namespace,
            "services": {"blue": self.target.blue_service, "green": self.target.green_service},
            "promote_requested": s.promote_requested,
            "revert_cause": s.revert_cause.value if s.revert_cause else None,
            "history": self.history[-HISTORY:],
            "cause": self.last_cause, "analysis": self.analyzer.state(),
        }

    def _persist(self) -> None:
        """Record the state in the Lease. Losing the lock, or the right to write it, is
        fatal (another run could start): the loop reverts. Other failures, after the
        retries, are logged and the next write tries again."""
        if self.lease is None:
            return
        try:
            self.lease.write(self.record(), release=self.state.phase.is_final)
        except LockLost as exc:
            self._superseded = exc
        except Forbidden as exc:
            log.error("cannot write the release's lease; putting traffic back", error=str(exc))
            self._lease_broken = f"cannot keep the release's lease: {exc}"
        except ShifterError as exc:
            log.warning("could not record the rollout state in the lease", error=str(exc))

    def _kevent(self, reason: str, message: str, *, warning: bool = False) -> None:
        if self.events is not None:
            self.events.record(reason, message, warning=warning)

    def _notify(self, event: str, **payload: Any) -> None:
        if self.notifier is not None:
            self.notifier.notify(event, {"new": self.target.service(self.new), **payload})

    def _finish(self) -> Outcome:
        s = self.state
        return Outcome(s.phase, s.reason or s.phase.value, s.phase.exit_code,
                       self.revert_seconds)


def _result_dict(r: CheckResult) -> dict[str, Any]:
    return {"check": r.check, "verdict": r.verdict.value, "cause": r.cause.value,
            "reason": r.reason,
            "query": r.query, "values": dict(r.values)}
