"""The router writes of a rollout, as the engine makes them: forward writes that remember
when their outcome became unknown, and a revert that undoes a forward write the server
applied late.

A forward write (a step's weight, the promotion) that times out, is answered 5xx or loses
its connection may still be applied by the server: a real kube-apiserver goes on with a
request until its ``--request-timeout`` (60 s by default) and a load balancer in front of it
may give up sooner. The routers fence forward writes on the resourceVersion they read and
make every revert change its object, so such a write fails once the revert wrote; as a
last line, ``undo_late_writes`` reads the router once ``late_write_grace`` seconds have
passed since the write was sent and reverts again if it landed anyway.

Every deadline here is built on the client's per-request timeout (``--request-timeout``,
default 10 s; ``WriteTimeouts``): a forward write is given up after 3 request timeouts
(30 s), a promotion and a revert after 6 (60 s). The late-write grace must outlast the
*server*: its request timeout is the server's own (kube-apiserver's ``--request-timeout``),
not derived from the client's, so the grace is the client's request timeout plus a margin
but never less than ``LATE_WRITE_FLOOR`` (65 s); ``SHIFTER_LATE_WRITE_GRACE`` sets it
outright (for a server with a longer timeout, or the lab).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from shifter import retry
from shifter.errors import KubeError, KubeUnavailable
from shifter.kube.client import REQUEST_TIMEOUT
from shifter.routers._patch import share
from shifter.routers.base import Colour, Router

log = structlog.get_logger("shifter.writes")

LATE_WRITE_FLOOR = 65.0  # seconds: more than kube-apiserver's default request timeout (60 s)
LATE_WRITE_MARGIN = 5.0  # seconds past the request timeout for a write already in flight
LATE_WRITE_GRACE = LATE_WRITE_FLOOR  # the grace at the default request timeout
UNCERTAIN_STATUS = frozenset({0, 500, 502, 503, 504})


def late_write_grace(request_timeout: float = REQUEST_TIMEOUT) -> float:
    """``SHIFTER_LATE_WRITE_GRACE`` (seconds), else the request timeout plus
    ``LATE_WRITE_MARGIN``, at least ``LATE_WRITE_FLOOR`` (the server's own timeout)."""
    derived = max(LATE_WRITE_FLOOR, request_timeout + LATE_WRITE_MARGIN)
    try:
        return max(0.0, float(os.environ.get("SHIFTER_LATE_WRITE_GRACE", derived)))
    except ValueError:
        return derived


@dataclass(frozen=True)
class WriteTimeouts:
    """The deadlines of a rollout's router writes, from the client's request timeout."""

    request: float = REQUEST_TIMEOUT

    @property
    def forward(self) -> float:
        """A step's weight: given up after 3 request timeouts (30 s at the default)."""
        return 3 * self.request

    @property
    def promote(self) -> float:
        """The promotion: 6 request timeouts (60 s): every step passed, worth a longer try."""
        return 6 * self.request

    @property
    def revert(self) -> float:
        """A revert: retried for 6 request timeouts (60 s) before exit 5."""
        return 6 * self.request

    @property
    def late_write_grace(self) -> float:
        return late_write_grace(self.request)


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a failed write may still be applied by the server (timeout, reset, 5xx)."""
    if isinstance(exc, KubeUnavailable):
        return True
    return isinstance(exc, KubeError) and exc.status in UNCERTAIN_STATUS


class RouterWrites:
    """Forward writes and reverts of one rollout's router."""

    def __init__(self, router: Router, new: Colour, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 timeouts: WriteTimeouts | None = None, revert_deadline: float | None = None,
                 late_write_grace: float | None = None, name: str = "the router") -> None:
        self.router = router
        self.new = new
        self.clock = clock
        self.sleep = sleep
        self.timeouts = timeouts = timeouts or WriteTimeouts()
        self.revert_deadline = timeouts.revert if revert_deadline is None else revert_deadline
        self.late_write_grace = (timeouts.late_write_grace if late_write_grace is None
                                 else late_write_grace)
        self.name = name
        self.uncertain_at: float | None = None  # when a write of unknown outcome was sent

    def forward(self, write: Callable[[], Any], what: str, deadline: float | None = None, *,
                sleep: Callable[[float], None] | None = None) -> None:
        """``write`` under the Kubernetes retry policy (within ``deadline``, default
        ``timeouts.forward``), remembering when an attempt whose outcome is unknown was
        sent. ``sleep`` (the retries' wait) may raise to stop."""
        def attempt() -> Any:
            sent = self.clock()
            try:
                return write()
            except (KubeError, KubeUnavailable) as exc:
                if outcome_unknown(exc):
                    self.uncertain_at = sent
                raise

        retry.kube(attempt, what=what, retry_on_invalid=True,
                   deadline=self.timeouts.forward if deadline is None else deadline,
                   clock=self.clock, sleep=sleep or self.sleep)

    def revert(self, on_attempt_failed: Callable[[int, Exception], None]) -> None:
        retry.revert(lambda: self.router.revert(self.new), what=self.name,
                     deadline=self.revert_deadline, on_attempt_failed=on_attempt_failed,
                     clock=self.clock, sleep=self.sleep)

    def undo_late_writes(self, on_attempt_failed: Callable[[int, Exception], None],
                         keep_alive: Callable[[], None]) -> int | None:
        """After a forward write of unknown outcome: wait until the server can no longer
        apply it, read the router, and revert again if it landed. Return the percent found
        on the new colour when it did (None when nothing was to undo)."""
        if self.uncertain_at is None:
            return None
        until = self.uncertain_at + self.late_write_grace
        log.warning("a forward write may still be applied by the server; reading the "
                    "router again before exiting", in_s=round(max(0.0, until - self.clock()), 1))
        while self.clock() < until:
            self.sleep(min(0.5, max(0.01, until - self.clock())))
            keep_alive()
        self.uncertain_at = None
        split = retry.kube(self.router.read, what="read the router", clock=self.clock,
                           sleep=self.sleep)
        found = share(split, self.new)
        if found == 0:
            return None
        log.critical("a late forward write landed after the revert; reverting again",
                     weight=found)
        self.revert(on_attempt_failed)
        return 100 if found is None else found
