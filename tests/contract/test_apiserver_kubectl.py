"""The API emulator through `kubectl` 1.37: get, patch (merge/json/strategic), apply
--dry-run=server, auth can-i, and the failure answers as kubectl reports them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lab.apiserver import APIServer, samples

pytestmark = pytest.mark.contract


def _seed(apiserver: APIServer) -> None:
    for obj in (samples.deployment(), samples.ingress(), samples.httproute(),
                samples.virtualservice()):
        obj["metadata"]["namespace"] = "demo"
        apiserver.store.create(obj)


def test_get_json_of_builtin_and_custom(apiserver: APIServer, kubectl: Any) -> None:
    _seed(apiserver)
    out = kubectl("get", "deployment", "shop-blue", "-o", "json")
    assert out.returncode == 0, out.stderr
    dep = json.loads(out.stdout)
    assert dep["status"]["readyReplicas"] == 2 and dep["kind"] == "Deployment"
    route = json.loads(kubectl("get", "httproutes.gateway.networking.k8s.io", "shop",
                               "-o", "json").stdout)
    assert route["spec"]["rules"][0]["backendRefs"][0]["weight"] == 1
    listed = kubectl("get", "vs", "-l", "app notin (x)", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert [i["metadata"]["name"] for i in json.loads(listed.stdout)["items"]] == ["shop"]


def test_patch_types(apiserver: APIServer, kubectl: Any) -> None:
    _seed(apiserver)
    merge = kubectl("patch", "ingress", "shop", "--type", "merge", "-p",
                    '{"metadata":{"annotations":{"kubernetes.io/ingress.class":null}}}')
    assert merge.returncode == 0, merge.stderr
    path = "/spec/rules/0/backendRefs/1/weight"
    json_patch = kubectl("patch", "httproute", "shop", "--type", "json", "-p", json.dumps(
        [{"op": "test", "path": path, "value": 0}, {"op": "replace", "path": path,
                                                    "value": 25}]))
    assert json_patch.returncode == 0, json_patch.stderr
    strategic = kubectl("patch", "deployment", "shop-blue", "--type", "strategic", "-p",
                        '{"spec":{"template":{"spec":{"containers":'
                        '[{"name":"app","image":"shop:2"}]}}}}')
    assert strategic.returncode == 0, strategic.stderr
    ing = apiserver.store.get("networking.k8s.io/v1", "Ingress", "demo", "shop")
    route = apiserver.store.get("gateway.networking.k8s.io/v1", "httproutes", "demo", "shop")
    dep = apiserver.store.get("apps/v1", "deployments", "demo", "shop-blue")
    assert ing and "kubernetes.io/ingress.class" not in ing["metadata"]["annotations"]
    assert route and route["spec"]["rules"][0]["backendRefs"][1]["weight"] == 25
    assert dep and [c["image"] for c in dep["spec"]["template"]["spec"]["containers"]] == [
        "shop:2", "proxy:1"]
    sent = {r.content_type for r in apiserver.requests if r.method == "PATCH"}
    assert sent == {"application/merge-patch+json", "application/json-patch+json",
                    "application/strategic-merge-patch+json"}


def test_patch_failures(apiserver: APIServer, kubectl: Any) -> None:
    _seed(apiserver)
    failed_test = kubectl("patch", "httproute", "shop", "--type", "json", "-p",
                          '[{"op":"test","path":"/spec/rules/0/backendRefs/1/weight",'
                          '"value":99}]')
    assert failed_test.returncode != 0 and "test failed" in failed_test.stderr
    strategic_cr = kubectl("patch", "httproute", "shop", "--type", "strategic", "-p",
                           '{"spec":{}}')
    assert strategic_cr.returncode != 0
    assert "not supported" in strategic_cr.stderr or "415" in strategic_cr.stderr
    missing = kubectl("patch", "ingress", "nope", "--type", "merge", "-p", "{}")
    assert "NotFound" in missing.stderr and 'ingresses.networking.k8s.io "nope" not found' \
        in missing.stderr
    invalid = kubectl("patch", "service", "shop", "--type", "merge", "-p", "{}")
    assert invalid.returncode != 0


def test_apply_dry_run_server_create_and_update(apiserver: APIServer, kubectl: Any) -> None:
    dep = samples.deployment()
    created = kubectl("apply", "--dry-run=server", "-f", "-", "-o", "json",
                      input=json.dumps(dep))
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["metadata"]["name"] == "shop-blue"
    assert apiserver.store.get("apps/v1", "deployments", "demo", "shop-blue") is None
    assert kubectl("apply", "-f", "-", input=json.dumps(dep)).returncode == 0
    dep["spec"]["replicas"] = 5
    changed = kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(dep))
    assert changed.returncode == 0 and "server dry run" in changed.stdout, changed.stderr
    stored = apiserver.store.get("apps/v1", "deployments", "demo", "shop-blue")
    assert stored and stored["spec"]["replicas"] == 2
    dry = [r for r in apiserver.requests if "dryRun=All" in r.path]
    assert [r.method for r in dry] == ["POST", "PATCH"]


def test_apply_dry_run_server_reports_invalid(apiserver: APIServer, kubectl: Any) -> None:
    svc = samples.service(port=-1)
    out = kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(svc))
    assert out.returncode != 0 and "must be between 1 and 65535" in out.stderr
    route = samples.httproute()
    route["spec"]["hostnamez"] = ["x"]
    out = kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(route))
    assert out.returncode != 0 and 'unknown field "spec.hostnamez"' in out.stderr
    svc = samples.service()
    svc["metadata"]["annotations"] = {"a": 1}
    out = kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(svc))
    assert out.returncode != 0 and "annotations" in out.stderr


def test_auth_can_i(apiserver: APIServer, kubectl: Any, tmp_path: Path) -> None:
    apiserver.add_token("tok-x", "x")
    apiserver.set_rules("x", [{"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"],
                               "verbs": ["get", "patch"]}])
    cfg = apiserver.write_kubeconfig(tmp_path / "x.kubeconfig", token="tok-x", namespace="demo")
    yes = kubectl("auth", "can-i", "patch", "ingresses", config=cfg)
    no = kubectl("auth", "can-i", "delete", "ingresses", config=cfg)
    assert (yes.returncode, yes.stdout.strip()) == (0, "yes")
    assert no.returncode == 1 and no.stdout.strip() == "no"
    forbidden = kubectl("delete", "ingress", "shop", config=cfg)
    assert "Forbidden" in forbidden.stderr and 'User "x" cannot delete resource' \
        in forbidden.stderr


def test_kubectl_failure_answers(apiserver: APIServer, kubectl: Any, tmp_path: Path) -> None:
    bad = apiserver.write_kubeconfig(tmp_path / "bad.kubeconfig", token="nope")
    unauthorized = kubectl("get", "ingress", "shop", config=bad)
    assert unauthorized.returncode != 0 and "Unauthorized" in unauthorized.stderr
    kubectl("get", "ingress")  # warm the discovery cache before faults
    apiserver.faults.set(resource="ingresses", error_rate=1.0, error_code=500)
    broken = kubectl("get", "ingress", "shop")
    assert broken.returncode != 0 and "InternalError" in broken.stderr
    apiserver.faults.clear()
    apiserver.store.create(samples.ingress() | {"metadata": {"name": "shop",
                                                               "namespace": "demo"}})
    apiserver.faults.set(resource="ingresses", verbs="write", conflicts=1)
    conflict = kubectl("label", "ingress", "shop", "a=b")
    assert conflict.returncode != 0 and "Conflict" in conflict.stderr
    apiserver.faults.set(resource="ingresses", drop_rate=1.0)
    dropped = kubectl("get", "ingress", "shop", "--request-timeout=5s")
    assert dropped.returncode != 0
