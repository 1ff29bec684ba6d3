"""The rollout state machine: phases, events, actions and one literal transition table.

No I/O and no clock: time arrives inside events, so the whole machine runs in unit tests
without sleeping (the h11 model). ``advance(state, event)`` returns the next state and the
actions the engine must carry out; the engine reports their outcome as further events.
An event that the table does not allow in the current phase raises ``IllegalTransition``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from shifter.analysis.verdict import Verdict
from shifter.plan import Plan


class Phase(StrEnum):
    """Where a rollout is."""

    PENDING = "pending"  # nothing checked or changed yet
    SHIFTING = "shifting"  # a step's weight is set (or being set); its checks are running
    PAUSED = "paused"  # an operator holds the weight; checks still run and a fail reverts
    AWAITING_APPROVAL = "awaiting_approval"  # a gate holds the weight until approved
    PROMOTING = "promoting"  # the new colour is being made the live one
    REVERTING = "reverting"  # all traffic is being put back on the old colour
    WATCHING = "watching"  # promoted; the new live colour is still judged (after_promotion)
    PROMOTED = "promoted"  # done: the new colour is live (exit 0)
    ROLLED_BACK = "rolled_back"  # done: a check failed or stayed inconclusive; old colour (3)
    ABORTED = "aborted"  # done: an operator or a signal stopped it; old colour (4)
    HELD = "held"  # done: interrupted with --on-interrupt hold; weight left as it was (4)
    FAILED = "failed"  # done: shifter could not go on (cluster/Prometheus); see reason (5)
    UNDONE = "undone"  # done: ``shifter undo`` put all traffic back on the previous colour (0)

    @property
    def is_final(self) -> bool:
        """No more transitions: the process may exit."""
        return self in _FINAL

    @property
    def is_active(self) -> bool:
        """Traffic may be on the new colour and analysis is running."""
        return self in (Phase.SHIFTING, Phase.PAUSED, Phase.AWAITING_APPROVAL)

    @property
    def exit_code(self) -> int:
        return _EXIT[self]


_FINAL = frozenset({Phase.PROMOTED, Phase.ROLLED_BACK, Phase.ABORTED, Phase.HELD, Phase.FAILED,
                    Phase.UNDONE})
_EXIT = {Phase.PROMOTED: 0, Phase.ROLLED_BACK: 3, Phase.ABORTED: 4, Phase.HELD: 4,
         Phase.FAILED: 5, Phase.UNDONE: 0, Phase.PENDING: 1, Phase.SHIFTING: 1,
         Phase.PAUSED: 1, Phase.AWAITING_APPROVAL: 1, Phase.PROMOTING: 1,
         Phase.REVERTING: 1, Phase.WATCHING: 1}


class RevertCause(StrEnum):
    """Why traffic goes back to the old colour; decides the final phase."""

    SLO = "slo"  # a check failed: rolled_back
    DEADLINE = "deadline"  # a step stayed inconclusive until its deadline: rolled_back
    ABORT = "abort"  # an operator asked: aborted
    SIGNAL = "signal"  # SIGINT/SIGTERM: aborted
    ERROR = "error"  # shifter could not go on: failed
    APPROVAL_TIMEOUT = "approval_timeout"  # nobody answered a gate in time: aborted
    WATCH = "watch"  # a check failed while watching after the promotion: rolled_back


_REVERT_FINAL = {RevertCause.SLO: Phase.ROLLED_BACK, RevertCause.DEADLINE: Phase.ROLLED_BACK,
                 RevertCause.ABORT: Phase.ABORTED, RevertCause.SIGNAL: Phase.ABORTED,
                 RevertCause.ERROR: Phase.FAILED, RevertCause.APPROVAL_TIMEOUT: Phase.ABORTED,
                 RevertCause.WATCH: Phase.ROLLED_BACK}


# -- events (what happened) ------------------------------------------------------------------

@dataclass(frozen=True)
class Start:
    """Pre-flight passed: move to ``step`` (0, or the recorded one when resuming)."""

    now: float
    step: int = 0


@dataclass(frozen=True)
class WeightApplied:
    """The router confirmed the current step's weight at ``now``; its clock starts."""

    now: float


@dataclass(frozen=True)
class Sample:
    """One analysis tick: the combined verdict of every check at ``now``."""

    now: float
    verdict: Verdict
    reason: str = ""


@dataclass(frozen=True)
class Request:
    """An operator's request: ``abort``, ``approve``/``promote`` (go on to the next step,
    answering a gate), ``promote-full`` (promote once the current step passes),
    ``promote-force``, ``pause``, ``resume``."""

    now: float
    action: str


