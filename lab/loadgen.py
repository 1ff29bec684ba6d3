"""Load generator: steady traffic through the ingress, recording what every user saw.

A few worker threads share the target rate, each on its own keep-alive connection (HAProxy
still picks a server per request). Every request is recorded as (wall time, monotonic
time, colour from ``X-Colour``, status, latency); status ``0`` means a connection error or a
timeout. Totals are kept as counters; the last `ring` records are kept for `stats(since)`.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter, deque
from typing import Any, NamedTuple


class Record(NamedTuple):
    """One request as the user saw it."""

    wall: float
    mono: float
    colour: str
    status: int
    latency: float


def is_failure(status: int) -> bool:
    return status == 0 or status >= 500


class LoadGen:
    """Send `rps` requests per second to http://`host`:`port``path`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        rps: float = 50.0,
        workers: int | None = None,
        path: str = "/",
        timeout: float = 10.0,
        ring: int = 200_000,
    ) -> None:
        if rps < 0:
            raise ValueError(f"rps: expected a number >= 0, got {rps}")
        self.host = host
        self.port = port
        self.rps = rps
        self.path = path
        self.timeout = timeout
        self.workers = workers or max(2, min(8, int(rps // 20) + 2))
        self._lock = threading.Lock()
        self._records: deque[Record] = deque(maxlen=ring)
        self._counts: Counter[tuple[str, int]] = Counter()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started_wall: float | None = None

    def start(self) -> None:
        if self._threads or self.rps == 0:
            return
        self.started_wall = time.time()
        per_worker = self.rps / self.workers
        for i in range(self.workers):
            thread = threading.Thread(
                target=self._run, args=(per_worker, i / self.rps), name=f"loadgen-{i}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 2)
        self._threads = []

    def _run(self, rate: float, offset: float) -> None:
        conn: http.client.HTTPConnection | None = None
        period = 1.0 / rate
        next_at = time.monotonic() + offset
        try:
            while not self._stop.is_set():
                delay = next_at - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                # A worker that fell behind (slow answers) does not burst to catch up.
                next_at = max(next_at + period, time.monotonic())
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                conn = self._one(conn)
        finally:
            if conn is not None:
                conn.close()

    def _one(self, conn: http.client.HTTPConnection) -> http.client.HTTPConnection | None:
        wall, start = time.time(), time.monotonic()
        colour, status = "", 0
        keep: http.client.HTTPConnection | None = conn
        try:
            conn.request("GET", self.path)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
            colour = resp.getheader("X-Colour") or ""
            if resp.will_close:
                conn.close()
                keep = None
        except (OSError, http.client.HTTPException):
            conn.close()
            keep = None
        self.record(Record(wall, start, colour, status, time.monotonic() - start))
        return keep

    def record(self, rec: Record) -> None:
        with self._lock:
            self._records.append(rec)
            self._counts[(rec.colour, rec.status)] += 1

    def records(self, since: float | None = None) -> list[Record]:
        """Recorded requests started at or after wall time `since` (from the ring)."""
        with self._lock:
            recs = list(self._records)
        return recs if since is None else [r for r in recs if r.wall >= since]

    def stats(self, since: float | None = None) -> dict[str, Any]:
        """Counts by colour and status, failures (status 0 or >= 500) and latencies.

        `since` is a wall-clock time (``time.time()``); without it, totals since start.
        """
        if since is None:
            with self._lock:
                counts = Counter(self._counts)
                recs = list(self._records)
            truncated = False
        else:
            recs = self.records(since)
            counts = Counter((r.colour, r.status) for r in recs)
            with self._lock:
                oldest = self._records[0].wall if self._records else None
            truncated = (
                oldest is not None and oldest > since and len(self._records) == self._records.maxlen
            )
        return summarise(counts, [r.latency for r in recs], since=since, truncated=truncated)


def summarise(
    counts: Counter[tuple[str, int]], latencies: list[float], *, since: float | None,
    truncated: bool = False,
) -> dict[str, Any]:
    by_colour: dict[str, dict[str, int]] = {}
    by_status: Counter[str] = Counter()
    for (colour, status), n in sorted(counts.items()):
        by_colour.setdefault(colour or "none", {})[str(status)] = n
        by_status[str(status)] += n
    total = sum(counts.values())
    failed = sum(n for (_, status), n in counts.items() if is_failure(status))
    lat = sorted(latencies)

    def pct(q: float) -> float | None:
        return round(lat[min(len(lat) - 1, int(q * len(lat)))], 6) if lat else None

    return {
        "since": since,
        "until": time.time(),
        "total": total,
        "failed": failed,
        "by_colour": by_colour,
        "by_status": dict(by_status),
        "latency_p50": pct(0.5),
        "latency_p99": pct(0.99),
        "truncated": truncated,
    }
