"""The API emulator through the official `kubernetes` client: verbs, metadata, patches."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from lab.apiserver import APIServer, samples
from lab.apiserver.errors import ApiError

pytestmark = pytest.mark.contract

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


def status_of(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    body = json.loads(exc.value.body)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure" and body["code"] == exc.value.status
    return body  # type: ignore[no-any-return]


def test_create_sets_server_metadata_and_rv_increases(kube_api: Any) -> None:
    core = client.CoreV1Api(kube_api)
    first = core.create_namespaced_service("demo", samples.service("a"))
    second = core.create_namespaced_config_map(
        "demo", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    assert first.metadata.uid and first.metadata.creation_timestamp
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    assert first.spec.ports[0].protocol == "TCP"


def test_get_missing_is_404_notfound(kube_api: Any) -> None:
    with pytest.raises(ApiException) as exc:
        client.NetworkingV1Api(kube_api).read_namespaced_ingress("nope", "demo")
    body = status_of(exc)
    assert exc.value.status == 404 and body["reason"] == "NotFound"
    assert body["message"] == 'ingresses.networking.k8s.io "nope" not found'
    assert body["details"] == {"name": "nope", "group": "networking.k8s.io",
                               "kind": "ingresses"}


def test_create_existing_is_409_already_exists(kube_api: Any) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_service("demo", samples.service())
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_service("demo", samples.service())
    assert exc.value.status == 409 and status_of(exc)["reason"] == "AlreadyExists"


def test_create_in_missing_namespace_is_404(kube_api: Any) -> None:
    with pytest.raises(ApiException) as exc:
        client.CoreV1Api(kube_api).create_namespaced_service("ghost", samples.service())
    assert exc.value.status == 404
    assert status_of(exc)["message"] == 'namespaces "ghost" not found'


def test_replace_with_stale_resource_version_is_409_conflict(kube_api: Any) -> None:
    net = client.NetworkingV1Api(kube_api)
    created = net.create_namespaced_ingress("demo", samples.ingress())
    body = samples.ingress()
    body["metadata"]["resourceVersion"] = created.metadata.resource_version
    body["metadata"]["annotations"]["x"] = "1"
    net.replace_namespaced_ingress("shop", "demo", body)
    with pytest.raises(ApiException) as exc:
        net.replace_namespaced_ingress("shop", "demo", body)  # same, now stale, version
    assert exc.value.status == 409 and status_of(exc)["reason"] == "Conflict"
    assert "the object has been modified" in status_of(exc)["message"]


def test_patch_carrying_stale_resource_version_is_409(kube_api: Any) -> None:
    net = client.NetworkingV1Api(kube_api)
    created = net.create_namespaced_ingress("demo", samples.ingress())
    patch = {"metadata": {"resourceVersion": created.metadata.resource_version,
                          "labels": {"a": "b"}}}
    net.patch_namespaced_ingress("shop", "demo", patch, _content_type=MERGE)
    with pytest.raises(ApiException) as exc:
        net.patch_namespaced_ingress("shop", "demo", patch, _content_type=MERGE)
    assert exc.value.status == 409


def test_generation_bumps_on_spec_changes_only(kube_api: Any) -> None:
    apps = client.AppsV1Api(kube_api)
    apps.create_namespaced_deployment("demo", samples.deployment())
    labelled = apps.patch_namespaced_deployment("shop-blue", "demo",
                                                {"metadata": {"labels": {"x": "y"}}})
    assert labelled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("shop-blue", "demo", {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2


def test_deployment_is_made_ready_and_status_subresource_works(
        kube_api: Any, apiserver: APIServer) -> None:
    apps = client.AppsV1Api(kube_api)
    apps.create_namespaced_deployment("demo", samples.deployment(replicas=3))
    status = apps.read_namespaced_deployment_status("shop-blue", "demo").status
    assert (status.observed_generation, status.replicas, status.ready_replicas,
            status.updated_replicas, status.available_replicas) == (1, 3, 3, 3, 3)
    apps.patch_namespaced_deployment_status("shop-blue", "demo",
                                            {"status": {"readyReplicas": 1}}, _content_type=MERGE)
    after = apps.read_namespaced_deployment("shop-blue", "demo")
    assert after.status.ready_replicas == 1
    # the main resource ignores status, the status subresource ignores spec
    apps.patch_namespaced_deployment("shop-blue", "demo", {"status": {"readyReplicas": 9}})
    apps.patch_namespaced_deployment_status("shop-blue", "demo", {"spec": {"replicas": 7}},
                                            _content_type=MERGE)
    final = apps.read_namespaced_deployment("shop-blue", "demo")
    assert final.spec.replicas == 3
    assert final.status.ready_replicas in (1, 3)


def test_label_selectors(kube_api: Any) -> None:
    core = client.CoreV1Api(kube_api)
    for name, labels in (("a", {"app": "shop", "colour": "blue"}),
                         ("b", {"app": "shop", "colour": "green"}),
                         ("c", {"app": "other"})):
        core.create_namespaced_config_map("demo", {"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": name, "labels": labels}})

    def names(selector: str) -> list[str]:
        listed = core.list_namespaced_config_map("demo", label_selector=selector)
        return [i.metadata.name for i in listed.items]

    assert names("app=shop") == ["a", "b"]
    assert names("app=shop,colour!=blue") == ["b"]
    assert names("colour in (blue,green)") == ["a", "b"]
    assert names("colour notin (blue)") == ["b", "c"]
    assert names("colour") == ["a", "b"]
    assert names("!colour") == ["c"]


def test_list_has_kind_and_resource_version(kube_api: Any) -> None:
    api = client.CustomObjectsApi(kube_api)
    api.create_namespaced_custom_object(*samples.GW[:2], "demo", samples.GW[2],
                                        samples.httproute())
    listed = api.list_namespaced_custom_object(*samples.GW[:2], "demo", samples.GW[2])
    assert listed["kind"] == "HTTPRouteList" and listed["metadata"]["resourceVersion"]
    assert listed["items"][0]["kind"] == "HTTPRoute"


def test_dry_run_does_not_persist(kube_api: Any, apiserver: APIServer) -> None:
    net = client.NetworkingV1Api(kube_api)
    before = apiserver.store.revision
    net.create_namespaced_ingress("demo", samples.ingress(), dry_run="All")
    assert apiserver.store.get("networking.k8s.io/v1", "ingresses", "demo", "shop") is None
    net.create_namespaced_ingress("demo", samples.ingress())
    net.patch_namespaced_ingress("shop", "demo", {"metadata": {"labels": {"x": "1"}}},
                                 dry_run="All")
    net.delete_namespaced_ingress("shop", "demo", dry_run="All")
    stored = apiserver.store.get("networking.k8s.io/v1", "ingresses", "demo", "shop")
    assert stored is not None and "labels" not in stored["metadata"]
    assert apiserver.store.revision == before + 1
    assert any("dryRun=All" in r.path for r in apiserver.requests)


def test_merge_patch_null_deletes(kube_api: Any) -> None:
    net = client.NetworkingV1Api(kube_api)
    net.create_namespaced_ingress("demo", samples.ingress(canary=True))
    patched = net.patch_namespaced_ingress(
        "shop", "demo", {"metadata": {"annotations": {
            "nginx.ingress.kubernetes.io/canary-weight": None}}}, _content_type=MERGE)
    assert "nginx.ingress.kubernetes.io/canary-weight" not in patched.metadata.annotations
    assert patched.metadata.annotations["nginx.ingress.kubernetes.io/canary"] == "true"


def test_json_patch_with_test_op_and_failed_test_is_422(kube_api: Any) -> None:
    api = client.CustomObjectsApi(kube_api)
    api.create_namespaced_custom_object(*samples.GW[:2], "demo", samples.GW[2],
                                        samples.httproute())
    path = "/spec/rules/0/backendRefs/1/weight"
    ops = [{"op": "test", "path": path, "value": 0}, {"op": "replace", "path": path,
                                                       "value": 10}]
    out = api.patch_namespaced_custom_object(*samples.GW[:2], "demo", samples.GW[2], "shop",
                                             ops, _content_type=JSON_PATCH)
    assert out["spec"]["rules"][0]["backendRefs"][1]["weight"] == 10
    with pytest.raises(ApiException) as exc:
        api.patch_namespaced_custom_object(*samples.GW[:2], "demo", samples.GW[2], "shop",
                                           ops, _content_type=JSON_PATCH)
    assert exc.value.status == 422 and status_of(exc)["reason"] == "Invalid"


def test_strategic_merge_merges_containers_by_name(kube_api: Any) -> None:
    apps = client.AppsV1Api(kube_api)
    apps.create_namespaced_deployment("demo", samples.deployment())
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "shop:2"}]}}}}
    out = apps.patch_namespaced_deployment("shop-blue", "demo", patch)  # strategic by default
    images = {c.name: c.image for c in out.spec.template.spec.containers}
    assert images == {"app": "shop:2", "sidecar": "proxy:1"}
    assert out.spec.template.spec.containers[0].ports[0].container_port == 8080


def test_strategic_merge_replaces_ingress_rules(kube_api: Any) -> None:
    net = client.NetworkingV1Api(kube_api)
    net.create_namespaced_ingress("demo", samples.ingress())
    rules = samples.ingress()["spec"]["rules"]
    rules[0]["host"] = "new.example"
    out = net.patch_namespaced_ingress("shop", "demo", {"spec": {"rules": rules}})
    assert [r.host for r in out.spec.rules] == ["new.example"]


def test_strategic_merge_on_custom_resource_is_415(kube_api: Any) -> None:
    api = client.CustomObjectsApi(kube_api)
    api.create_namespaced_custom_object(*samples.GW[:2], "demo", samples.GW[2],
                                        samples.httproute())
    with pytest.raises(ApiException) as exc:
        api.patch_namespaced_custom_object(*samples.GW[:2], "demo", samples.GW[2], "shop",
                                           {"spec": {}}, _content_type=STRATEGIC)
    assert exc.value.status == 415 and status_of(exc)["reason"] == "UnsupportedMediaType"


def test_httproute_weight_defaults_to_1_and_versions_share_storage(kube_api: Any) -> None:
    api = client.CustomObjectsApi(kube_api)
    api.create_namespaced_custom_object(*samples.GW[:2], "demo", samples.GW[2],
                                        samples.httproute())
    beta = api.get_namespaced_custom_object("gateway.networking.k8s.io", "v1beta1", "demo",
                                            "httproutes", "shop")
    assert beta["apiVersion"] == "gateway.networking.k8s.io/v1beta1"
    assert [b["weight"] for b in beta["spec"]["rules"][0]["backendRefs"]] == [1, 0]
    vs = api.create_namespaced_custom_object("networking.istio.io", "v1beta1", "demo",
                                             "virtualservices", samples.virtualservice(
                                                 api_version="networking.istio.io/v1beta1"))
    got = api.get_namespaced_custom_object(*samples.VS[:2], "demo", samples.VS[2], "shop")
    assert got["metadata"]["uid"] == vs["metadata"]["uid"]


def test_custom_resource_schema_violation_is_422_with_causes(kube_api: Any) -> None:
    route = samples.httproute(green_weight=-5)
    with pytest.raises(ApiException) as exc:
        client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
            *samples.GW[:2], "demo", samples.GW[2], route)
    body = status_of(exc)
    assert exc.value.status == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "spec.rules[0].backendRefs[1].weight"


@pytest.mark.parametrize(("mutate", "code"), [
    (lambda s: s["spec"]["ports"][0].update(port=-1), 422),
    (lambda s: s["spec"]["ports"][0].update(port=70000), 422),
    (lambda s: s["metadata"].update(name="Bad_Name"), 422),
])
def test_builtin_validation(kube_api: Any, apiserver: APIServer, mutate: Any, code: int) -> None:
    svc = samples.service()
    mutate(svc)
    with pytest.raises(ApiException) as exc:
        client.CoreV1Api(kube_api).create_namespaced_service("demo", svc)
    assert exc.value.status == code
    assert status_of(exc)["reason"] == "Invalid"
    assert apiserver.store.list("v1", "services", "demo") == []


def test_non_string_annotation_is_400_in_process(apiserver: APIServer) -> None:
    # the typed client refuses it locally; kubectl sends it (see the kubectl tests)
    svc = samples.service()
    svc["metadata"]["annotations"] = {"a": 1}
    with pytest.raises(ApiError) as exc:
        apiserver.store.create(svc)
    assert exc.value.code == 400 and "annotations" in exc.value.message


def test_unknown_field_strict_is_400_else_pruned_with_warning(kube_api: Any) -> None:
    # the typed client refuses unknown fields locally: send raw dicts through the custom API
    api = client.CustomObjectsApi(kube_api)
    dep = samples.deployment()
    dep["spec"]["colour"] = "blue"
    with pytest.raises(ApiException) as exc:
        api.create_namespaced_custom_object("apps", "v1", "demo", "deployments", dep,
                                            field_validation="Strict")
    assert exc.value.status == 400 and 'unknown field \\"spec.colour\\"' in exc.value.body
    data, _, headers = api.create_namespaced_custom_object_with_http_info(
        "apps", "v1", "demo", "deployments", dep)
    assert "unknown field" in (headers or {}).get("Warning", "")
    assert "colour" not in data["spec"]
    route = samples.httproute()
    route["spec"]["colour"] = "blue"
    with pytest.raises(ApiException) as exc:
        api.create_namespaced_custom_object(*samples.GW[:2], "demo", samples.GW[2], route,
                                            field_validation="Strict")
    assert exc.value.status == 400


def test_non_string_annotation_is_400_over_http(kube_api: Any) -> None:
    dep = samples.deployment()
    dep["metadata"]["annotations"] = {"replicas": 2}
    with pytest.raises(ApiException) as exc:
        client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
            "apps", "v1", "demo", "deployments", dep)
    assert exc.value.status == 400 and status_of(exc)["reason"] == "BadRequest"


def test_validation_also_under_dry_run(kube_api: Any) -> None:
    ing = samples.ingress()
    ing["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = "Regex"
    with pytest.raises(ApiException) as exc:
        client.NetworkingV1Api(kube_api).create_namespaced_ingress("demo", ing, dry_run="All")
    assert exc.value.status == 422 and "pathType" in exc.value.body


def test_lease_and_events(kube_api: Any) -> None:
    lease = client.CoordinationV1Api(kube_api).create_namespaced_lease("demo", {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "shifter"},
        "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}})
    assert lease.spec.holder_identity == "me"
    event = client.EventsV1Api(kube_api).create_namespaced_event("demo", {
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"generateName": "shop-"},
        "eventTime": "2026-01-01T00:00:00.123456Z", "reportingController": "shifter",
        "reportingInstance": "x", "action": "Shift", "reason": "Step", "type": "Normal",
        "regarding": {"kind": "Deployment", "name": "shop-green", "namespace": "demo"}})
    assert event.metadata.name.startswith("shop-")
    client.CoreV1Api(kube_api).create_namespaced_event("demo", {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"}, "reason": "Step",
        "involvedObject": {"kind": "Deployment", "name": "shop-green", "namespace": "demo"}})


def test_delete_then_get_is_404(kube_api: Any) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_service("demo", samples.service())
    gone = core.delete_namespaced_service("shop", "demo")  # services answer the object
    assert gone.metadata.name == "shop"
    client.AppsV1Api(core.api_client).create_namespaced_deployment("demo", samples.deployment())
    status = client.AppsV1Api(core.api_client).delete_namespaced_deployment("shop-blue", "demo")
    assert (status["status"] if isinstance(status, dict) else status.status) == "Success"
    with pytest.raises(ApiException) as exc:
        core.delete_namespaced_service("shop", "demo")
    assert exc.value.status == 404
