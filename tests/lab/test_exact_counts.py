"""Exact counts survive a staleness marker: the app preset's error query against the lab's
real Prometheus 2.42 (issue 9).

shifter counts a step's requests and errors as the counter now minus its last sample at or
before the weight change, ``(x - last_over_time(x[5m] @ {start})) >= 0 or x``
(``shifter.analysis.presets.since``). The older form ``(x - x @ {start}) >= 0 or x`` breaks
when a scrape fails around ``{start}``: Prometheus then writes a staleness marker, the
instant value ``x @ start`` is absent, and the ``or x`` fallback counts the series' whole
history (here: a past fault's errors) as this step's. promtool backfill cannot write
staleness markers, so the contract test over a backfilled TSDB cannot show this; this test
makes a real scrape fail.

The Prometheus behaviour relied on (tag v2.42.0 of github.com/prometheus/prometheus, the
version the lab runs):

- A failed scrape (here ``/metrics`` answering 503) is appended as an empty scrape, and
  every series of the previous scrape gets a staleness marker (``StaleNaN``) at the failed
  scrape's time: ``scrape/scrape.go``, ``scrapeLoop.scrapeAndReport`` ("A failed scrape is
  the same as an empty scrape, we still call sl.append to trigger stale markers") and
  ``scrapeLoop.append`` (``forEachStale`` ... "Series no longer exposed, mark it stale").
  Documented in https://prometheus.io/docs/prometheus/latest/querying/basics/#staleness
- An instant selector whose newest sample is a staleness marker returns nothing:
  ``promql/engine.go``, ``evaluator.vectorSelectorSingle`` (``value.IsStaleNaN(v)`` ->
  no sample). With the ``@`` modifier the selector is evaluated at that time
  (https://prometheus.io/docs/prometheus/latest/querying/basics/#modifier), so
  ``x @ start`` inside the gap is empty.
- A range selector skips staleness markers (``promql/engine.go``,
  ``evaluator.matrixIterSlice``: ``if value.IsStaleNaN(v) { continue loop }``), so
  ``last_over_time(x[5m] @ start)`` is the last real sample before the gap
  (https://prometheus.io/docs/prometheus/latest/querying/functions/#aggregation_over_time).

The counts are exact, not bounded: only this test sends green requests (HAProxy gives green
weight 0 after the reseed; its health checks and Prometheus's scrapes are not counted), each
request is answered (and counted by the app) before the next is sent, and every wait below
ends only when Prometheus's newest sample equals the app's own counter read from its
``/metrics``, so no request can race a scrape.
"""

from __future__ import annotations

import http.client
import math
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lab.core import Lab
from lab.procs import wait_until
from shifter.analysis import Analyzer, RenderContext, build_checks
from shifter.analysis.analyzer import read
from shifter.analysis.checks import CheckKind
from shifter.analysis.presets import counts_query, since
from shifter.analysis.prometheus import PrometheusSource
from shifter.analysis.render import render

pytestmark = pytest.mark.lab

SCRAPED = 10.0  # seconds: deadline for Prometheus (1 s scrapes) to show what the app did
HISTORY = 5  # failed requests green answers before the gap
AFTER = 7  # successful requests green answers after the gap
# the app preset's two counters, as templates (the product's query is built from these)
SELECTOR = 'http_requests_total{namespace="{namespace}", service=~"{services}"}'
ERRORS = 'http_requests_total{namespace="{namespace}", service=~"{services}", code=~"5.."}'


def old_since(series: str) -> str:
    """The form ``since()`` replaced: the instant value at the start, absent when stale."""
    return f"(({series} - {series} @ {{start}}) >= 0 or {series})"


def _get(port: int, n: int) -> list[int]:
    """``n`` requests to the app on its own port, one after the other; their statuses."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        codes = []
        for _ in range(n):
            conn.request("GET", "/exact-counts")
            resp = conn.getresponse()
            resp.read()
            codes.append(resp.status)
        return codes
    finally:
        conn.close()


def _app_counts(port: int, service: str) -> dict[str, float]:
    """The app's own ``http_requests_total`` by code, read from its ``/metrics``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {s.labels["code"]: s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == "http_requests_total" and s.labels.get("service") == service}


