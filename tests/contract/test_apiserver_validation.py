"""The emulator refuses what a real kube-apiserver refuses, with the same code, reason and
message shape. Each test names the Kubernetes source (kubernetes/kubernetes unless said)
of the behaviour it checks; requests are sent as raw bytes so the body is exactly what a
client would send.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import pytest

from lab.apiserver import APIServer, samples

pytestmark = pytest.mark.contract

JSON_PATCH = "application/json-patch+json"
MERGE = "application/merge-patch+json"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/demo/leases"
EVENTS = "/api/v1/namespaces/demo/events"
NEW_EVENTS = "/apis/events.k8s.io/v1/namespaces/demo/events"
CONFIGMAPS = "/api/v1/namespaces/demo/configmaps"
ROUTES = "/apis/gateway.networking.k8s.io/v1/namespaces/demo/httproutes"


def call(apiserver: APIServer, method: str, path: str, body: Any = None,
         ctype: str = "application/json") -> tuple[int, Any]:
    """One request with the admin token; `body` bytes are sent as they are."""
    ctx = ssl.create_default_context(cadata=apiserver.ca_pem.decode())
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(apiserver.url + path, data=data, method=method, headers={
        "Authorization": f"Bearer {apiserver.admin_token}", "Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


def lease(name: str = "shifter-shop", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name}, "spec": {"holderIdentity": "me", **spec}}


def configmap(name: str = "c", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta},
            "data": {"k": "v"}}


def failure(status: int, body: Any, code: int, reason: str) -> dict[str, Any]:
    assert status == code, body
    assert body["kind"] == "Status" and body["status"] == "Failure" and body["code"] == code
    assert body["reason"] == reason, body
    return body  # type: ignore[no-any-return]


# --- MicroTime and Time ------------------------------------------------------------------

@pytest.mark.parametrize(("value", "rest"), [
    ("yesterday", 'cannot parse "yesterday" as "2006"'),
    ("2026-01-01T00:00:00Z", 'cannot parse "Z" as ".000000"'),
    ("2026-01-01T00:00:00.123Z", 'cannot parse ".123Z" as ".000000"'),
    ("2026-01-01T00:00:00.123456789Z", 'cannot parse "789Z" as "Z07:00"'),
    ("2026-01-01T00:00:00.000000", 'cannot parse "" as "Z07:00"'),
])
def test_lease_times_must_be_microtime(apiserver: APIServer, value: str, rest: str) -> None:
    """metav1.MicroTime.UnmarshalJSON parses RFC3339Micro, exactly six fractional digits
    and a zone (staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/micro_time.go); the
    decode error is a 400 "X in version ... cannot be handled as a X"
    (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/rest.go transformDecodeError)."""
    status, body = call(apiserver, "POST", LEASES, lease(renewTime=value))
    body = failure(status, body, 400, "BadRequest")
    assert body["message"] == (
        f'Lease in version "v1" cannot be handled as a Lease: parsing time "{value}" as '
        f'"2006-01-02T15:04:05.000000Z07:00": {rest}')
    assert apiserver.store.get("coordination.k8s.io/v1", "leases", "demo", "shifter-shop") is None


def test_lease_microtime_with_zone_offset_and_null_are_accepted(apiserver: APIServer) -> None:
    """A zone offset and JSON null are valid MicroTimes (micro_time.go)."""
    status, _ = call(apiserver, "POST", LEASES, lease(
        acquireTime="2026-01-01T00:00:00.000000+01:00", renewTime=None))
    assert status == 201


def test_event_times_time_and_microtime(apiserver: APIServer) -> None:
    """core/v1 Event: firstTimestamp is a metav1.Time (RFC 3339, fraction optional,
    staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/time.go), eventTime a MicroTime."""
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}, "reason": "R",
             "involvedObject": {"kind": "Deployment", "name": "d", "namespace": "demo"},
             "firstTimestamp": "2026-01-01T00:00:00.5Z"}
    assert call(apiserver, "POST", EVENTS, event)[0] == 201
    bad = {**event, "metadata": {"name": "e2"}, "lastTimestamp": "2026-13-01T00:00:00Z"}
    body = failure(*call(apiserver, "POST", EVENTS, bad), 400, "BadRequest")
    assert body["message"].endswith('parsing time "2026-13-01T00:00:00Z": month out of range')


# --- ObjectMeta ---------------------------------------------------------------------------

def test_annotations_over_256kib_in_total_are_422(apiserver: APIServer) -> None:
    """ValidateAnnotations: the sum of key and value lengths may not exceed 256 KiB, answered
    as FieldValueTooLong on metadata.annotations
    (staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go)."""
    just = {"a": "x" * (256 * 1024 - 1)}
    assert call(apiserver, "POST", LEASES, {**lease(), "metadata": {
        "name": "ok", "annotations": just}})[0] == 201
    over = {"a": "x" * (200 * 1024), "b": "y" * (57 * 1024)}
    status, body = call(apiserver, "POST", LEASES, {**lease(), "metadata": {
        "name": "big", "annotations": over}})
    body = failure(status, body, 422, "Invalid")
    assert body["message"] == ('Lease.coordination.k8s.io "big" is invalid: metadata.annotations:'
                               " Too long: may not be more than 262144 bytes")
    assert body["details"]["causes"] == [{"reason": "FieldValueTooLong",
                                          "field": "metadata.annotations",
                                          "message": "Too long: may not be more than 262144 bytes"}]
    assert body["details"]["kind"] == "Lease" and body["details"]["group"] == "coordination.k8s.io"


def test_an_update_over_the_annotation_limit_is_422_and_changes_nothing(
        apiserver: APIServer) -> None:
    """The same limit on update (ValidateObjectMetaAccessorUpdate in objectmeta.go) and on a
    merge patch: the stored object keeps its resourceVersion."""
    status, created = call(apiserver, "POST", LEASES, lease())
    assert status == 201
    patch = {"metadata": {"annotations": {"shifter.io/state": "x" * (256 * 1024 + 1)}}}
    failure(*call(apiserver, "PATCH", LEASES + "/shifter-shop", patch, MERGE), 422, "Invalid")
    stored = apiserver.store.get("coordination.k8s.io/v1", "leases", "demo", "shifter-shop")
    rv = created["metadata"]["resourceVersion"]
    assert stored and stored["metadata"]["resourceVersion"] == rv


@pytest.mark.parametrize("key", ["-bad", "a/b/c", "Example.com/x", "x" * 64, "/x", "a b"])
def test_annotation_keys_must_be_qualified_names(apiserver: APIServer, key: str) -> None:
    """Annotation keys are qualified names (case-insensitive), objectmeta.go
    ValidateAnnotations with IsQualifiedName from
    staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go."""
    status, body = call(apiserver, "POST", CONFIGMAPS, configmap(annotations={key: "v"}))
    if key == "Example.com/x":  # annotations are lower-cased before the check
        assert status == 201
        return
    body = failure(status, body, 422, "Invalid")
    assert body["message"].startswith('ConfigMap "c" is invalid: metadata.annotations: Invalid '
                                      f"value: {json.dumps(key)}: ")


def test_label_key_and_value_messages(apiserver: APIServer) -> None:
    """ValidateLabels (staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation/
    validation.go): key a qualified name, value a label value, with apimachinery's texts."""
    status, body = call(apiserver, "POST", CONFIGMAPS, configmap(labels={"Example.com/x": "-v"}))
    body = failure(status, body, 422, "Invalid")
    messages = [c["message"] for c in body["details"]["causes"]]
    assert messages == [
        'Invalid value: "Example.com/x": prefix part a lowercase RFC 1123 subdomain must '
        "consist of lower case alphanumeric characters, '-' or '.', and must start and end "
        "with an alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        'Invalid value: "-v": a valid label must be an empty string or consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]
    assert {c["field"] for c in body["details"]["causes"]} == {"metadata.labels"}


@pytest.mark.parametrize(("name", "ok"), [("team-a", True), ("Team", False), ("a.b", False),
                                          ("x" * 64, False)])
def test_namespace_names_are_dns1123_labels(apiserver: APIServer, name: str, ok: bool) -> None:
    """Namespace names: ValidateNamespaceName = IsDNS1123Label (objectmeta.go,
    pkg/apis/core/validation/validation.go ValidateNamespace)."""
    status, body = call(apiserver, "POST", "/api/v1/namespaces", {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    if ok:
        assert status == 201
        return
    body = failure(status, body, 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert "RFC 1123 label" in body["message"] or "no more than 63" in body["message"]


def test_event_names_are_path_segments_but_not_dns(apiserver: APIServer) -> None:
    """core/v1 Event names only need to be path segment names (the common ObjectMeta check in
    staging/src/k8s.io/apiserver/pkg/registry/rest/create.go with ValidatePathSegmentName;
    legacyValidateEvent in pkg/apis/core/validation/events.go checks no name)."""
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "Shop.ABC"},
             "reason": "R", "involvedObject": {"kind": "Deployment", "name": "d",
                                                "namespace": "demo"}}
    assert call(apiserver, "POST", EVENTS, event)[0] == 201


# --- updates -------------------------------------------------------------------------------

def test_lease_put_without_resource_version_is_422(apiserver: APIServer) -> None:
    """Leases do not allow unconditional updates (pkg/registry/coordination/lease/strategy.go
    AllowUnconditionalUpdate false): store.go Update answers NewInvalid on the resource
    (staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go)."""
    assert call(apiserver, "POST", LEASES, lease())[0] == 201
    status, body = call(apiserver, "PUT", LEASES + "/shifter-shop", lease(holderIdentity="b"))
    body = failure(status, body, 422, "Invalid")
    assert body["message"] == ('leases.coordination.k8s.io "shifter-shop" is invalid: '
                               "metadata.resourceVersion: Invalid value: 0: must be specified "
                               "for an update")
    assert body["details"] == {"name": "shifter-shop", "group": "coordination.k8s.io",
                               "kind": "leases", "causes": [{
                                   "reason": "FieldValueInvalid",
                                   "field": "metadata.resourceVersion",
                                   "message": "Invalid value: 0: must be specified for an update"}]}


def test_custom_resource_put_without_resource_version_is_422(apiserver: APIServer) -> None:
    """Custom resources do not allow unconditional updates either (staging/src/k8s.io/
    apiextensions-apiserver/pkg/registry/customresource/strategy.go)."""
    route = samples.httproute()
    route["metadata"]["namespace"] = "demo"
    assert call(apiserver, "POST", ROUTES, route)[0] == 201
    status, body = call(apiserver, "PUT", ROUTES + "/shop", route)
    body = failure(status, body, 422, "Invalid")
    assert body["message"].startswith('httproutes.gateway.networking.k8s.io "shop" is invalid: '
                                      "metadata.resourceVersion")


def test_configmap_put_without_resource_version_is_allowed(apiserver: APIServer) -> None:
    """Most built-in types allow an unconditional update (e.g. pkg/registry/core/configmap/
    strategy.go AllowUnconditionalUpdate true)."""
    assert call(apiserver, "POST", CONFIGMAPS, configmap())[0] == 201
    assert call(apiserver, "PUT", CONFIGMAPS + "/c", configmap())[0] == 200


def test_lease_put_creates_when_absent(apiserver: APIServer) -> None:
    """Leases may be created by PUT (lease/strategy.go AllowCreateOnUpdate true): 201."""
    status, body = call(apiserver, "PUT", LEASES + "/fresh", lease("fresh"))
    assert status == 201 and body["metadata"]["uid"]


def test_put_with_another_uid_is_a_409_precondition_failure(apiserver: APIServer) -> None:
    """A uid in a PUT body is a precondition (staging/src/k8s.io/apiserver/pkg/registry/rest/
    update.go defaultUpdatedObjectInfo.Preconditions): a mismatch is 409 Conflict."""
    _, created = call(apiserver, "POST", LEASES, lease())
    body = dict(created, metadata={**created["metadata"], "uid": "other"})
    status, answer = call(apiserver, "PUT", LEASES + "/shifter-shop", body)
    answer = failure(status, answer, 409, "Conflict")
    assert answer["message"] == (
        'Operation cannot be fulfilled on leases.coordination.k8s.io "shifter-shop": '
        f'Precondition failed: UID in precondition: other, UID in object meta: '
        f'{created["metadata"]["uid"]}')


def test_patch_changing_the_uid_is_422_immutable(apiserver: APIServer) -> None:
    """A patch has no uid precondition; ValidateObjectMetaAccessorUpdate refuses the change
    (staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go)."""
    call(apiserver, "POST", LEASES, lease())
    status, body = call(apiserver, "PATCH", LEASES + "/shifter-shop",
                        {"metadata": {"uid": "other"}}, MERGE)
    body = failure(status, body, 422, "Invalid")
    assert body["message"] == ('Lease.coordination.k8s.io "shifter-shop" is invalid: '
                               'metadata.uid: Invalid value: "other": field is immutable')


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_changing_the_namespace_is_400(apiserver: APIServer, method: str) -> None:
    """checkName (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/rest.go), run by the
    update handler and after a patch (handlers/patch.go)."""
    _, created = call(apiserver, "POST", CONFIGMAPS, configmap())
    if method == "PUT":
        body: Any = dict(created, metadata={**created["metadata"], "namespace": "other"})
        status, answer = call(apiserver, "PUT", CONFIGMAPS + "/c", body)
    else:
        status, answer = call(apiserver, "PATCH", CONFIGMAPS + "/c",
                              {"metadata": {"namespace": "other"}}, MERGE)
    answer = failure(status, answer, 400, "BadRequest")
    assert answer["message"] == ("the namespace of the object (other) does not match the "
                                 "namespace on the request (demo)")


def test_patch_changing_the_name_is_400(apiserver: APIServer) -> None:
    """checkName after the patch (handlers/patch.go, handlers/rest.go)."""
    call(apiserver, "POST", CONFIGMAPS, configmap())
    status, body = call(apiserver, "PATCH", CONFIGMAPS + "/c",
                        [{"op": "replace", "path": "/metadata/name", "value": "d"}], JSON_PATCH)
    body = failure(status, body, 400, "BadRequest")
    assert body["message"] == "the name of the object (d) does not match the name on the URL (c)"


def test_body_kind_not_matching_the_url_is_400(apiserver: APIServer) -> None:
    """The decoder cannot convert another kind into the URL's (handlers/create.go,
    rest.go transformDecodeError); another version of the same kind is refused by
    "the API version in the data ... does not match" (handlers/create.go, update.go)."""
    status, body = call(apiserver, "POST", CONFIGMAPS, samples.service())
    body = failure(status, body, 400, "BadRequest")
    assert body["message"] == ('Service in version "v1" cannot be handled as a ConfigMap: '
                               "converting (v1.Service) to (core.ConfigMap): unknown conversion")
    route = samples.httproute()
    route["apiVersion"] = "gateway.networking.k8s.io/v1beta1"
    status, body = call(apiserver, "POST", ROUTES, route)
    body = failure(status, body, 400, "BadRequest")
    assert body["message"] == ("the API version in the data (gateway.networking.k8s.io/v1beta1)"
                               " does not match the expected API version "
                               "(gateway.networking.k8s.io/v1)")


@pytest.mark.parametrize(("ctype", "message"), [
    (MERGE, "Invalid JSON Patch"), (JSON_PATCH, "unexpected end of JSON input"),
    ("application/strategic-merge-patch+json", "unexpected end of JSON input")])
def test_empty_patch_body_is_400(apiserver: APIServer, ctype: str, message: str) -> None:
    """An empty body is not a patch: evanphx/json-patch MergePatch answers ErrBadJSONPatch,
    DecodePatch and the strategic patch json.Unmarshal's error, all as 400
    (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go)."""
    call(apiserver, "POST", CONFIGMAPS, configmap())
    body = failure(*call(apiserver, "PATCH", CONFIGMAPS + "/c", b"", ctype), 400, "BadRequest")
    assert body["message"] == message


def test_empty_merge_patch_object_is_a_no_op(apiserver: APIServer) -> None:
    """`{}` is a valid merge patch that changes nothing: 200, same resourceVersion."""
    _, created = call(apiserver, "POST", CONFIGMAPS, configmap())
    status, body = call(apiserver, "PATCH", CONFIGMAPS + "/c", b"{}", MERGE)
    assert status == 200
    assert body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


@pytest.mark.parametrize(("query", "field", "message"), [
    ("dryRun=Yes", "dryRun", 'Unsupported value: []string{"Yes"}: supported values: "All"'),
    ("fieldValidation=Loud", "fieldValidation",
     'Unsupported value: "Loud": supported values: "Ignore", "Strict", "Warn"')])
def test_bad_write_options_are_422_on_the_options_kind(apiserver: APIServer, query: str,
                                                       field: str, message: str) -> None:
    """ValidateCreateOptions: dryRun and fieldValidation values
    (staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go), answered
    by the create handler (handlers/create.go) as Invalid on CreateOptions.meta.k8s.io."""
    status, body = call(apiserver, "POST", f"{CONFIGMAPS}?{query}", configmap())
    body = failure(status, body, 422, "Invalid")
    assert body["message"] == f'CreateOptions.meta.k8s.io "" is invalid: {field}: {message}'
    assert apiserver.store.get("v1", "configmaps", "demo", "c") is None


def test_deployment_selector_is_immutable(apiserver: APIServer) -> None:
    """apps/v1 Deployments keep spec.selector (pkg/apis/apps/validation/validation.go
    ValidateDeploymentUpdate); replicas and the template may change."""
    path = "/apis/apps/v1/namespaces/demo/deployments"
    dep = samples.deployment("shop-green")
    assert call(apiserver, "POST", path, dep)[0] == 201
    assert call(apiserver, "PATCH", path + "/shop-green", {"spec": {"replicas": 3}},
                MERGE)[0] == 200
    patch = {"spec": {"selector": {"matchLabels": {"colour": "blue"}}}}
    status, body = call(apiserver, "PATCH", path + "/shop-green", patch, MERGE)
    body = failure(status, body, 422, "Invalid")
    assert body["message"].startswith('Deployment.apps "shop-green" is invalid: spec.selector: '
                                      "Invalid value: v1.LabelSelector{MatchLabels:")
    assert body["message"].endswith(": field is immutable")


def test_openapi_required_is_not_a_real_servers_rule(apiserver: APIServer) -> None:
    """Built-in types are validated in Go, not against their OpenAPI `required` lists: a
    core/v1 Event without involvedObject is legal in `default` (legacyValidateEvent in
    pkg/apis/core/validation/events.go), and a Service port without `port` is a bad port
    number (pkg/apis/core/validation/validation.go validateServicePort)."""
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}, "reason": "R"}
    assert call(apiserver, "POST", "/api/v1/namespaces/default/events", event)[0] == 201
    svc = samples.service()
    del svc["spec"]["ports"][0]["port"]
    status, body = call(apiserver, "POST", "/api/v1/namespaces/demo/services", svc)
    body = failure(status, body, 422, "Invalid")
    assert body["message"] == ('Service "shop" is invalid: spec.ports[0].port: Invalid value: 0:'
                               " must be between 1 and 65535, inclusive")


