"""The rollout engine: runs the state machine against a router, Prometheus and the Lease.

All decisions are in ``shifter.state`` (pure); this module only carries out actions, feeds
their outcomes back as events, samples the analysis every interval from the moment the
weight changed, polls the Lease for operator requests, and reports what happens.

The revert is the hot path: on a failing verdict, a signal or an abort the router write
comes first and the record after. The Lease side (renewal, request polling, fencing, record
writes) is ``shifter.keeper``: short budgets, backing off while the Lease API fails, so it
never holds up a sample or a revert. Router writes are ``shifter.writes``: a forward write
whose outcome is unknown (the server may still apply it) is remembered, and the revert
after it reads the router again once that write can no longer land (docs/safety.md). A
signal cuts the retries of a forward write or of a Prometheus query short.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from shifter import retry
from shifter.analysis.analyzer import Analyzer
from shifter.bookkeeping import HISTORY as HISTORY
from shifter.bookkeeping import RecordsAndEvents
from shifter.errors import (
    Forbidden,
    InvalidInput,
    ShifterError,
)
from shifter.gates import GatesAndWatch
from shifter.keeper import LOOP_BUDGET, LeaseKeeper
from shifter.kevents import EventRecorder
from shifter.lease import Lease, LockLost
from shifter.notify import Notifier
from shifter.plan import Plan
from shifter.record import Aftercare
from shifter.report import Reporter
from shifter.routers.base import Colour, Router, Target
from shifter.sampling import SamplingLoop, _Signalled
from shifter.state import (
    Action,
    AwaitApproval,
    Broken,
    Done,
    Event,
    Interrupted,
    Phase,
    Promote,
    Release,
    Revert,
    RevertCause,
    SetWeight,
    Start,
    StartWatch,
    State,
    WeightApplied,
    WeightFailed,
    advance,
    resume,
)
from shifter.writes import RouterWrites, WriteTimeouts

log = structlog.get_logger("shifter.engine")


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
class Engine(SamplingLoop, RecordsAndEvents, GatesAndWatch):
    """One rollout of ``new`` over ``plan``."""

    router: Router
    analyzer: Analyzer | None
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
    timeouts: WriteTimeouts = field(default_factory=WriteTimeouts)  # from --request-timeout
    revert_deadline: float | None = None  # None: timeouts.revert
    late_write_grace: float | None = None  # None: timeouts.late_write_grace
    state: State = field(default_factory=State)
    history: list[dict[str, Any]] = field(default_factory=list)
    started_wall: float = field(default_factory=time.time)
    rollout_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    handled: list[str] = field(default_factory=list)  # request ids acted on or ignored
    deploy: dict[str, Any] = field(default_factory=dict)
    revert_seconds: float | None = None
    weight_read: int | None = 0  # percent on new as last read back; None: cannot tell
    _next_tick: float | None = None
    _keeper_: LeaseKeeper | None = None
    _deferred: list[tuple[str, str]] = field(default_factory=list)  # Events held back
    traffic_moved: bool = False  # some traffic is (or may be) on the new colour
    resume_promote: bool = False  # the recorded rollout had a promote request pending
    last_cause: str | None = None  # the machine-readable cause of the last tick's verdict
    resume_moved_back: bool = False  # recorded traffic on new, none now: a revert began
    # Called once when the rollout reaches a final phase, before the last record write
    # (with the lock still held): the scale-down it leaves behind (shifter.aftercare).
    on_final: Callable[[State], Aftercare | None] | None = None
    aftercare: Aftercare | None = None
    deployments: dict[str, str] = field(default_factory=dict)  # colour -> Deployment name
    _final_seen: bool = False

    def __post_init__(self) -> None:
        self._writes = RouterWrites(self.router, self.new, clock=self.clock, sleep=self.sleep,
                                    timeouts=self.timeouts, revert_deadline=self.revert_deadline,
                                    late_write_grace=self.late_write_grace,
                                    name=self._router_name())

    @property
    def _keeper(self) -> LeaseKeeper:
        if self._keeper_ is None or self._keeper_.lease is not self.lease:
            self._keeper_ = LeaseKeeper(self.lease, self.clock)
        return self._keeper_

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
        keeper = self._keeper
        if keeper.superseded is not None and self.state.phase.is_final:
            log.warning("could not record the final state: another run holds the lease",
                        error=str(keeper.superseded))
            keeper.superseded = None
        if keeper.superseded is not None:
            log.error("another run took over the release's lease; stopping without "
                      "touching traffic", error=str(keeper.superseded))
            raise keeper.superseded

    def _safety_revert(self, exc: Exception) -> None:
        """An unexpected error (a bug) must never leave unverified traffic on the new
        colour: put it back, loudly, then let the error surface (exit 1)."""
        if not self.traffic_moved or self.state.phase in (
                Phase.PROMOTING, Phase.PROMOTED, Phase.WATCHING, Phase.ROLLED_BACK,
                Phase.ABORTED):
            return
        if isinstance(exc, ShifterError) and self.state.phase is Phase.FAILED:
            return  # already handled: e.g. a refused first weight, nothing moved
        if isinstance(exc, LockLost):
            return  # the run that holds the lease now owns the traffic
        log.critical("unexpected error mid-rollout; putting traffic back", error=repr(exc))
        try:
            retry.revert(lambda: self.router.revert(self.new), what=self._router_name(),
                         deadline=self._writes.revert_deadline, clock=self.clock,
                         sleep=self.sleep)
        except ShifterError as revert_exc:
            log.critical("REVERT FAILED", error=str(revert_exc))
            self.weight_read = None
            return
        self.weight_read = 0
        self.state = replace(self.state, phase=Phase.FAILED, reason=f"internal error: {exc!r}")
        self._persist()

    def _run(self, start_step: int, resume_phase: str | None,
             resume_cause: str | None) -> Outcome:
        if self.interrupt.signalled and not resume_phase:  # a signal before any traffic
            self.interrupt.signalled = None
            self.feed(Interrupted(self.clock()))
            return self._finish()
        if resume_phase is None:
            self._notify("started", steps=list(self.plan.weights), new=self.new.value)
            self._kevent("RolloutStarted", self._shifting_message(start_step, False))
            self.feed(Start(self.clock(), start_step))
        else:
            phase = Phase(resume_phase)
            cause = RevertCause(resume_cause) if resume_cause else None
            if phase.is_active or phase in (Phase.PENDING, Phase.HELD):
                self._kevent("RolloutResumed", self._shifting_message(start_step, True))
            promoted_at, watch_until, reason = self.resumed_watch
            state, actions = resume(phase, start_step, self.plan, now=self.clock(),
                                    cause=cause, promote_requested=self.resume_promote,
                                    moved_back=self.resume_moved_back, reason=reason,
                                    promoted_at=self._clocked(promoted_at),
                                    watch_until=self._clocked(watch_until))
            self._feed_actions(state, actions)
        while not self.state.phase.is_final:
            event = self._wait_for_event()
            self.feed(event)
        return self._finish()

    def _shifting_message(self, step: int, resumed: bool) -> str:
        return (f"shifting {self.target.release} from {self.live.value} to "
                f"{self.new.value} in steps {','.join(map(str, self.plan.weights))}"
                + (f", from step {step + 1}" if resumed else ""))

    def feed(self, event: Event) -> None:
        state, actions = advance(self.state, event, self.plan)
        self._feed_actions(state, actions)

    def _feed_actions(self, state: State, actions: list[Action]) -> None:
        self.state = state
        if state.phase.is_final:
            self._on_final_phase(state)
        reverting = any(isinstance(a, Revert) for a in actions)
        if not reverting:  # a revert is the hot path: its router write comes first
            self._persist()
        self._raise_if_superseded()
        if self._keeper.broken and state.phase.is_active:
            reason, self._keeper.broken = self._keeper.broken, None
            self.feed(Broken(self.clock(), reason))
            return
        for action in actions:
            follow = self._execute(action)
            if follow is not None:
                self.feed(follow)


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
        if isinstance(action, AwaitApproval):
            self._await_approval(action)
            return None
        if isinstance(action, StartWatch):
            self._start_watch(action)
            return None
        raise AssertionError(action)

    def _fence(self) -> str:
        reason = self._keeper.fence()
        self._raise_if_superseded()
        return reason

    def _set_weight(self, a: SetWeight) -> Event:
        fenced = self._fence()
        if fenced:
            return WeightFailed(self.clock(), fenced, moved=self.traffic_moved)
        try:
            self._writes.forward(lambda: self.router.set_weight(self.new, a.weight),
                                 f"set weight {a.weight}%", sleep=self._sleep_unless_signalled)
        except _Signalled:  # a forward write's retries never hold up a signal
            self.weight_read = None
            return self._take_signal()
        except ShifterError as exc:
            refused = isinstance(exc, Forbidden | InvalidInput)
            moved = self.traffic_moved or self._writes.uncertain_at is not None
            if refused and not moved:  # the machine decides: failed, nothing to put back
                self.feed(WeightFailed(self.clock(), str(exc), refused=True, moved=False))
                raise
            log.error("could not set the weight", weight=a.weight, error=str(exc))
            self.weight_read = None
            return WeightFailed(self.clock(), f"could not set {a.weight}% on {self.new}: "
                                f"{exc}", refused=refused, moved=True)
        self.traffic_moved = True
        if self.analyzer is not None:
            self.analyzer.new_step(a.weight)  # carry the evidence: one always-valid test
        self.weight_read = a.weight  # every router reads its write back before returning
        now = self.clock()
        self._next_tick = self._aligned(now + self.plan.interval, now)
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

        def attempt_failed(n: int, exc: Exception) -> None:
            log.error("REVERT ATTEMPT FAILED; retrying", attempt=n, error=str(exc))

        self.reporter.emit("revert", live=self.live.value, new=self.new.value,
                           cause=a.cause.value, reason=a.reason)  # a line on stdout, no I/O
        try:
            self._writes.revert(attempt_failed)  # before any Lease or Event write
            self.revert_seconds = self.clock() - t0
            self.weight_read = 0
            self.reporter.emit("reverted", live=self.live.value,
                               seconds=round(self.revert_seconds, 3))
            self._flush_kevents()
            self._persist(deadline=LOOP_BUDGET)
            late = self._writes.undo_late_writes(attempt_failed, self._keeper.renew)
            if late is not None:
                self._kevent("LateWriteUndone", f"a forward write landed after the revert "
                             f"({late}% on {self.target.service(self.new)}); reverted again",
                             warning=True)
        except ShifterError as exc:
            self.weight_read = None  # the record must not claim 0 while green may serve
            log.critical("REVERT FAILED: traffic may still reach the new colour",
                         new=self.target.service(self.new), error=str(exc))
            self._kevent("RevertFailed", str(exc), warning=True)
            self._notify("failed", reason=str(exc))
            return Broken(self.clock(), str(exc))
        self._kevent("Reverted", f"all traffic back on {self.target.service(self.live)}: "
                     f"{a.reason}", warning=True)
        self._notify("aborted" if a.cause in (RevertCause.ABORT, RevertCause.SIGNAL)
                     else "reverted", reason=a.reason)
        return Done(self.clock())

    def _promote(self, a: Promote) -> Event:
        fenced = self._fence()
        if fenced:
            return Broken(self.clock(), fenced)
        self._next_tick = None
        self.reporter.emit("promote", new=self.new.value, reason=a.reason)
        try:
            self._writes.forward(lambda: self.router.promote(self.new), "promote",
                                 deadline=self.timeouts.promote)
        except ShifterError as exc:
            log.critical("PROMOTE FAILED", error=str(exc))
            self._kevent("PromoteFailed", str(exc), warning=True)
            self.weight_read = None
            return Broken(self.clock(), f"promotion failed: {exc}")
        self.weight_read = 100
        self._kevent("Promoted", f"{self.target.service(self.new)} is live: {a.reason}")
        self._notify("promoted", reason=a.reason)
        return Done(self.clock())

    def _router_name(self) -> str:
        objects = self.router.objects()
        return str(objects[0]) if objects else "the router"

    def _release(self, reason: str) -> None:
        self._kevent("RolloutHeld", reason, warning=True)

    def _finish(self) -> Outcome:
        self._flush_kevents()
        s = self.state
        return Outcome(s.phase, s.reason or s.phase.value, s.phase.exit_code,
                       self.revert_seconds)
