"""The Lease side of a running rollout, kept off the decision path.

Renewal, request polling, fencing and record writes each get ``LOOP_BUDGET`` seconds
(retries included) inside the loop; while the Lease API fails, polling backs off to every
``POLL_BACKOFF`` seconds. Nothing here decides: it reports what it saw (``superseded``:
another holder was seen; ``broken``: the Lease can no longer be written; ``expired()``:
this run's own lease ran out) and the engine turns that into events.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from shifter.errors import Forbidden, ShifterError
from shifter.lease import Lease, LockLost
from shifter.record import OperatorRequest, Record

log = structlog.get_logger("shifter.keeper")

POLL_EVERY = 0.5  # seconds between Lease reads for operator requests
POLL_BACKOFF = 2.0  # seconds between Lease reads while the Lease API fails
LOOP_BUDGET = 0.3  # seconds a Lease read or write may take inside the loop
FINAL_BUDGET = 10.0  # seconds for the last record write, after traffic is where it must be


class LeaseKeeper:
    """Renews, polls, fences and records through one run's ``Lease`` (None: no Lease)."""

    def __init__(self, lease: Lease | None, clock: Callable[[], float]) -> None:
        self.lease = lease
        self.clock = clock
        self.next_poll = 0.0
        self.broken: str | None = None  # why the Lease cannot be kept (403): revert
        self.superseded: LockLost | None = None  # another holder seen: it owns the traffic

    def due(self, now: float) -> bool:
        return self.lease is not None and now >= self.next_poll

    def wait(self, now: float, wait: float) -> float:
        return wait if self.lease is None else min(wait, self.next_poll - now)

    def expired(self) -> bool:
        """This run's own lease ran out (no renewal for its duration)."""
        return self.lease is not None and self.lease.held_for() < 0

    def poll(self) -> OperatorRequest | None:
        """Renew when due and read the pending request; errors are recorded, not raised."""
        if self.lease is None:
            return None
        try:
            self._renew_if_due()
            req = self.lease.poll(deadline=LOOP_BUDGET)
        except LockLost as exc:
            self.superseded = exc
            return None
        except Forbidden as exc:
            self.broken = f"cannot keep the release's lease: {exc}"
            return None
        except ShifterError as exc:
            log.warning("could not read the lease", error=str(exc))
            self.next_poll = self.clock() + POLL_BACKOFF
            return None
        self.next_poll = self.clock() + POLL_EVERY
        return req

    def renew(self) -> None:
        """Renew when due (while waiting outside the loop); a failure is only logged."""
        if self.lease is not None:
            try:
                self._renew_if_due()
            except ShifterError as exc:
                log.warning("could not renew the lease", error=str(exc))

    def _renew_if_due(self) -> None:
        """One renewal attempt when a third of the lease has passed. A slow Lease API may
        take up to that third to answer it (the lease stays valid meanwhile); a failing one
        costs ``LOOP_BUDGET``."""
        assert self.lease is not None
        if self.lease.due_for_renewal():
            self.lease.write(deadline=LOOP_BUDGET, request_timeout=self.lease.duration / 3)

    def fence(self) -> str:
        """Before moving traffic forward: "" to go ahead, or why not. Another holder seen
        sets ``superseded``; a Lease that cannot be read is fine while this run's own lease
        is still valid (no other run can have taken it), not once it ran out."""
        if self.lease is None:
            return ""
        try:
            self.lease.check_held(deadline=LOOP_BUDGET)
        except LockLost as exc:
            self.superseded = exc
        except ShifterError as exc:
            if self.lease.held_for() < 0:
                return f"this run's lease expired and cannot be confirmed: {exc}"
            log.warning("could not check the lease before a write; it is still valid "
                        "for a while", error=str(exc), valid_s=round(self.lease.held_for(), 1))
        return ""

    def persist(self, record: Record, *, final: bool, deadline: float | None = None) -> None:
        """Write the record (and release the lock when ``final``). Losing the lock or the
        right to write it is recorded; other failures are logged, the next write retries."""
        if self.lease is None:
            return
        budget = deadline if deadline is not None else (FINAL_BUDGET if final else
                                                        LOOP_BUDGET)
        try:
            self.lease.write(record, release=final, deadline=budget)
        except LockLost as exc:
            self.superseded = exc
        except Forbidden as exc:
            log.error("cannot write the release's lease; putting traffic back", error=str(exc))
            self.broken = f"cannot keep the release's lease: {exc}"
        except ShifterError as exc:
            log.warning("could not record the rollout state in the lease", error=str(exc))
