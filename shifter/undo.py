"""``shifter undo`` and ``shifter cleanup``: after the rollout, under the release's lock.

``undo`` puts all traffic back on the colour that was live before the last promotion, in
one router write (the routers' revert of the promoted colour), once that colour is ready:
scaled down by aftercare, it is scaled back up to its recorded count and waited for
first (``--no-wait`` refuses instead, exit 2, nothing changed). It records phase
``undone`` (the next ``run`` goes the other way again), writes a Kubernetes Event, and
cancels a pending scale-down of the colour it brings back. It takes the lock: exit 6
while a run holds it (a run that is still watching its promotion included).

``cleanup`` carries out a scale-down recorded by a run that ended before it was due.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shifter import access, aftercare, retry
from shifter.control import _router
from shifter.durations import format_duration
from shifter.errors import InvalidInput, NotFound
from shifter.kevents import EventRecorder
from shifter.kube.client import KubeClient
from shifter.lease import Lease, read_record
from shifter.preflight import deployment_ready
from shifter.record import Record, parse_record
from shifter.release.readiness import NotReady
from shifter.routers import share
from shifter.routers.base import Colour
from shifter.state import Phase

Say = Callable[[str], None]


def _locked(client: KubeClient, release: str, ns: str,
            missing: Callable[[], Exception]) -> tuple[Lease, Record]:
    if read_record(client, release, ns) is None:
        raise missing()
    lease = Lease(client, release, ns)
    state = lease.acquire()  # LockHeld (exit 6) while a run holds it
    try:
        rec = parse_record(state)
    except BaseException:
        lease.release_lock()
        raise
    if rec is None or not rec.new or not rec.router:
        lease.release_lock()
        raise InvalidInput(f"release: the record of {release} names no rollout")
    return lease, rec


def _deployment(rec: Record, colour: Colour, release: str) -> str:
    return (rec.deployments.get(colour.value) or rec.services.get(colour.value)
            or f"{release}-{colour.value}")


def undo(client: KubeClient, release: str, ns: str, *, by: str, wait: bool,
         timeout: float, say: Say = print, missing: Callable[[], Exception]) -> float:
    """All traffic back on the previous colour; the seconds the router write took."""
    lease, rec = _locked(client, release, ns, missing)
    try:
        if rec.phase is not Phase.PROMOTED:
            raise InvalidInput(f"undo: the last rollout of {release} is {rec.phase.value}, "
                               f"not promoted: nothing to undo (a running rollout is "
                               f"reverted by 'shifter abort')")
        router, target, promoted = _router(client, ns, release, rec)
        previous = promoted.other
        split = retry.kube(router.read, what="read the router")
        if split.live is not promoted or share(split, previous):
            raise InvalidInput(f"undo: the router no longer has {promoted.value} live with "
                               f"all traffic (objects edited since the promotion?)")
        name = _deployment(rec, previous, release)
        ref = aftercare.deployment(ns, name)
        try:
            dep = retry.kube(lambda: client.get(ref), what=f"read Deployment {name}")
        except NotFound:
            raise InvalidInput(f"undo: Deployment {ns}/{name} of {previous.value} not "
                               f"found") from None
        ready, why = deployment_ready(dep)
        access.review(client, access.router_writes(router) + (
            access.deployment_writes(ns, [name]) if not ready and wait else [])
            + access.event_writes(ns))  # a missing permission: exit 2, nothing moved
        if not ready:
            if not wait:
                raise InvalidInput(f"undo: {previous.value} (Deployment {name}) is not ready "
                                   f"({why}); run without --no-wait to scale it back up "
                                   f"and wait for it")
            count = aftercare.restore_count(
                rec.aftercare, previous,
                aftercare.replicas(client, ns, _deployment(rec, promoted, release)))
            say(f"undo: {name} is not ready ({why}); scaling it to {count} and waiting")
            try:
                aftercare.scale_up_and_wait(client, ns, name, count, timeout=timeout,
                                            emit=_say_event(say), colour=previous.value)
            except NotReady as exc:
                raise InvalidInput(f"undo: {name} did not become ready: {exc.why}; no "
                                   f"traffic moved") from None
        t0 = time.monotonic()
        retry.revert(lambda: router.revert(promoted), what="undo")
        seconds = time.monotonic() - t0
        svc = target.service(previous)
        care = rec.aftercare
        if care is not None and care.colour == previous.value:
            care = None  # the colour brought back is not scaled down later
        lease.write(rec.model_copy(update={
            "phase": Phase.UNDONE, "weight": 0, "live": previous.value,
            "new": promoted.value, "aftercare": care, "revert_cause": None,
            "reason": f"undone by {by}: all traffic back on {svc}"}), release=True)
    except BaseException:
        lease.release_lock()
        raise
    EventRecorder(client, router.objects()[0], identity=lease.identity).record(
        "Undone", f"all traffic back on {svc} (undo by {by})", warning=True)
    say(f"undo: all traffic on {svc} in {format_duration(seconds)}")
    return seconds


def cleanup(client: KubeClient, release: str, ns: str, *, now: bool, say: Say = print,
            missing: Callable[[], Exception]) -> None:
    """Carry out the recorded scale-down when it is due (at once with ``now``)."""
    lease, rec = _locked(client, release, ns, missing)
    try:
        care = rec.aftercare
        if care is None or care.done:
            lease.release_lock()
            say(f"cleanup: nothing to do for {release}")
            return
        if not now and not aftercare.is_due(care, time.time()):
            lease.release_lock()
            say(f"cleanup: the scale-down of {care.deployment} is due in "
                f"{format_duration(aftercare.left(care))}; nothing done (--now does it now)")
            return
        done = aftercare.carry_out(client, ns, care, _say_event(say), "shifter cleanup")
        lease.write(rec.model_copy(update={"aftercare": done}), release=True)
    except BaseException:
        lease.release_lock()
        raise
    say(f"cleanup: Deployment {done.deployment} scaled to {done.to} (was {done.replicas})")


def _say_event(say: Say) -> Callable[..., None]:
    def emit(event: str, **f: Any) -> None:
        say(f"{event}: Deployment {f.get('deployment')} to {f.get('replicas')} replicas "
            f"({f.get('why')})")
    return emit
