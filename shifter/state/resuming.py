"""Resuming a recorded rollout after a crash: ``resume`` and the watch it picks up
(``shifter.state``)."""

from __future__ import annotations

from dataclasses import replace

from shifter.plan import Plan
from shifter.state.machine import _on_start
from shifter.state.types import (
    IllegalTransition,
    Outcome,
    Phase,
    Promote,
    Revert,
    RevertCause,
    Start,
    StartWatch,
    State,
)

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