@dataclass(frozen=True)
class Interrupted:
    """SIGINT/SIGTERM; ``hold`` leaves the weight where it is."""

    now: float
    hold: bool = False


@dataclass(frozen=True)
class Broken:
    """Shifter cannot go on (cluster or Prometheus unreachable past retries)."""

    now: float
    reason: str


@dataclass(frozen=True)
class Done:
    """The pending promote or revert write finished."""

    now: float


@dataclass(frozen=True)
class WeightFailed:
    """The step's weight could not be set. ``refused``: the API server refused it for good
    (403, invalid), so nothing was written; ``moved``: traffic was (or may be) on the new
    colour before this write."""

    now: float
    reason: str
    refused: bool = False
    moved: bool = True


Event = Start | WeightApplied | WeightFailed | Sample | Request | Interrupted | Broken | Done


# -- actions (what the engine must do) -------------------------------------------------------

@dataclass(frozen=True)
class SetWeight:
    step: int
    weight: int


@dataclass(frozen=True)
class Revert:
    cause: RevertCause
    reason: str


@dataclass(frozen=True)
class Promote:
    reason: str


@dataclass(frozen=True)
class Release:
    """Leave traffic as it is and let go of the lock (``--on-interrupt hold``)."""

    reason: str


@dataclass(frozen=True)
class AwaitApproval:
    """A gate: hold ``weight`` (step ``step``) until an operator approves ``next_weight``."""

    step: int
    weight: int
    next_weight: int


@dataclass(frozen=True)
class StartWatch:
    """The promotion is written: judge the new live colour for ``seconds`` more
    (``resumed``: the rest of a watch that a previous run started)."""

    seconds: float
    resumed: bool = False


Action = SetWeight | Revert | Promote | Release | AwaitApproval | StartWatch


# -- state -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class State:
    """Everything the machine knows. ``since`` is when the current step's weight took
    effect (None while it is being set); ``paused_for`` is time spent paused in this step."""

    phase: Phase = Phase.PENDING
    step: int = 0
    since: float | None = None
    paused_at: float | None = None
    paused_for: float = 0.0
    consecutive_failures: int = 0
    total_failures: int = 0
    last_verdict: Verdict | None = None
    promote_requested: bool = False
    next_requested: bool = False  # ``promote``: go on to the next step at the next pass
    awaiting_since: float | None = None  # when the current gate started holding
    watch_until: float | None = None  # end of the watch after the promotion
    promoted_at: float | None = None  # when the promote write finished
    revert_cause: RevertCause | None = None
    reason: str = ""

    def elapsed(self, now: float) -> float:
        """Time the current step has run, not counting pauses."""
        if self.since is None:
            return 0.0
        paused = self.paused_for + (now - self.paused_at if self.paused_at is not None else 0.0)
        return max(0.0, now - self.since - paused)


class IllegalTransition(Exception):
    """An event that the current phase does not accept."""


Outcome = tuple[State, list[Action]]


def _set_step(s: State, plan: Plan, step: int) -> Outcome:
    new = replace(s, phase=Phase.SHIFTING, step=step, since=None, paused_at=None,
                  paused_for=0.0, consecutive_failures=0, total_failures=0,
                  last_verdict=None, next_requested=False, awaiting_since=None)
    return new, [SetWeight(step, plan.steps[step].weight)]


def _revert(s: State, cause: RevertCause, reason: str) -> Outcome:
    return (replace(s, phase=Phase.REVERTING, revert_cause=cause, reason=reason),
            [Revert(cause, reason)])


def _promote(s: State, reason: str) -> Outcome:
    return replace(s, phase=Phase.PROMOTING, reason=reason), [Promote(reason)]


def _on_start(s: State, e: Start, plan: Plan) -> Outcome:
    if not 0 <= e.step <= plan.last:
        raise IllegalTransition(f"no step {e.step} in a plan of {len(plan.steps)}")
    return _set_step(s, plan, e.step)


def _on_weight_applied(s: State, e: WeightApplied, plan: Plan) -> Outcome:
    return replace(s, since=e.now), []


def _failed(s: State, e: Sample, plan: Plan) -> tuple[State, bool]:
    """Count a failing sample; True when the failure limits are reached."""
    s = replace(s, consecutive_failures=s.consecutive_failures + 1,
                total_failures=s.total_failures + 1, last_verdict=e.verdict)
    return s, (s.consecutive_failures >= plan.max_consecutive_failures
               or s.total_failures >= plan.max_total_failures)