def test_create_with_a_resource_version_is_refused(apiserver: APIServer) -> None:
    """The storage refuses it (staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go
    Create: ErrResourceVersionSetOnCreate), a plain error answered as 500 with reason
    Unknown (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/status.go
    ErrorToAPIStatus): what `kubectl create -f` of a `kubectl get -o yaml` output meets."""
    status, body = call(apiserver, "POST", CONFIGMAPS, configmap(resourceVersion="12"))
    body = failure(status, body, 500, "Unknown")
    assert body["message"] == "resourceVersion should not be set on objects to be created"


def test_delete_preconditions(apiserver: APIServer) -> None:
    """DeleteOptions.preconditions: a uid or resourceVersion that is not the object's is 409
    (staging/src/k8s.io/apiserver/pkg/storage/interfaces.go Preconditions.Check,
    registry/generic/registry/store.go Delete)."""
    _, created = call(apiserver, "POST", CONFIGMAPS, configmap())
    for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        opts = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {key: "x"}}
        status, body = call(apiserver, "DELETE", CONFIGMAPS + "/c", opts)
        body = failure(status, body, 409, "Conflict")
        assert body["message"] == (f'Operation cannot be fulfilled on configmaps "c": '
                                   f"Precondition failed: {label} in precondition: x, {label} "
                                   f"in object meta: {created['metadata'][key]}")
    opts = {"preconditions": {"uid": created["metadata"]["uid"]}}
    assert call(apiserver, "DELETE", CONFIGMAPS + "/c", opts)[0] == 200


def test_apply_patch_needs_a_field_manager(apiserver: APIServer) -> None:
    """ValidatePatchOptions: an apply patch without fieldManager is 422 on PatchOptions
    (staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go)."""
    body = json.dumps(configmap()).encode()
    status, answer = call(apiserver, "PATCH", CONFIGMAPS + "/c", body,
                          "application/apply-patch+yaml")
    answer = failure(status, answer, 422, "Invalid")
    assert answer["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                                 "Required value: is required for apply patch")
    assert call(apiserver, "PATCH", CONFIGMAPS + "/c?fieldManager=me", body,
                "application/apply-patch+yaml")[0] == 201


def test_a_body_over_3_mib_is_413(apiserver: APIServer) -> None:
    """limitedReadBody with MaxRequestBodyBytes, 3 MiB by default
    (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/rest.go,
    staging/src/k8s.io/apiserver/pkg/server/config.go)."""
    big = configmap()
    big["data"] = {"k": "x" * (3 * 1024 * 1024)}
    status, body = call(apiserver, "POST", CONFIGMAPS, big)
    body = failure(status, body, 413, "RequestEntityTooLarge")
    assert body["message"] == "Request entity too large: limit is 3145728"
