"""`watch` as a real server serves it, through the official client and kubectl.

Sources (kubernetes/kubernetes): staging/src/k8s.io/apiserver/pkg/endpoints/handlers/
watch.go (newline-delimited JSON watch events over a chunked response; `timeoutSeconds`),
staging/src/k8s.io/apiserver/pkg/storage/cacher/cacher.go and watch_cache.go (resourceVersion
semantics: from N only later changes, unset/"0" with synthetic ADDED events first, too old:
an ERROR event with a 410 "too old resource version"; `sendInitialEvents` with the
`k8s.io/initial-events-end` bookmark), staging/src/k8s.io/apiserver/pkg/storage/
selection_predicate.go and cacher's filtering (an object leaving the selector is DELETED).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.request
from typing import Any

import pytest
from kubernetes import client, watch

from lab.apiserver import APIServer, samples

pytestmark = pytest.mark.contract


def _events(apiserver: APIServer, path: str) -> list[dict[str, Any]]:
    """Read a whole (short, timeoutSeconds-bounded) watch stream."""
    ctx = ssl.create_default_context(cadata=apiserver.ca_pem.decode())
    req = urllib.request.Request(apiserver.url + path, headers={
        "Authorization": f"Bearer {apiserver.admin_token}"})
    with urllib.request.urlopen(req, context=ctx, timeout=20) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        return [json.loads(line) for line in resp.read().splitlines() if line.strip()]


def _cm(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "demo", "labels": labels}}


def test_watch_from_a_resource_version_gets_only_later_changes(apiserver: APIServer) -> None:
    first = apiserver.store.create(_cm("a"))
    rv = first["metadata"]["resourceVersion"]
    apiserver.store.create(_cm("b"))
    apiserver.store.delete("v1", "configmaps", "demo", "a")
    got = _events(apiserver, f"/api/v1/namespaces/demo/configmaps?watch=true&"
                             f"resourceVersion={rv}&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [
        ("ADDED", "b"), ("DELETED", "a")]
    assert all(e["object"]["kind"] == "ConfigMap" for e in got)
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in got]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)


def test_watch_without_resource_version_starts_with_the_current_objects(
        apiserver: APIServer) -> None:
    apiserver.store.create(_cm("a"))
    got = _events(apiserver, "/api/v1/namespaces/demo/configmaps?watch=true&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [("ADDED", "a")]


def test_watch_list_ends_initial_events_with_a_bookmark(apiserver: APIServer) -> None:
    apiserver.store.create(_cm("a"))
    got = _events(apiserver, "/api/v1/namespaces/demo/configmaps?watch=true&"
                             "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&"
                             "allowWatchBookmarks=true&timeoutSeconds=1")
    assert got[0]["type"] == "ADDED"
    assert got[1]["type"] == "BOOKMARK"
    assert got[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_an_object_leaving_the_label_selector_is_deleted_for_the_watch(
        apiserver: APIServer) -> None:
    obj = apiserver.store.create(_cm("a", colour="blue"))
    rv = obj["metadata"]["resourceVersion"]
    changed = _cm("a", colour="green")
    apiserver.store.put(changed)
    apiserver.store.put(_cm("a", colour="blue"))
    got = _events(apiserver, f"/api/v1/namespaces/demo/configmaps?watch=true&"
                             f"labelSelector=colour%3Dblue&resourceVersion={rv}&timeoutSeconds=1")
    assert [e["type"] for e in got] == ["DELETED", "ADDED"]


def test_a_too_old_resource_version_is_an_error_event_410(apiserver: APIServer) -> None:
    old = apiserver.store.create(_cm("a"))["metadata"]["resourceVersion"]
    apiserver.store.create(_cm("b"))
    apiserver.store.changes.reset(apiserver.store.revision)  # as if the log had moved on
    got = _events(apiserver, f"/api/v1/namespaces/demo/configmaps?watch=true&"
                             f"resourceVersion={old}&timeoutSeconds=1")
    assert got == [{"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f"too old resource version: {old}", "reason": "Expired", "code": 410}}]


def test_official_client_watch_sees_a_deployment_become_ready(apiserver: APIServer,
                                                             kube_api: Any) -> None:
    apps = client.AppsV1Api(kube_api)
    apiserver.store.hold_deployment("demo", "shop-green")
    created = apps.create_namespaced_deployment("demo", samples.deployment("shop-green"))
    timer = threading.Timer(0.3, apiserver.store.hold_deployment, ("demo", "shop-green"),
                            {"hold": False})
    timer.start()
    seen = []
    w = watch.Watch()
    for ev in w.stream(apps.list_namespaced_deployment, "demo", timeout_seconds=10,
                       field_selector="metadata.name=shop-green",
                       resource_version=created.metadata.resource_version):
        seen.append(ev["type"])
        if ev["object"].status.ready_replicas == 2:
            w.stop()
    timer.join()
    assert seen == ["MODIFIED"]


def _release_later(apiserver: APIServer, name: str, delay: float = 1.0) -> threading.Timer:
    timer = threading.Timer(delay, apiserver.store.hold_deployment, ("demo", name),
                            {"hold": False})
    timer.start()
    return timer


def test_kubectl_wait_uses_watch(apiserver: APIServer, kubectl: Any) -> None:
    apiserver.store.hold_deployment("demo", "shop-green")
    assert kubectl("apply", "-f", "-", input=json.dumps(samples.deployment("shop-green"))
                   ).returncode == 0
    timer = _release_later(apiserver, "shop-green")
    t0 = time.monotonic()
    out = kubectl("wait", "--for=condition=Available", "deployment/shop-green",
                  "--timeout=30s")
    took = time.monotonic() - t0
    timer.join()
    assert out.returncode == 0, out.stderr
    assert "condition met" in out.stdout
    watches = [r for r in apiserver.requests if "watch=true" in r.path]
    assert watches and all(r.status == 200 for r in watches), apiserver.requests.snapshot()
    print(f"kubectl wait returned {took:.2f}s after start (release at 1.0s)")


def test_kubectl_rollout_status_uses_watch(apiserver: APIServer, kubectl: Any) -> None:
    apiserver.store.hold_deployment("demo", "shop-green")
    assert kubectl("apply", "-f", "-", input=json.dumps(samples.deployment("shop-green"))
                   ).returncode == 0
    timer = _release_later(apiserver, "shop-green")
    out = kubectl("rollout", "status", "deployment/shop-green", "--timeout=30s")
    timer.join()
    assert out.returncode == 0, out.stderr
    assert 'deployment "shop-green" successfully rolled out' in out.stdout
    assert any("watch=true" in r.path for r in apiserver.requests)
