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
    query = 'sum by (service) (rate(http_requests_total{namespace="demo",code="500"}[3s]))'
    # An earlier test on this lab may have left green's 500s in the 3 s window (25/s seen
    # in CI): wait until they have aged out, so that what follows is this test's alone.
    wait_until(lambda: lab.prometheus.values_by(query, "service").get("shop-green") == 0.0,  # type: ignore[union-attr]
               timeout=SEEN, interval=0.2, what="no 500 rate left for green")
    since = time.time()
    lab.fault("blue", error_rate=0.5)
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


# -- API faults where the write is applied but its answer is lost (issue 12) -------------------

def _client(lab: Lab, timeout: float = 10.0):
    from shifter.kube.client import load_client

    client = load_client(kubeconfig=lab.info["kubeconfig"])
    client.request_timeout = timeout
    return client


def _svc_ref(lab: Lab):
    from shifter.kube.client import ObjectRef

    return ObjectRef("v1", "services", "Service", "shop", lab.namespace)


@pytest.mark.parametrize("how", ["504", "reset", "timeout"])
def test_a_lost_answer_still_applies_the_write(lab_service: Lab, how: str) -> None:
    from shifter.errors import KubeError, KubeUnavailable
    from shifter.kube.client import PatchType

    lab = lab_service
    client = _client(lab, timeout=1.0)
    lab.apiserver.faults.set(resource="services", verbs="write", lost_answer=how,
                             lost_writes=1, lost_after=3.0)
    body = {"metadata": {"annotations": {"lab.test/lost": how}}}
    with pytest.raises((KubeError, KubeUnavailable)) as err:
        client.patch(_svc_ref(lab), body, PatchType.MERGE)
    if how == "504":
        assert getattr(err.value, "status", None) == 504
    svc = lab.apiserver.store.get("v1", "services", lab.namespace, "shop")
    assert svc["metadata"]["annotations"]["lab.test/lost"] == how  # applied all the same
    # only the next write lost its answer
    client.patch(_svc_ref(lab), {"metadata": {"annotations": {"lab.test/next": "ok"}}},
                 PatchType.MERGE)


def test_a_delayed_write_is_applied_after_the_client_gave_up(lab_service: Lab) -> None:
    from shifter.errors import KubeUnavailable
    from shifter.kube.client import PatchType

    lab = lab_service
    client = _client(lab, timeout=0.5)
    lab.apiserver.faults.set(resource="services", verbs="write", delayed_writes=1,
                             apply_delay=1.5)
    with pytest.raises(KubeUnavailable):
        client.patch(_svc_ref(lab), {"metadata": {"annotations": {"lab.test/late": "1"}}},
                     PatchType.MERGE)

    def annotations() -> dict:
        svc = lab.apiserver.store.get("v1", "services", lab.namespace, "shop")
        return svc["metadata"].get("annotations") or {}

    assert "lab.test/late" not in annotations()  # not yet: the server is still holding it
    wait_until(lambda: annotations().get("lab.test/late") == "1", timeout=10, interval=0.1,
               what="the delayed write to be applied")


def test_plain_504_is_answered_and_nothing_applied(lab_service: Lab) -> None:
    from shifter.errors import KubeError
    from shifter.kube.client import PatchType

    lab = lab_service
    client = _client(lab)
    lab.apiserver.faults.set(resource="services", verbs="write", error_rate=1.0,
                             error_code=504)
    with pytest.raises(KubeError) as err:
        client.patch(_svc_ref(lab), {"metadata": {"annotations": {"lab.test/x": "1"}}},
                     PatchType.MERGE)
    assert err.value.status == 504 and err.value.reason == "Timeout"
    svc = lab.apiserver.store.get("v1", "services", lab.namespace, "shop")
    assert "lab.test/x" not in (svc["metadata"].get("annotations") or {})
