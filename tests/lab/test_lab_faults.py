"""App faults show up where users and shifter look: in Prometheus and in the load stats."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest

from lab.core import Lab
from lab.procs import wait_until
from lab.testing import measure_split

pytestmark = pytest.mark.lab

SEEN = 10.0  # seconds: deadline for a fault to be visible in Prometheus (1 s scrapes)


def test_error_rate_shows_in_prometheus_and_load_stats(lab_nginx: Lab) -> None:
    lab = lab_nginx
    assert lab.prometheus is not None
    since = time.time()
    lab.fault("blue", error_rate=0.5)
    query = 'sum by (service) (rate(http_requests_total{namespace="demo",code="500"}[3s]))'
    # Both conditions are waited on: Prometheus' 3 s window may still hold an earlier test's
    # 500s before the load generator has recorded a failure of this one.
    wait_until(lambda: lab.prometheus.values_by(query, "service").get("shop-blue", 0) > 0  # type: ignore[union-attr]
               and lab.stats(since)["failed"] > 0,
               timeout=SEEN, interval=0.2, what="a 500 rate for blue, and failed requests")
    assert lab.prometheus.values_by(query, "service").get("shop-green") == 0.0
    stats = lab.stats(since)
    assert stats["failed"] > 0
    assert stats["by_colour"]["blue"].get("500", 0) == stats["failed"]


def test_latency_shows_in_the_histogram(lab_nginx: Lab) -> None:
    lab = lab_nginx
    assert lab.prometheus is not None
    lab.fault("blue", latency=0.3)
    query = ('histogram_quantile(0.5, sum by (service, le) (rate('
             'http_request_duration_seconds_bucket{namespace="demo"}[2s])))')
    wait_until(lambda: lab.prometheus.values_by(query, "service")["shop-blue"] > 0.25,  # type: ignore[union-attr]
               timeout=SEEN, interval=0.2, what="blue's median latency above 250ms")


def test_no_metrics_leaves_no_series_for_that_colour(lab_nginx: Lab) -> None:
    lab = lab_nginx
    prom = lab.prometheus
    assert prom is not None
    query = 'count by (service) (http_requests_total{namespace="demo"})'
    assert set(prom.values_by(query, "service")) == {"shop-blue", "shop-green"}
    lab.fault("green", no_metrics=True)
    wait_until(lambda: set(prom.values_by(query, "service")) == {"shop-blue"},
               timeout=SEEN, interval=0.2, what="green's series to go stale")
    assert prom.values_by('up{job="shop"}', "colour") == {"blue": 1.0, "green": 0.0}


def test_hang_blocks_answers_until_cleared(lab_nginx: Lab) -> None:
    lab = lab_nginx
    url = lab.info["ingress_url"]
    lab.fault("blue", hang=True)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(url, timeout=0.5).close()
    lab.fault("blue", hang=False)
    assert measure_split(url, 20) == {"blue": 100.0}


def test_faults_are_cleared_by_reseed(lab_nginx: Lab) -> None:
    lab = lab_nginx
    lab.fault("blue", error_rate=1.0)
    assert measure_split(lab.info["ingress_url"], 10) == {"status:500": 100.0}
    lab.reseed("nginx")
    assert measure_split(lab.info["ingress_url"], 10) == {"blue": 100.0}
    with pytest.raises(ValueError, match="colour"):
        lab.fault("red", error_rate=0.1)
