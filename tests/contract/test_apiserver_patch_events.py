"""JSON-patch `test` compares serialized JSON, and Event validation, as a real server does.

Sources (kubernetes/kubernetes): staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go
applies JSON patches with gopkg.in/evanphx/json-patch.v4 (patch.go `test`, `lazyNode.equal`)
to the object as Go's encoding/json wrote it; pkg/apis/core/validation/events.go validates
Events (legacy rules for core/v1, strict rules for events.k8s.io/v1).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from lab.apiserver import APIServer

from .test_apiserver_validation import (
    CONFIGMAPS,
    EVENTS,
    JSON_PATCH,
    NEW_EVENTS,
    ROUTES,
    call,
    configmap,
    failure,
)

pytestmark = pytest.mark.contract

KEY = "/metadata/annotations/note"


def _patch(apiserver: APIServer, raw: str, path: str = CONFIGMAPS + "/c") -> tuple[int, Any]:
    return call(apiserver, "PATCH", path, raw.encode(), JSON_PATCH)


def _test_op(value_json: str, path: str = KEY) -> str:
    return (f'[{{"op":"test","path":"{path}","value":{value_json}}},'
            f'{{"op":"replace","path":"{path}","value":"next"}}]')


@pytest.mark.parametrize(("stored", "sent", "passes"), [
    ("plain", '"plain"', True),
    ("a&b", '"a&b"', False),          # Go wrote "a\u0026b"
    ("a&b", '"a\\u0026b"', True),
    ("<x>", '"<x>"', False),          # Go wrote "\u003cx\u003e"
    ("café", '"caf\\u00e9"', False),  # Python's json.dumps default; Go wrote raw UTF-8
    ("café", '"café"', True),
])
def test_test_op_compares_strings_as_go_serialized_them(
        apiserver: APIServer, stored: str, sent: str, passes: bool) -> None:
    """Scalars compare by bytes (kubernetes-client/python issue 2148)."""
    call(apiserver, "POST", CONFIGMAPS, configmap(annotations={"note": stored}))
    status, body = _patch(apiserver, _test_op(sent))
    if passes:
        assert status == 200, body
        assert body["metadata"]["annotations"]["note"] == "next"
        return
    body = failure(status, body, 422, "Invalid")
    assert body["details"]["causes"] == [{"reason": "UnexpectedServerResponse",
                                          "message": f"testing value {KEY} failed: test failed"}]
    got = apiserver.store.get("v1", "configmaps", "demo", "c")
    assert got and got["metadata"]["annotations"]["note"] == stored


@pytest.mark.parametrize(("sent", "passes"), [("10", True), ("10.0", False), ("true", False)])
def test_test_op_compares_numbers_by_text(apiserver: APIServer, sent: str, passes: bool) -> None:
    """An HTTPRoute weight stored as 10 is written `10`: `10.0` and `true` do not equal it."""
    from lab.apiserver import samples

    route = samples.httproute(green_weight=10)
    route["metadata"]["namespace"] = "demo"
    call(apiserver, "POST", ROUTES, route)
    path = "/spec/rules/0/backendRefs/1/weight"
    raw = (f'[{{"op":"test","path":"{path}","value":{sent}}},'
           f'{{"op":"replace","path":"{path}","value":50}}]')
    status, body = _patch(apiserver, raw, ROUTES + "/shop")
    assert (status == 200) == passes, body


def test_test_op_compares_objects_by_key_not_order(apiserver: APIServer) -> None:
    """Objects compare key by key (lazyNode.equal), whatever the order or spacing."""
    call(apiserver, "POST", CONFIGMAPS, configmap(labels={"a": "1", "b": "2"}))
    raw = ('[{"op":"test","path":"/metadata/labels","value": { "b" : "2", "a":"1" }},'
           '{"op":"add","path":"/metadata/labels/c","value":"3"}]')
    assert _patch(apiserver, raw)[0] == 200


def test_test_op_on_a_missing_key_passes_only_for_null(apiserver: APIServer) -> None:
    """A missing key reads as nil: `test` with null passes, anything else fails; a missing
    parent is "test operation does not apply" (json-patch v4 patch.go `test`)."""
    call(apiserver, "POST", CONFIGMAPS, configmap(annotations={"x": "y"}))
    assert _patch(apiserver, '[{"op":"test","path":"/metadata/annotations/nope",'
                             '"value":null}]')[0] == 200
    status, body = _patch(apiserver, '[{"op":"test","path":"/metadata/annotations/nope",'
                                     '"value":"v"}]')
    failure(status, body, 422, "Invalid")
    status, body = _patch(apiserver, '[{"op":"test","path":"/spec/nope/deeper","value":1}]')
    body = failure(status, body, 422, "Invalid")
    assert body["details"]["causes"][0]["message"] == (
        "test operation does not apply: is missing path: /spec/nope/deeper: missing value")


def test_official_client_non_ascii_test_op_fails_as_on_a_real_server(
        apiserver: APIServer, kube_api: Any) -> None:
    """The official client sends JSON with non-ASCII characters escaped (json.dumps), so a
    `test` on a stored non-ASCII value fails on a real server, and here."""
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_config_map("demo", configmap(annotations={"note": "naïve"}))
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_config_map("c", "demo", [
            {"op": "test", "path": KEY, "value": "naïve"},
            {"op": "replace", "path": KEY, "value": "x"}])
    assert exc.value.status == 422


# --- Events --------------------------------------------------------------------------------

def _core_event(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}, "reason": "R",
            "involvedObject": {"kind": "Deployment", "name": "d", "namespace": "demo"},
            **fields}


def test_core_event_namespace_must_match_involved_object(apiserver: APIServer) -> None:
    """legacyValidateEvent: without eventTime, involvedObject.namespace must be the Event's."""
    status, body = call(apiserver, "POST", EVENTS, _core_event(
        involvedObject={"kind": "Deployment", "name": "d", "namespace": "other"}))
    body = failure(status, body, 422, "Invalid")
    assert body["message"] == ('Event "e" is invalid: involvedObject.namespace: Invalid value: '
                               '"other": does not match event.namespace')


