"""ingress-nginx router: canary parsing, the canary body, patch bodies, ordered promote."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shifter.errors import InvalidInput, KubeError
from shifter.kube.client import PatchType
from shifter.routers.base import Colour, Split
from shifter.routers.nginx import (
    CANARY,
    TOTAL,
    WEIGHT,
    NginxConfig,
    NginxRouter,
    canary_body,
    canary_ops,
    canary_view,
    nginx_split,
    raw_weight,
    zero_weight_body,
)
from tests.unit.test_router_fakekube import TARGET, FakeKube, ref, with_services

BLUE, GREEN = Colour.BLUE, Colour.GREEN
P0 = "/spec/rules/0/http/paths/0/backend/service/name"


def path(p: str, svc: str) -> dict[str, Any]:
    return {"path": p, "pathType": "Prefix",
            "backend": {"service": {"name": svc, "port": {"number": 80}}}}


def main_ingress(colour: str = "shop-blue") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "shop", "namespace": "demo", "uid": "u-1", "labels": {"app": "s"},
                     "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/",
                                     "kubernetes.io/ingress.class": "nginx"}},
        "spec": {"ingressClassName": "nginx",
                 "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
                 "rules": [{"host": "shop.example.com", "http": {"paths": [
                     path("/", colour), path("/api", "shop-api")]}},
                     {"host": "other.example.com", "http": {"paths": [path("/", "other")]}}]},
    }


def canary(colour: str = "shop-green", weight: str | None = "10",
           **extra: str) -> dict[str, Any]:
    ann = {CANARY: "true", **extra}
    if weight is not None:
        ann[WEIGHT] = weight
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "shop-canary", "namespace": "demo", "annotations": ann},
            "spec": {"rules": [{"host": "shop.example.com",
                                "http": {"paths": [path("/", colour)]}}]}}


def router(main: dict[str, Any], can: dict[str, Any] | None = None
           ) -> tuple[NginxRouter, FakeKube]:
    fake = with_services(FakeKube())
    fake.put(ref("Ingress", "shop"), main)
    if can is not None:
        fake.put(ref("Ingress", "shop-canary"), can)
    return NginxRouter(fake, TARGET, NginxConfig(ingress="shop")), fake


@pytest.mark.parametrize(("can", "expected"), [
    (None, Split(BLUE, 0)),
    (canary(), Split(BLUE, 10)),
    (canary(weight=None), Split(BLUE, 0)),
    (canary(weight="0", colour="shop-blue"), Split(BLUE, 0)),  # after a promote: fine
    (canary(weight="300", **{TOTAL: "1000"}), Split(BLUE, 30)),
    (canary(weight="1", **{TOTAL: "3"}), Split(BLUE, 33)),
    (canary(colour="shop-blue"), Split(BLUE, None)),  # canary on the live colour
    (canary(colour="shop-v3"), Split(BLUE, None)),
    (canary(weight="ten"), Split(BLUE, None)),
    (canary(**{"nginx.ingress.kubernetes.io/canary-by-header": "X-Canary"}),
     Split(BLUE, None)),
])
def test_read(can: dict[str, Any] | None, expected: Split) -> None:
    r, _ = router(main_ingress(), can)
    assert r.read() == expected
    assert bool(r.reason) == (expected.weight is None)


def test_not_a_canary_is_reported() -> None:
    can = canary()
    can["metadata"]["annotations"][CANARY] = "false"
    view = canary_view(can, TARGET)
    assert "is not a canary" in view.problem
    assert nginx_split(BLUE, view) == (Split(BLUE, None), view.problem)
    r, _ = router(main_ingress(), can)
    with pytest.raises(InvalidInput, match="router.canary_ingress: Ingress shop-canary exists"):
        r.check()


def test_main_ingress_on_both_colours_cannot_be_told() -> None:
    main = main_ingress()
    main["spec"]["rules"][0]["http"]["paths"][1] = path("/api", "shop-green")
    r, _ = router(main)
    assert r.read().weight is None
    with pytest.raises(InvalidInput, match="sends to both colours"):
        r.check()


def test_canary_body_copies_only_what_it_must() -> None:
    body = canary_body(main_ingress(), "shop-canary", GREEN, "10", TARGET)
    assert body == {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "shop-canary", "namespace": "demo",
                     "labels": {"app.kubernetes.io/managed-by": "shifter"},
                     "annotations": {CANARY: "true", WEIGHT: "10",
                                     "kubernetes.io/ingress.class": "nginx"}},
        "spec": {"ingressClassName": "nginx",
                 "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
                 "rules": [{"host": "shop.example.com",
                            "http": {"paths": [path("/", "shop-green")]}}]},
    }


def test_canary_ops_guard_backends_and_weight() -> None:
    view = canary_view(canary("shop-blue", "0"), TARGET)
    assert canary_ops(view, GREEN, "10", TARGET) == [
        {"op": "test", "path": P0, "value": "shop-blue"},
        {"op": "test", "path": f"/metadata/annotations/{WEIGHT.replace('/', '~1')}",
         "value": "0"},
        {"op": "replace", "path": P0, "value": "shop-green"},
        {"op": "replace", "path": f"/metadata/annotations/{WEIGHT.replace('/', '~1')}",
         "value": "10"},
    ]
    ops = canary_ops(canary_view(canary(weight=None), TARGET), GREEN, "5", TARGET)
    assert ops == [{"op": "test", "path": P0, "value": "shop-green"},
                   {"op": "add", "path": f"/metadata/annotations/{WEIGHT.replace('/', '~1')}",
                    "value": "5"}]
    assert raw_weight(10, 1000) == "100" and raw_weight(50, 3) == "2"
    assert zero_weight_body() == {"metadata": {"annotations": {WEIGHT: "0"}}}


def test_round_trip_creates_canary_then_promotes_and_goes_back() -> None:
    r, fake = router(main_ingress())
    r.check()
    changes = r.set_weight(GREEN, 10)
    # created at weight 0, then patched to the weight (a refused patch moves nothing)
    assert [c.verb for c in changes] == ["create", "patch"]
    assert changes[0].body["metadata"]["annotations"][WEIGHT] == "0"
    assert [verb for verb, *_ in fake.writes] == ["create", "JSON"]
    assert r.read() == Split(BLUE, 10)
    assert r.set_weight(GREEN, 50)[0].patch_type is PatchType.JSON
    assert r.read() == Split(BLUE, 50)
    fake.writes.clear()
    changes = r.promote(GREEN)
    assert [(c.ref.name, c.patch_type) for c in changes] == [
        ("shop", PatchType.JSON), ("shop-canary", PatchType.MERGE)]
    assert [w[1].rsplit("/", 1)[-1] for w in fake.writes] == ["shop", "shop-canary"]
    assert r.read() == Split(GREEN, 0)
    r.set_weight(BLUE, 10)  # the canary is turned round to blue in the same write
    assert r.read() == Split(GREEN, 10)
    fake.writes.clear()
    changes = r.revert(BLUE)
    assert len(changes) == 1
    stamp = changes[0].body["metadata"]["annotations"]["shifter.dev/reverted-at"]
    assert changes[0].body == zero_weight_body(stamp)
    assert r.read() == Split(GREEN, 0)
    main = fake.get(ref("Ingress", "shop"))
    expected = main_ingress("shop-green")
    main["metadata"].pop("resourceVersion")
    assert main == expected  # only the colour backend changed


def test_promote_switches_main_before_dropping_the_canary() -> None:
    r, fake = router(main_ingress(), canary(weight="50"))
    seen: list[Split] = []
    original = fake.patch

    def spy(*args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.append(r.read())
        return original(*args, **kwargs)

    fake.patch = spy  # type: ignore[method-assign]
    r.promote(GREEN)
    # before the second write every request already goes to green (the canary is green too)
    main_now = fake.get(ref("Ingress", "shop"))
    assert main_now["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == (
        "shop-green")
    assert seen[0] == Split(BLUE, 50)
    assert r.read() == Split(GREEN, 0)


def test_set_weight_refuses_a_canary_that_is_not_ours_to_retarget() -> None:
    r, fake = router(main_ingress(), canary(colour="shop-v3"))
    with pytest.raises(InvalidInput, match="points at shop-v3"):
        r.set_weight(GREEN, 10)
    assert fake.writes == []


def test_set_weight_zero_without_canary_writes_nothing() -> None:
    r, fake = router(main_ingress())
    assert r.set_weight(GREEN, 0) == []
    # a revert makes the state explicit: a canary at weight 0, so that a late create of a
    # forward write is refused instead of landing after the revert
    (change,) = r.revert(GREEN)
    assert change.verb == "create" and change.body["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/canary-weight"] == "0"
    assert r.read() == Split(BLUE, 0)
    assert [verb for verb, *_ in fake.writes] == ["create"]


def test_concurrent_retarget_of_the_canary_fails_the_write() -> None:
    r, fake = router(main_ingress(), canary(weight="10"))
    key = ref("Ingress", "shop-canary")

    def retarget() -> None:
        obj = fake.get(key)
        obj["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "x"
        fake.put(key, obj)

    fake.before_write = retarget
    before = None
    with pytest.raises(KubeError) as err:
        before = copy.deepcopy(fake.objects[key.path])
        r.set_weight(GREEN, 50)
    assert err.value.status == 422
    assert fake.get(key)["metadata"]["annotations"][WEIGHT] == "10"
    assert before is not None


def test_dry_run_create_changes_nothing() -> None:
    r, fake = router(main_ingress())
    changes = r.set_weight(GREEN, 10, dry_run=True)
    assert changes[0].verb == "create"
    assert ref("Ingress", "shop-canary").path not in fake.objects


def test_check_messages() -> None:
    fake = with_services(FakeKube())
    r = NginxRouter(fake, TARGET, NginxConfig())
    with pytest.raises(InvalidInput, match=r"^router.ingress: Ingress demo/shop not found$"):
        r.check()
    assert [o.name for o in r.objects()] == ["shop", "shop-canary"]
    main = main_ingress("elsewhere")
    fake.put(ref("Ingress", "shop"), main)
    with pytest.raises(InvalidInput, match="has no backend on shop-blue or shop-green"):
        r.check()


def test_writes_for_the_access_review_include_the_create_only_without_a_canary() -> None:
    r, _ = router(main_ingress())
    assert [(verb, ref.name) for verb, ref in r.writes()] == [
        ("patch", "shop-canary"), ("patch", "shop"), ("create", "shop-canary")]
    r.set_weight(GREEN, 10)
    assert [(verb, ref.name) for verb, ref in r.writes()] == [
        ("patch", "shop-canary"), ("patch", "shop")]


def test_dry_run_create_lists_the_patch_that_would_follow() -> None:
    r, fake = router(main_ingress())
    changes = r.set_weight(GREEN, 10, dry_run=True)
    assert [(c.verb, c.patch_type) for c in changes] == [("create", None),
                                                          ("patch", PatchType.JSON)]
    assert [verb for verb, *_ in fake.writes] == ["create"]  # nothing to patch yet
