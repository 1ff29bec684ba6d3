"""In-process access to the API emulator (what the lab uses): put, status, CRD fallback."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from lab.apiserver import APIServer, samples
from lab.apiserver.errors import ApiError

pytestmark = pytest.mark.contract


def _in_demo(obj: dict) -> dict:  # type: ignore[type-arg]
    obj["metadata"]["namespace"] = "demo"
    return obj


def test_put_creates_then_replaces_without_rv_check(apiserver: APIServer) -> None:
    first = apiserver.store.put(_in_demo(samples.ingress()))
    changed = _in_demo(samples.ingress())
    changed["metadata"]["resourceVersion"] = "1"  # stale, ignored by put
    changed["metadata"]["labels"] = {"a": "b"}
    second = apiserver.store.put(changed)
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert apiserver.store.revision == int(second["metadata"]["resourceVersion"])


def test_put_with_status_marks_a_deployment_not_ready(apiserver: APIServer) -> None:
    dep = _in_demo(samples.deployment(replicas=3))
    dep["status"] = {"replicas": 3, "readyReplicas": 1, "observedGeneration": 1}
    apiserver.store.put(dep)
    got = apiserver.store.get("apps/v1", "deployments", "demo", "shop-blue")
    assert got and got["status"]["readyReplicas"] == 1
    apiserver.store.put(_in_demo(samples.deployment(replicas=3)))  # no status: kept
    got = apiserver.store.get("apps/v1", "deployments", "demo", "shop-blue")
    assert got and got["status"]["readyReplicas"] == 1


def test_held_deployment_stays_unready_until_released(apiserver: APIServer) -> None:
    apiserver.store.hold_deployment("demo", "shop-green")
    apiserver.store.create(_in_demo(samples.deployment("shop-green")))
    got = apiserver.store.get("apps/v1", "deployments", "demo", "shop-green")
    assert got and "readyReplicas" not in got["status"]
    apiserver.store.hold_deployment("demo", "shop-green", hold=False)
    got = apiserver.store.get("apps/v1", "deployments", "demo", "shop-green")
    assert got and got["status"]["readyReplicas"] == 2


def test_ready_after_delay() -> None:
    with APIServer(tls=False, deployment_ready_delay=0.1) as srv:
        srv.store.create(samples.deployment())
        got = srv.store.get("apps/v1", "Deployment", "default", "shop-blue")
        assert got and not got["status"].get("readyReplicas")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            got = srv.store.get("apps/v1", "deployments", "default", "shop-blue")
            if got and got["status"].get("readyReplicas") == 2:
                break
            time.sleep(0.02)
        assert got and got["status"]["observedGeneration"] == got["metadata"]["generation"]


def test_without_crd_dir_custom_resources_are_unvalidated_with_one_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    srv = APIServer(tls=False, crd_dir=tmp_path / "absent")
    with caplog.at_level(logging.WARNING):
        srv.store.create(samples.httproute("a", green_weight=-1))
        srv.store.create(samples.httproute("b", green_weight=-1))
    assert sum("unvalidated" in r.getMessage() for r in caplog.records) == 1


def test_in_process_writes_are_validated(apiserver: APIServer) -> None:
    with pytest.raises(ApiError) as exc:
        apiserver.store.create(_in_demo(samples.httproute(green_weight=-1)))
    assert exc.value.code == 422


def test_deleting_a_namespace_deletes_its_objects(apiserver: APIServer) -> None:
    apiserver.store.create(_in_demo(samples.service()))
    apiserver.store.delete("v1", "namespaces", None, "demo")
    assert apiserver.store.list("v1", "services") == []
    assert [n["metadata"]["name"] for n in apiserver.store.list("v1", "namespaces")] == [
        "default", "kube-system"]