def _by_code(source: PrometheusSource, promql: str, at: float | None = None
             ) -> dict[str, float]:
    return {labels.get("code", ""): value for labels, value in source.query(promql, at=at)}


def test_counts_since_a_start_inside_a_stale_gap_ignore_the_history(lab_gateway: Lab) -> None:
    lab = lab_gateway
    assert lab.prometheus is not None
    port = lab.app_ports["green"]
    blue, green = f"{lab.release}-blue", f"{lab.release}-green"
    green_sel = f'http_requests_total{{namespace="{lab.namespace}", service="{green}"}}'
    ctx = RenderContext(namespace=lab.namespace, release=lab.release, live_service=blue,
                        new_service=green)
    with PrometheusSource(lab.info["prometheus_url"]) as source:

        def scraped(want: dict[str, float]) -> bool:
            return _by_code(source, green_sel) == want

        # 1. a history of errors, scraped by Prometheus
        lab.fault("green", error_rate=1.0)
        assert _get(port, HISTORY) == [500] * HISTORY
        before_gap = _app_counts(port, green)
        assert before_gap.get("500", 0) >= HISTORY
        wait_until(lambda: scraped(before_gap), timeout=SCRAPED, interval=0.1,
                   what=f"Prometheus to scrape green's 5xx counter {before_gap}")
        lab.fault("green", clear=True)

        # 2. a failed scrape: green's series go stale; start is a time inside the gap
        lab.fault("green", no_metrics=True)
        starts: list[float] = []

        def stale() -> bool:
            t = round(time.time(), 3)
            up = source.query(f'up{{job="{lab.release}", colour="green"}}', at=t)
            if source.query(f"timestamp({green_sel})", at=t) or [v for _, v in up] != [0.0]:
                return False
            starts.append(t)
            return True

        wait_until(stale, timeout=SCRAPED, interval=0.1,
                   what="green's series to go stale after a failed scrape")
        start = starts[-1]
        lab.fault("green", no_metrics=False)
        assert _get(port, AFTER) == [200] * AFTER
        after_gap = _app_counts(port, green)
        # nobody else sent green requests: the counters moved by exactly ours
        assert after_gap == {**before_gap, "200": before_gap.get("200", 0) + AFTER}
        wait_until(lambda: scraped(after_gap), timeout=SCRAPED, interval=0.1,
                   what=f"Prometheus to scrape green's counters after the gap {after_gap}")
        at = time.time()

        # the staleness case really is what the queries see at `start` (checked again now
        # that every scrape around it is in): no instant value, a last sample before it
        assert source.query(f"timestamp({green_sel})", at=start) == []
        assert _by_code(source, f"last_over_time({green_sel}[5m])", at=start) == before_gap

        # 3. the product's query: the app preset's error-rate check as the Analyzer renders it
        (check,) = build_checks(preset="app", max_error_rate=0.05, max_latency=None)
        assert check.query == counts_query(since(SELECTOR), since(ERRORS))
        analyzer = Analyzer(source, [check], ctx)
        result = analyzer.evaluate_check(check, at - start, at=at)
        assert f"@ {start:.3f}" in result.query
        assert result.values["requests"] == AFTER, result.reason
        assert result.values["errors"] == 0, result.reason

        # 4. the old form counts green's whole history (its past errors) as this step's
        old = counts_query(old_since(SELECTOR), old_since(ERRORS))
        old_counts = read(CheckKind.ERROR_RATE,
                          source.query(render(old, ctx, at - start, check="old", start=start),
                                       at=at), {blue, green}, 1.0).counts
        assert old_counts[green] == {"total": sum(after_gap.values()),
                                     "errors": after_gap["500"]}
        assert old_counts[green]["errors"] >= HISTORY
        # blue was scraped throughout: there both forms agree (same data, same `at`)
        new_counts = read(CheckKind.ERROR_RATE, source.query(result.query, at=at),
                          {blue, green}, 1.0).counts
        assert new_counts[green] == {"total": AFTER, "errors": 0}
        assert new_counts[blue] == old_counts[blue]
        assert math.isfinite(new_counts[blue]["total"]) and new_counts[blue]["total"] > 0