def _next_step(s: State, plan: Plan, now: float) -> Outcome:
    """The current step passed: the next step, or a gate before it (an operator's
    ``promote`` already answered it)."""
    nxt = plan.steps[s.step + 1]
    if nxt.approve and not s.next_requested:
        return (replace(s, phase=Phase.AWAITING_APPROVAL, awaiting_since=now),
                [AwaitApproval(s.step, plan.steps[s.step].weight, nxt.weight)])
    return _set_step(s, plan, s.step + 1)


def _on_sample(s: State, e: Sample, plan: Plan) -> Outcome:
    if s.since is None:  # the weight is still being written: nothing to judge yet
        return s, []
    step = plan.steps[s.step]
    if e.verdict is Verdict.FAIL:
        s, limit = _failed(s, e, plan)
        if limit:
            return _revert(s, RevertCause.SLO, e.reason or "a check failed")
        return s, []
    s = replace(s, consecutive_failures=0, last_verdict=e.verdict)
    if s.phase is Phase.PAUSED:
        return s, []
    if s.phase is Phase.AWAITING_APPROVAL:
        assert s.awaiting_since is not None
        if e.now - s.awaiting_since >= plan.approval_timeout:
            return _revert(s, RevertCause.APPROVAL_TIMEOUT, "approval timed out")
        return s, []
    elapsed = s.elapsed(e.now)
    if e.verdict is Verdict.PASS and (s.promote_requested or s.next_requested
                                      or elapsed >= step.bake):
        if s.promote_requested or s.step == plan.last:
            return _promote(s, "operator asked to promote" if s.promote_requested
                            else "every step passed")
        return _next_step(s, plan, e.now)
    if elapsed >= step.deadline:
        why = e.reason or "no verdict"
        return _revert(s, RevertCause.DEADLINE,
                       f"step {s.step + 1} ({step.weight}%) still not passing at its "
                       f"deadline: {why}")
    return s, []


def _on_weight_failed(s: State, e: WeightFailed, plan: Plan) -> Outcome:
    if e.refused and not e.moved:
        # Refused before any traffic moved: nothing changed, nothing to put back.
        return replace(s, phase=Phase.FAILED, reason=e.reason), []
    return _revert(s, RevertCause.ERROR, e.reason)


def _on_request(s: State, e: Request, plan: Plan) -> Outcome:
    if e.action == "abort":
        return _revert(s, RevertCause.ABORT, "aborted by an operator")
    if e.action == "promote-force":
        return _promote(s, "promoted by an operator (forced, analysis skipped)")
    if e.action == "promote-full":
        if s.phase is Phase.AWAITING_APPROVAL:  # the step passed already: promote now
            return _promote(s, "operator asked to promote")
        return replace(s, promote_requested=True), []
    if e.action in ("approve", "promote"):
        if s.phase is Phase.AWAITING_APPROVAL:
            return _set_step(replace(s, next_requested=True), plan, s.step + 1)
        if s.step == plan.last:  # no next step: promote once this one passes
            return replace(s, promote_requested=True), []
        return replace(s, next_requested=True), []
    if e.action == "pause":
        if s.phase in (Phase.PAUSED, Phase.AWAITING_APPROVAL):
            return s, []
        return replace(s, phase=Phase.PAUSED, paused_at=e.now), []
    if e.action == "resume":
        if s.phase is not Phase.PAUSED or s.paused_at is None:
            return s, []
        return replace(s, phase=Phase.SHIFTING, paused_at=None,
                       paused_for=s.paused_for + (e.now - s.paused_at)), []
    return s, []  # not a request shifter knows: the engine warned about it


def _on_interrupted(s: State, e: Interrupted, plan: Plan) -> Outcome:
    if e.hold:
        reason = "interrupted; weight held as requested (--on-interrupt hold)"
        return replace(s, phase=Phase.HELD, reason=reason), [Release(reason)]
    return _revert(s, RevertCause.SIGNAL, "interrupted by a signal")


def _on_broken(s: State, e: Broken, plan: Plan) -> Outcome:
    return _revert(s, RevertCause.ERROR, e.reason)


def _on_broken_pending(s: State, e: Broken, plan: Plan) -> Outcome:
    return replace(s, phase=Phase.FAILED, reason=e.reason), []


