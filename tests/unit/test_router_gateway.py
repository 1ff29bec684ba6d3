"""Gateway API router: rule choice, weight parsing, JSON patch bodies, round trips."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shifter.errors import InvalidInput, KubeError
from shifter.kube.client import PatchType
from shifter.routers import share
from shifter.routers.base import Colour, Split
from shifter.routers.gateway import GatewayConfig, GatewayRouter, find_rule, parse_rule
from tests.unit.test_router_fakekube import TARGET, FakeKube, ref, with_services

BLUE, GREEN = Colour.BLUE, Colour.GREEN


def route(blue_w: int | None = 100, green_w: int | None = 0, *,
          order: tuple[str, str] = ("shop-blue", "shop-green")) -> dict[str, Any]:
    weights = {"shop-blue": blue_w, "shop-green": green_w}
    refs = []
    for name in order:
        entry: dict[str, Any] = {"name": name, "port": 80}
        if weights[name] is not None:
            entry["weight"] = weights[name]
        refs.append(entry)
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "shop", "namespace": "demo", "labels": {"team": "a"},
                     "annotations": {"note": "keep me"}},
        "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["shop.example.com"],
                 "rules": [
                     {"matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}],
                      "backendRefs": [{"name": "admin", "port": 80}]},
                     {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                      "backendRefs": refs},
                 ]},
    }


def router(obj: dict[str, Any], **cfg: Any) -> tuple[GatewayRouter, FakeKube]:
    fake = with_services(FakeKube())
    fake.put(ref("HTTPRoute", "shop"), obj)
    return GatewayRouter(fake, TARGET, GatewayConfig(**cfg)), fake


def test_find_rule_default_is_first_rule_naming_both_colours() -> None:
    assert find_rule(route(), TARGET, None) == 1
    assert find_rule(route(), TARGET, 0) == 0
    with pytest.raises(InvalidInput, match=r"router.rule: .* no index 5"):
        find_rule(route(), TARGET, 5)
    obj = route()
    obj["spec"]["rules"].pop()
    with pytest.raises(InvalidInput, match="no rule whose backendRefs name both shop-blue"):
        find_rule(obj, TARGET, None)


@pytest.mark.parametrize(("bw", "gw", "expected"), [
    (100, 0, Split(BLUE, 0)),
    (90, 10, Split(BLUE, 10)),
    (0, 100, Split(GREEN, 0)),
    (None, None, Split(BLUE, 50)),  # absent = 1 each: a tie, first listed is live
    (None, 3, Split(GREEN, 25)),  # absent = 1
    (1, 2, Split(GREEN, 33)),  # relative weights
    (999_999, 1, Split(BLUE, 0)),
    (0, 0, Split(BLUE, None)),
])
def test_read_weights(bw: int | None, gw: int | None, expected: Split) -> None:
    r, _ = router(route(bw, gw))
    assert r.read() == expected
    assert bool(r.reason) == (expected.weight is None)


def test_tie_goes_to_first_listed_then_to_the_hint() -> None:
    r, _ = router(route(50, 50, order=("shop-green", "shop-blue")))
    assert r.read() == Split(GREEN, 50)
    r.set_weight(GREEN, 50)  # moving away from blue: blue stays live at the tie
    assert r.read() == Split(BLUE, 50)


def test_three_backend_refs_cannot_be_told() -> None:
    obj = route()
    obj["spec"]["rules"][1]["backendRefs"].append({"name": "shop-canary", "port": 80})
    r, _ = router(obj)
    assert r.read().weight is None
    assert "not exactly shop-blue and shop-green" in r.reason
    with pytest.raises(InvalidInput, match="router.route: HTTPRoute demo/shop"):
        r.check()
    with pytest.raises(InvalidInput):
        r.set_weight(GREEN, 10)


def test_backend_ref_in_other_namespace_or_kind_is_not_a_colour() -> None:
    obj = route()
    obj["spec"]["rules"][1]["backendRefs"][1]["namespace"] = "other"
    assert parse_rule(obj, 1, TARGET)[0] is None
    obj = route()
    obj["spec"]["rules"][1]["backendRefs"][1]["kind"] = "ServiceImport"
    assert parse_rule(obj, 1, TARGET)[0] is None


def test_patch_body_tests_then_sets_only_the_two_weights() -> None:
    weighted, _ = parse_rule(route(90, 10), 1, TARGET)
    assert weighted is not None
    base = "/spec/rules/1/backendRefs"
    assert weighted.ops({GREEN: 50, BLUE: 50}) == [
        {"op": "test", "path": f"{base}/0/name", "value": "shop-blue"},
        {"op": "test", "path": f"{base}/0/weight", "value": 90},
        {"op": "test", "path": f"{base}/1/name", "value": "shop-green"},
        {"op": "test", "path": f"{base}/1/weight", "value": 10},
        {"op": "replace", "path": f"{base}/0/weight", "value": 50},
        {"op": "replace", "path": f"{base}/1/weight", "value": 50},
    ]


def test_patch_body_adds_absent_weights() -> None:
    weighted, _ = parse_rule(route(None, None), 1, TARGET)
    assert weighted is not None
    ops = weighted.ops({GREEN: 100, BLUE: 0})
    assert [o["op"] for o in ops] == ["test", "test", "add", "add"]
    assert ops[2:] == [
        {"op": "add", "path": "/spec/rules/1/backendRefs/0/weight", "value": 0},
        {"op": "add", "path": "/spec/rules/1/backendRefs/1/weight", "value": 100},
    ]


def _without_weights(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"].pop("resourceVersion", None)
    out["metadata"].get("annotations", {}).pop("shifter.dev/reverted-at", None)  # the fence
    for b in out["spec"]["rules"][1]["backendRefs"]:
        b.pop("weight", None)
    return out


def test_round_trip_both_directions_and_untouched_fields() -> None:
    original = route(None, None)
    r, fake = router(original)
    changes = r.set_weight(GREEN, 10)
    assert len(changes) == 1 and changes[0].patch_type is PatchType.JSON
    assert r.read() == Split(BLUE, 10)
    r.set_weight(GREEN, 50)
    assert share(r.read(), GREEN) == 50
    r.promote(GREEN)
    assert r.read() == Split(GREEN, 0)
    r.set_weight(BLUE, 10)
    assert r.read() == Split(GREEN, 10)
    r.revert(BLUE)
    assert r.read() == Split(GREEN, 0)
    after = fake.get(ref("HTTPRoute", "shop"))
    assert _without_weights(after) == _without_weights(original)
    assert all(verb == "JSON" for verb, _, _ in fake.writes)


def test_dry_run_sends_and_changes_nothing() -> None:
    r, fake = router(route())
    before = fake.get(ref("HTTPRoute", "shop"))
    changes = r.set_weight(GREEN, 10, dry_run=True)
    assert changes and fake.writes
    assert fake.get(ref("HTTPRoute", "shop")) == before


def test_concurrent_weight_edit_fails_the_test_op_and_clobbers_nothing() -> None:
    r, fake = router(route(90, 10))
    key = ref("HTTPRoute", "shop")

    def someone_else() -> None:
        obj = fake.get(key)
        obj["spec"]["rules"][1]["backendRefs"][1]["weight"] = 30
        fake.put(key, obj)

    fake.before_write = someone_else
    with pytest.raises(KubeError) as err:
        r.set_weight(GREEN, 50)
    assert err.value.status == 422
    assert fake.get(key)["spec"]["rules"][1]["backendRefs"][1]["weight"] == 30


def test_read_back_mismatch_raises() -> None:
    r, fake = router(route())

    class Deaf(FakeKube):  # accepts the patch but keeps the object as it was
        def patch(self, *_: Any, **__: Any) -> dict[str, Any]:
            return {}

    deaf = Deaf()
    deaf.objects = fake.objects
    r.client = deaf
    with pytest.raises(KubeError, match="read back 100% blue / 0% green after setting"):
        r.set_weight(GREEN, 10)


def test_check_reports_missing_objects() -> None:
    r, fake = router(route())
    r.check()
    del fake.objects[ref("Service", "shop-green").path]
    with pytest.raises(InvalidInput, match="green_service: Service demo/shop-green not found"):
        r.check()
    r2 = GatewayRouter(fake, TARGET, GatewayConfig(route="nope"))
    with pytest.raises(InvalidInput, match="router.route: HTTPRoute demo/nope not found"):
        r2.check()
    assert r2.objects()[0].name == "nope"
