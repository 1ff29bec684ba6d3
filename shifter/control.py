"""Operator requests from any shell, and ``abort``'s takeover of a dead run's rollout.

``abort`` posts its request; a live run acts on it within a second. A run that is dead (a
``kill -9``, a lost node) cannot: its lease still names it until it expires. ``abort`` then
waits for the lease to expire, takes it over (as client-go's leader election would) and
reverts itself. It exits 0 only when traffic is on the old colour (also when it already
was), and non-zero when it could not get there: 2 when the release was already promoted
(nothing to revert), 6 while a live holder keeps the lease without acting, 5 when the run
could not finish the revert, 1 when the revert failed. The other requests exit 0 once the
running rollout acknowledged them, and 5 (``NotActedOn``) when nothing did in time; the
request then stays recorded, and a resumed run of the same rollout acts on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

from shifter import access, retry, wiring
from shifter.durations import format_duration
from shifter.errors import InvalidInput, LockHeld, ShifterError, Unavailable
from shifter.kube.client import KubeClient
from shifter.lease import Lease, holder_of, post_request, read_record, request_of, state_of
from shifter.record import Record, parse_record
from shifter.routers.base import Colour
from shifter.state import Phase
from shifter.writes import WriteTimeouts

log = structlog.get_logger("shifter.control")

REVERTED = {Phase.ABORTED.value, Phase.ROLLED_BACK.value}
Say = Callable[[str], None]


class NotActedOn(Unavailable):
    """The request was recorded but nothing acted on it (in time): exit 5."""


def _promoted(release: str, when: str) -> InvalidInput:
    return InvalidInput(f"abort: {release} was already promoted{when}; nothing reverted "
                        f"(a promoted release is not rolled back by abort)")


def request(client: KubeClient, release: str, ns: str, action: str, *, by: str, wait: float,
            say: Say = print, missing: Callable[[], ShifterError] | None = None) -> None:
    """Post ``action`` and wait up to ``wait`` seconds for it to be acted on."""
    obj = read_record(client, release, ns)
    if obj is None:
        if missing is not None:
            raise missing()
        raise InvalidInput(f"release: no rollout of {release} is recorded in namespace {ns} "
                           f"(no Lease shifter-{release})")
    held = holder_of(obj)
    if held is None and action == "abort":
        abort_unheld(client, release, ns, by=by, say=say)
        return
    posted = post_request(client, release, ns, action, by=by)
    rid = (request_of(posted) or {}).get("id")
    if held is None:
        raise NotActedOn(f"{action}: not acted on: no run holds {release} now; the request "
                         f"is recorded and a resumed 'shifter run' of this rollout will act "
                         f"on it")
    say(f"{action}: requested from {held[0]}")
    if wait <= 0:
        say(f"{action}: not waiting (--wait 0); the request stays recorded until acted on")
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        current = read_record(client, release, ns) or {}
        state = state_of(current) or {}
        if action == "abort" and state.get("phase") in REVERTED:
            say(f"abort: done, phase {state['phase']}, traffic on {state.get('live')}")
            return
        if action == "abort" and state.get("phase") == Phase.FAILED.value:
            raise NotActedOn(f"abort: the run could not finish the revert: "
                             f"{state.get('reason') or 'phase failed'}")
        if action == "abort" and state.get("phase") == Phase.PROMOTED.value:
            raise _promoted(release, " before the request was acted on")
        if action != "abort" and (request_of(current) or {}).get("id") != rid:
            say(f"{action}: acknowledged, phase {state.get('phase')}")
            return
        if action == "abort" and holder_of(current) is None:
            # The holder let its lease expire without acting: it is dead. Take over.
            say(f"abort: {held[0]} did not act and its lease expired; taking over")
            abort_unheld(client, release, ns, by=by, say=say)
            return
        time.sleep(0.2)
    if action == "abort":
        raise LockHeld(f"abort: {held[0]} still holds {release} and did not act within "
                       f"{format_duration(wait)}; the request stays recorded (traffic may "
                       f"still be on the new colour)")
    raise NotActedOn(f"{action}: not acted on within {format_duration(wait)} by {held[0]}; "
                     f"the request stays recorded")


def abort_unheld(client: KubeClient, release: str, ns: str, *, by: str,
                 say: Say = print) -> None:
    """No live run: take the lock, put all traffic back on the old colour, record it. A
    rollout recorded as promoting had passed every step: its promotion is finished."""
    lease = Lease(client, release, ns)
    state = lease.acquire()
    try:
        rec = parse_record(state)
        if rec is None or not rec.router or not rec.new:
            raise InvalidInput(f"abort: nothing to abort for {release}: the record names no "
                               f"rollout")
        if rec.phase is Phase.PROMOTED:
            raise _promoted(release, "")
        if rec.phase in (Phase.ABORTED, Phase.ROLLED_BACK) and rec.weight == 0:
            # The run that ended it read its revert back (and re-read it after any write
            # whose answer was lost): nothing to put back.
            lease.release_lock()
            say(f"abort: nothing to do: {release} is {rec.phase.value}, traffic on "
                f"{rec.live}")
            return
        router, target, new = _router(client, ns, release, rec)
        access.review(client, access.router_writes(router))  # denied: exit 2, nothing moved
        if rec.phase is Phase.PROMOTING:
            retry.kube(lambda: router.promote(new), what="promote", retry_on_invalid=True,
                       deadline=WriteTimeouts(client.request_timeout).promote)
            lease.write(rec.model_copy(update={
                "phase": Phase.PROMOTED, "weight": 100,
                "reason": f"promotion finished by {by}'s abort: every step had passed"}),
                release=True)
            say(f"abort: {release} was being promoted after every step passed; finished the "
                f"promotion instead of reverting (all traffic on {target.service(new)})")
            return
        retry.revert(lambda: router.revert(new), what="revert",
                     deadline=WriteTimeouts(client.request_timeout).revert)
        if rec.phase in (Phase.ABORTED, Phase.ROLLED_BACK, Phase.UNDONE):  # keep why
            lease.release_lock()
            say(f"abort: {release} was already {rec.phase.value}; all traffic confirmed on "
                f"{target.service(new.other)}")
            return
        lease.write(rec.model_copy(update={
            "phase": Phase.ABORTED, "weight": 0,
            "reason": f"aborted by {by} with no run holding the release"}), release=True)
    except BaseException:
        lease.release_lock()
        raise
    say(f"abort: reverted; all traffic on {target.service(new.other)}")


def _router(client: KubeClient, ns: str, release: str, rec: Record) -> tuple[Any, Any, Colour]:
    from shifter.config import build_config

    cfg = build_config({"release": release, "router": rec.router,
                        "services": rec.services or None})
    target = wiring.make_target(cfg, ns)
    return wiring.make_router(cfg, client, target), target, Colour(rec.new)