def _on_done_promoting(s: State, e: Done, plan: Plan) -> Outcome:
    if plan.watch > 0:
        return (replace(s, phase=Phase.WATCHING, promoted_at=e.now, since=e.now,
                        watch_until=e.now + plan.watch, consecutive_failures=0,
                        total_failures=0), [StartWatch(plan.watch)])
    return replace(s, phase=Phase.PROMOTED, promoted_at=e.now), []


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}".rstrip("0").rstrip(".") or "0"


def _on_sample_watching(s: State, e: Sample, plan: Plan) -> Outcome:
    promoted_at, until = s.promoted_at, s.watch_until
    assert promoted_at is not None and until is not None
    if e.verdict is Verdict.FAIL:
        s, limit = _failed(s, e, plan)
        if limit:
            after = _minutes(e.now - promoted_at)
            return _revert(s, RevertCause.WATCH, f"failed {after} min after promotion: "
                           f"{e.reason or 'a check failed'}")
        return s, []
    s = replace(s, consecutive_failures=0, last_verdict=e.verdict)
    if e.now >= until:
        return replace(s, phase=Phase.PROMOTED,
                       reason=f"{s.reason}; watched {_minutes(plan.watch)} min after the "
                              f"promotion"), []
    return s, []


def _on_watch_request(s: State, e: Request, plan: Plan) -> Outcome:
    if e.action == "abort":  # the old colour still runs at full size: put traffic back
        return _revert(s, RevertCause.ABORT, "aborted by an operator during the watch "
                       "after the promotion")
    return s, []


def _watch_cut(s: State, why: str) -> Outcome:
    return replace(s, phase=Phase.PROMOTED,
                   reason=f"{s.reason}; the watch after the promotion was cut short "
                          f"({why}): the release stays promoted"), []


def _on_watch_interrupted(s: State, e: Interrupted, plan: Plan) -> Outcome:
    return _watch_cut(s, "a signal")


def _on_watch_broken(s: State, e: Broken, plan: Plan) -> Outcome:
    return _watch_cut(s, e.reason)


def _on_done_reverting(s: State, e: Done, plan: Plan) -> Outcome:
    assert s.revert_cause is not None
    return replace(s, phase=_REVERT_FINAL[s.revert_cause]), []


def _ignore(s: State, e: Event, plan: Plan) -> Outcome:
    return s, []


def _interrupt_pending(s: State, e: Interrupted, plan: Plan) -> Outcome:
    return replace(s, phase=Phase.ABORTED, reason="interrupted before any traffic moved"), []


def _abort_pending(s: State, e: Request, plan: Plan) -> Outcome:
    if e.action == "abort":
        return replace(s, phase=Phase.ABORTED, reason="aborted before any traffic moved"), []
    return s, []


# The whole protocol. A pair missing here is an illegal transition.
TRANSITIONS: dict[tuple[Phase, type], Callable[..., Outcome]] = {
    (Phase.PENDING, Start): _on_start,
    (Phase.PENDING, Interrupted): _interrupt_pending,
    (Phase.PENDING, Request): _abort_pending,
    (Phase.PENDING, Broken): _on_broken_pending,
    (Phase.SHIFTING, WeightApplied): _on_weight_applied,
    (Phase.SHIFTING, WeightFailed): _on_weight_failed,
    (Phase.PAUSED, WeightFailed): _on_weight_failed,
    (Phase.SHIFTING, Sample): _on_sample,
    (Phase.SHIFTING, Request): _on_request,
    (Phase.SHIFTING, Interrupted): _on_interrupted,
    (Phase.SHIFTING, Broken): _on_broken,
    (Phase.PAUSED, WeightApplied): _on_weight_applied,
    (Phase.PAUSED, Sample): _on_sample,
    (Phase.PAUSED, Request): _on_request,
    (Phase.PAUSED, Interrupted): _on_interrupted,
    (Phase.PAUSED, Broken): _on_broken,
    (Phase.AWAITING_APPROVAL, WeightFailed): _on_weight_failed,
    (Phase.AWAITING_APPROVAL, Sample): _on_sample,
    (Phase.AWAITING_APPROVAL, Request): _on_request,
    (Phase.AWAITING_APPROVAL, Interrupted): _on_interrupted,
    (Phase.AWAITING_APPROVAL, Broken): _on_broken,
    (Phase.PROMOTING, Done): _on_done_promoting,
    (Phase.PROMOTING, Broken): _on_broken_pending,  # a verified colour: never half-revert
    (Phase.PROMOTING, Sample): _ignore,
    (Phase.PROMOTING, Request): _ignore,
    (Phase.PROMOTING, Interrupted): _ignore,  # finishing a promote is safer than half of one
    (Phase.WATCHING, Sample): _on_sample_watching,
    (Phase.WATCHING, Request): _on_watch_request,
    (Phase.WATCHING, Interrupted): _on_watch_interrupted,  # the release stays promoted
    (Phase.WATCHING, Broken): _on_watch_broken,
    (Phase.REVERTING, Done): _on_done_reverting,
    (Phase.REVERTING, Sample): _ignore,
    (Phase.REVERTING, Request): _ignore,
    (Phase.REVERTING, Interrupted): _ignore,  # a second SIGINT never stops a revert
    (Phase.REVERTING, Broken): _on_broken_pending,  # the revert itself could not finish
}


