""""Cannot measure" as its own outcome: how long Prometheus has been unusable. Pure.

A tick is unmeasured when Prometheus does not answer (connection error, timeout, HTTP 5xx)
or refuses or fails a check's query during the rollout. Shorter outages than
``max_unavailable`` are reported and ridden out (the tick is inconclusive); once the
first unmeasured tick of an unbroken run of them is more than ``max_unavailable`` ago,
:meth:`Outage.observe` returns the reason to give up with: the engine then reverts and
the rollout ends ``failed`` (exit 5), never ``rolled_back``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


def utc(ts: float) -> str:
    """``2026-12-01T14:03:07Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass
class Outage:
    """Tracks an unbroken run of unmeasured ticks."""

    max_unavailable: float = 60.0
    since: float | None = None  # clock time of the first unmeasured tick of this run
    since_wall: float = 0.0  # the same as unix time, for the reason
    detail: str = ""

    def observe(self, now: float, failure: str | None, *, wall: float | None = None
                ) -> str | None:
        """Record one tick at clock time ``now`` (``failure`` says why it was unmeasured,
        None if measured); the reason to give up once the outage lasts longer than
        ``max_unavailable``."""
        if failure is None:
            self.since, self.detail = None, ""
            return None
        if self.since is None:
            self.since = now
            self.since_wall = time.time() if wall is None else wall
        self.detail = failure
        lasted = now - self.since
        if lasted > self.max_unavailable:
            return (f"Prometheus unavailable since {utc(self.since_wall)} ({lasted:.0f}s > "
                    f"analysis.max_unavailable {self.max_unavailable:g}s): {failure}")
        return None