def test_core_event_with_event_time_needs_the_new_fields(apiserver: APIServer) -> None:
    """legacyValidateEvent: with eventTime set, reportingController, reportingInstance,
    action and reason are required, and the length limits apply."""
    status, body = call(apiserver, "POST", EVENTS, _core_event(
        eventTime="2026-01-01T00:00:00.000000Z", message="m" * 1025))
    body = failure(status, body, 422, "Invalid")
    fields = [c["field"] for c in body["details"]["causes"]]
    assert fields == ["reportingController"] * 3 + ["reportingInstance",
                      "action", "message"]


def test_core_event_without_event_time_is_legacy_and_accepted(apiserver: APIServer) -> None:
    """What shifter and kubectl-era clients send: firstTimestamp/lastTimestamp/count/source."""
    status, _ = call(apiserver, "POST", EVENTS, _core_event(
        firstTimestamp="2026-01-01T00:00:00Z", lastTimestamp="2026-01-01T00:00:00Z", count=1,
        type="Normal", source={"component": "shifter"}, message="m" * 5000))
    assert status == 201


def _new_event(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "n"},
            "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "shifter",
            "reportingInstance": "pod-1", "action": "Shift", "reason": "Step",
            "type": "Normal", "regarding": {"kind": "Deployment", "name": "d",
                                            "namespace": "demo"}, **fields}


def test_events_k8s_io_event_strict_rules(apiserver: APIServer) -> None:
    """ValidateEventCreate for events.k8s.io/v1: eventTime required, type Normal or Warning,
    the deprecated fields unset, series.count >= 2 (field paths are the internal names)."""
    assert call(apiserver, "POST", NEW_EVENTS, _new_event())[0] == 201
    status, body = call(apiserver, "POST", NEW_EVENTS, _new_event(
        metadata={"name": "n2"}, eventTime=None, type="Info", deprecatedCount=3,
        deprecatedFirstTimestamp="2026-01-01T00:00:00Z", series={"count": 1}))
    body = failure(status, body, 422, "Invalid")
    messages = {c["field"]: c["message"] for c in body["details"]["causes"]}
    assert messages == {
        "series.count": 'Invalid value: "": should be at least 2',
        "series.lastObservedTime": "Required value",
        "eventTime": "Required value",
        "type": 'Invalid value: "": has invalid value: Info',
        "firstTimestamp": 'Invalid value: "": needs to be unset',
        "count": 'Invalid value: "": needs to be unset',
    }


def test_events_k8s_io_name_must_be_a_dns_subdomain(apiserver: APIServer) -> None:
    """Strict validation uses NameIsDNSSubdomain for events.k8s.io/v1 (events.go)."""
    status, body = call(apiserver, "POST", NEW_EVENTS, _new_event(metadata={"name": "Shop.X"}))
    body = failure(status, body, 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"


def test_official_typed_client_datetime_without_microseconds_is_400(kube_api: Any) -> None:
    """The official client serializes a datetime with isoformat(): no fraction when the
    microseconds are 0 and `+00:00`; a MicroTime needs six digits
    (staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/micro_time.go), so a real server
    answers 400. (shifter sends its own strings, `%Y-%m-%dT%H:%M:%S.%fZ`.)"""
    import datetime

    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    body = client.EventsV1Event(
        metadata=client.V1ObjectMeta(name="n"), event_time=when,
        reporting_controller="shifter", reporting_instance="i", action="A", reason="R",
        type="Normal", regarding=client.V1ObjectReference(kind="Deployment", name="d",
                                                          namespace="demo"))
    with pytest.raises(ApiException) as exc:
        client.EventsV1Api(kube_api).create_namespaced_event("demo", body)
    assert exc.value.status == 400
    assert json.loads(exc.value.body)["message"].endswith(
        'cannot parse "+00:00" as ".000000"')
    body.event_time = when.replace(microsecond=1)
    assert client.EventsV1Api(kube_api).create_namespaced_event("demo", body).metadata.name == "n"