def advance(state: State, event: Event, plan: Plan) -> Outcome:
    """The next state and the actions to carry out; raise IllegalTransition if not allowed."""
    handler = TRANSITIONS.get((state.phase, type(event)))
    if handler is None:
        raise IllegalTransition(f"{type(event).__name__} is not allowed in phase "
                                f"{state.phase.value}")
    return handler(state, event, plan)


# -- resuming --------------------------------------------------------------------------------

FINISHING = frozenset({Phase.PROMOTING, Phase.REVERTING})  # resumed by their pending write


def resume(phase: Phase, step: int, plan: Plan, *, now: float,
           cause: RevertCause | None = None, promote_requested: bool = False,
           moved_back: bool = False, promoted_at: float | None = None,
           watch_until: float | None = None, reason: str = "") -> Outcome:
    """Where a rollout recorded in ``phase`` at ``step`` picks up after a crash.

    The recorded phase decides: a promotion that had passed every step is finished (never
    reverted), a revert is finished, a watch after the promotion is watched to its end
    (``_resume_watch``), and a rollout that was shifting, paused or held sets its recorded
    step's weight again and keeps what operators asked of it (a pause, a pending promote).
    One exception, because the revert's router write comes before its record:
    ``moved_back`` (the record read back traffic on the new colour, the router has less
    now) means a revert had started; it is finished, never undone by a new step or a
    watch of a colour that is no longer live.
    """
    if moved_back and phase in (Phase.SHIFTING, Phase.PAUSED, Phase.HELD,
                                Phase.AWAITING_APPROVAL, Phase.WATCHING):
        phase, cause = Phase.REVERTING, RevertCause.ERROR
    if phase is Phase.WATCHING:
        return _resume_watch(step, plan, now=now, promoted_at=promoted_at,
                             watch_until=watch_until, reason=reason)
    if phase is Phase.REVERTING:
        cause = cause or RevertCause.ERROR
        why = "finishing a revert that a previous run started"
        return State(phase=Phase.REVERTING, step=step, revert_cause=cause, reason=why), [
            Revert(cause, why)]
    if phase is Phase.PROMOTING:
        why = "finishing a promotion that a previous run started (every step had passed)"
        return State(phase=Phase.PROMOTING, step=step, reason=why), [Promote(why)]
    if phase.is_final and phase is not Phase.HELD:
        raise IllegalTransition(f"a {phase.value} rollout is over; start a new one")
    s, actions = _on_start(State(promote_requested=promote_requested),
                           Start(now, min(max(step, 0), plan.last)), plan)
    if phase is Phase.PAUSED:
        s = replace(s, phase=Phase.PAUSED, paused_at=now)
    return s, actions


def _resume_watch(step: int, plan: Plan, *, now: float, promoted_at: float | None,
                  watch_until: float | None, reason: str) -> Outcome:
    """A run died while watching its promotion (times in the caller's clock). The
    promotion was written, so no step is set again and no weight moves forward: the
    rest of the watch (until ``watch_until`` as recorded, else ``promoted_at`` + the
    plan's watch) is judged from the promote write on, as the unbroken watch would have
    judged it; one whose time is over ends promoted (the aftercare that is due follows)."""
    promoted = now if promoted_at is None else min(promoted_at, now)
    until = watch_until if watch_until is not None else promoted + plan.watch
    why = reason or "every step passed"
    if now >= until:
        return State(phase=Phase.PROMOTED, step=step, since=promoted, promoted_at=promoted,
                     reason=f"{why}; the watch after the promotion ran out while no run "
                            f"was watching (the watching run had stopped): the release "
                            f"stays promoted"), []
    return (State(phase=Phase.WATCHING, step=step, since=promoted, promoted_at=promoted,
                  watch_until=until, reason=why),
            [StartWatch(until - now, resumed=True)])
