"""The transition functions and the one literal table (``TRANSITIONS``) that ``advance``
looks up; a pair missing from it raises ``IllegalTransition`` (``shifter.state``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from shifter.analysis.verdict import Verdict
from shifter.plan import Plan
from shifter.state.types import (
    _REVERT_FINAL,
    AwaitApproval,
    Broken,
    Done,
    Event,
    IllegalTransition,
    Interrupted,
    Outcome,
    Phase,
    Promote,
    Release,
    Request,
    Revert,
    RevertCause,
    Sample,
    SetWeight,
    Start,
    StartWatch,
    State,
    WeightApplied,
    WeightFailed,
)


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
