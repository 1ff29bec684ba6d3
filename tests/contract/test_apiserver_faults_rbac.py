"""Failure answers of the API emulator: 401, 403 (RBAC), 429, 5xx, 409 faults, drops."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from lab.apiserver import APIServer, samples

pytestmark = pytest.mark.contract

ROLE = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "shifter", "namespace": "demo"},
        "rules": [{"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"],
                   "verbs": ["get", "list"]},
                  {"apiGroups": ["apps"], "resources": ["deployments/status"],
                   "verbs": ["get"], "resourceNames": ["shop-blue"]}]}


def _client(apiserver: APIServer, tmp_path: Any, token: str) -> client.ApiClient:
    from kubernetes import config

    path = apiserver.write_kubeconfig(tmp_path / "user.kubeconfig", token=token)
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=configuration)
    return client.ApiClient(configuration)


def _admin(apiserver: APIServer, method: str, path: str, body: Any = None,
           token: str | None = None) -> tuple[int, Any]:
    ctx = ssl.create_default_context(cadata=apiserver.ca_pem.decode())
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(apiserver.url + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token or apiserver.admin_token}",
        "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


def test_bad_token_is_401(apiserver: APIServer, tmp_path: Any) -> None:
    api = _client(apiserver, tmp_path, "not-a-token")
    try:
        with pytest.raises(ApiException) as exc:
            client.CoreV1Api(api).list_namespaced_service("demo")
    finally:
        api.close()
    body = json.loads(exc.value.body)
    assert exc.value.status == 401 and body["reason"] == "Unauthorized"


def test_rbac_denies_with_real_message_and_allows_rules(apiserver: APIServer,
                                                         tmp_path: Any) -> None:
    apiserver.store.create(samples.ingress() | {"metadata": {"name": "shop",
                                                               "namespace": "demo"}})
    apiserver.add_token("tok-x", "x")
    apiserver.load_role("x", ROLE)
    api = _client(apiserver, tmp_path, "tok-x")
    try:
        net = client.NetworkingV1Api(api)
        assert net.read_namespaced_ingress("shop", "demo").metadata.name == "shop"
        with pytest.raises(ApiException) as exc:
            net.patch_namespaced_ingress("shop", "demo", {"metadata": {"labels": {"a": "b"}}})
        apps = client.AppsV1Api(api)
        with pytest.raises(ApiException) as denied_status:
            apps.read_namespaced_deployment_status("shop-green", "demo")
    finally:
        api.close()
    body = json.loads(exc.value.body)
    assert exc.value.status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == ('ingresses.networking.k8s.io "shop" is forbidden: User "x" '
                               'cannot patch resource "ingresses" in API group '
                               '"networking.k8s.io" in the namespace "demo"')
    assert denied_status.value.status == 403
    assert 'resource "deployments/status"' in json.loads(denied_status.value.body)["message"]


def test_self_subject_access_review_uses_the_rules(apiserver: APIServer,
                                                   tmp_path: Any) -> None:
    apiserver.add_token("tok-x", "x")
    apiserver.set_rules("x", ROLE["rules"])
    api = _client(apiserver, tmp_path, "tok-x")
    try:
        authz = client.AuthorizationV1Api(api)

        def can(verb: str, resource: str, group: str) -> bool:
            review = authz.create_self_subject_access_review({
                "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"namespace": "demo", "verb": verb,
                                                "group": group, "resource": resource}}})
            return bool(review.status.allowed)

        assert can("list", "ingresses", "networking.k8s.io")
        assert not can("patch", "ingresses", "networking.k8s.io")
    finally:
        api.close()


def test_429_has_retry_after(apiserver: APIServer, kube_api: Any) -> None:
    apiserver.faults.set(resource="ingresses", error_rate=1.0, error_code=429)
    with pytest.raises(ApiException) as exc:
        client.NetworkingV1Api(kube_api).list_namespaced_ingress("demo")
    assert exc.value.status == 429 and exc.value.headers["Retry-After"] == "1"
    assert json.loads(exc.value.body)["reason"] == "TooManyRequests"
    # other resources are not affected
    client.CoreV1Api(kube_api).list_namespaced_service("demo")


@pytest.mark.parametrize(("code", "reason"), [(500, "InternalError"),
                                               (503, "ServiceUnavailable")])
def test_injected_server_errors(apiserver: APIServer, kube_api: Any, code: int,
                                reason: str) -> None:
    apiserver.faults.set(verbs="write", error_rate=1.0, error_code=code)
    core = client.CoreV1Api(kube_api)
    core.list_namespaced_service("demo")  # reads pass
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_service("demo", samples.service())
    assert exc.value.status == code and json.loads(exc.value.body)["reason"] == reason
    apiserver.faults.clear()
    core.create_namespaced_service("demo", samples.service())


def test_next_n_writes_conflict(apiserver: APIServer, kube_api: Any) -> None:
    net = client.NetworkingV1Api(kube_api)
    net.create_namespaced_ingress("demo", samples.ingress())
    apiserver.faults.set(resource="ingresses", name="shop", conflicts=2)
    patch = {"metadata": {"labels": {"a": "b"}}}
    for _ in range(2):
        with pytest.raises(ApiException) as exc:
            net.patch_namespaced_ingress("shop", "demo", patch)
        assert exc.value.status == 409 and json.loads(exc.value.body)["reason"] == "Conflict"
    assert net.patch_namespaced_ingress("shop", "demo", patch).metadata.labels == {"a": "b"}


def test_dropped_connection_is_a_client_error(apiserver: APIServer, kube_api: Any) -> None:
    apiserver.faults.set(resource="services", drop_rate=1.0)
    with pytest.raises(urllib3.exceptions.HTTPError):
        client.CoreV1Api(kube_api).list_namespaced_service("demo")
    assert any(r.status == 0 for r in apiserver.requests)


def test_latency_fault_is_applied_to_matching_requests(apiserver: APIServer,
                                                       kube_api: Any) -> None:
    apiserver.faults.set(resource="configmaps", verbs="read", latency=0.05)
    assert apiserver.faults.rules()[0]["latency"] == 0.05
    client.CoreV1Api(kube_api).list_namespaced_config_map("demo")


def test_faults_over_http_need_the_admin_token(apiserver: APIServer, kube_api: Any) -> None:
    apiserver.add_token("tok-x", "x")
    code, _ = _admin(apiserver, "PUT", "/lab/faults", {"resource": "x"}, token="tok-x")
    assert code == 401
    code, body = _admin(apiserver, "PUT", "/lab/faults",
                        {"resource": "services", "error_rate": 1.0, "error_code": 503})
    assert code == 200 and body["rules"][0]["error_code"] == 503
    with pytest.raises(ApiException) as exc:
        client.CoreV1Api(kube_api).list_namespaced_service("demo")
    assert exc.value.status == 503
    code, body = _admin(apiserver, "PUT", "/lab/faults", {"error_rate": 2})
    assert code == 400 and "error_rate" in body["message"]
    assert _admin(apiserver, "DELETE", "/lab/faults")[1] == {"rules": []}
    assert _admin(apiserver, "GET", "/lab/faults")[0] == 200
    client.CoreV1Api(kube_api).list_namespaced_service("demo")


def test_faults_do_not_touch_in_process_store(apiserver: APIServer) -> None:
    apiserver.faults.set(error_rate=1.0, drop_rate=1.0)
    created = apiserver.store.create(samples.service() | {"metadata": {
        "name": "shop", "namespace": "demo"}})
    assert created["metadata"]["resourceVersion"]
