"""Istio router: route choice, host forms, subsets, bodies that touch one route only."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from shifter.errors import InvalidInput
from shifter.kube.client import PatchType
from shifter.routers import share
from shifter.routers.base import Colour, Split
from shifter.routers.istio import IstioConfig, IstioRouter, find_route, parse_route
from tests.unit.test_router_fakekube import TARGET, FakeKube, ref, with_services

BLUE, GREEN = Colour.BLUE, Colour.GREEN
FQDN = ".demo.svc.cluster.local"


def dest(host: str, weight: int | None, subset: str | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"destination": {"host": host, "port": {"number": 80}}}
    if subset:
        d["destination"]["subset"] = subset
    if weight is not None:
        d["weight"] = weight
    return d


def vs(primary: list[dict[str, Any]], *, name: str | None = "primary") -> dict[str, Any]:
    route: dict[str, Any] = {"route": primary, "timeout": "5s"}
    if name:
        route["name"] = name
    return {
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "shop", "namespace": "demo", "annotations": {"a": "b"}},
        "spec": {"hosts": ["shop.example.com"], "gateways": ["gw"], "http": [
            {"name": "admin", "match": [{"uri": {"prefix": "/admin"}}],
             "route": [dest("admin", 70), dest("admin-v2", 30)]},
            route,
            {"name": "legacy", "route": [dest("shop-blue", 100)]},
        ]},
    }


def router(obj: dict[str, Any], **cfg: Any) -> tuple[IstioRouter, FakeKube]:
    fake = with_services(FakeKube())
    fake.put(ref("VirtualService", "shop"), obj)
    cfg.setdefault("route", "primary")
    return IstioRouter(fake, TARGET, IstioConfig(**cfg)), fake


def test_find_route() -> None:
    obj = vs([dest("shop-blue", 100), dest("shop-green", 0)])
    assert find_route(obj, "primary", "VS") == 1
    with pytest.raises(InvalidInput, match="router.route: VS has 3 http routes; name"):
        find_route(obj, None, "VS")
    with pytest.raises(InvalidInput, match="no http route named 'x' .routes: admin, primary"):
        find_route(obj, "x", "VS")
    obj["spec"]["http"] = obj["spec"]["http"][1:2]
    assert find_route(obj, None, "VS") == 0


@pytest.mark.parametrize(("route", "expected"), [
    ([dest("shop-blue", 100), dest("shop-green", 0)], Split(BLUE, 0)),
    ([dest("shop-blue" + FQDN, 80), dest("shop-green.demo", 20)], Split(BLUE, 20)),
    ([dest("shop-green.demo.svc", 70), dest("shop-blue", 30)], Split(GREEN, 30)),
    ([dest("shop-blue", None)], Split(BLUE, 0)),  # single destination: 100
    ([dest("shop-blue", 100), dest("shop-green", None)], Split(BLUE, 0)),  # absent = 0
    ([dest("shop-blue", 50), dest("shop-green", 50)], Split(BLUE, 50)),  # tie: first listed
    ([dest("shop-blue", 0), dest("shop-green", 0)], Split(BLUE, None)),
    ([dest("shop-blue", 50), dest("shop-green", 25), dest("shop-green", 25)],
     Split(BLUE, None)),
    ([dest("shop-blue", 50), dest("shop-green", 40), dest("other", 10)], Split(BLUE, None)),
    ([dest("shop-blue.other.svc.cluster.local", 90), dest("shop-green", 10)],
     Split(BLUE, None)),  # another namespace's shop-blue is not ours
])
def test_read(route: list[dict[str, Any]], expected: Split) -> None:
    r, _ = router(vs(route))
    assert r.read() == expected


def test_subsets_of_one_host() -> None:
    route = [dest("shop", 90, "v1"), dest("shop", 10, "v2")]
    r, _ = router(vs(route), subsets={"blue": "v1", "green": "v2"})
    assert r.read() == Split(BLUE, 10)
    weighted, _ = parse_route(vs(route), 1, TARGET, r.config)
    assert weighted is not None
    assert weighted.ops({BLUE: 0, GREEN: 100})[:3] == [
        {"op": "test", "path": "/spec/http/1/route/0/destination/host", "value": "shop"},
        {"op": "test", "path": "/spec/http/1/route/0/destination/subset", "value": "v1"},
        {"op": "test", "path": "/spec/http/1/route/0/weight", "value": 90},
    ]
    r2, _ = router(vs([dest("shop", 90, "v1"), dest("other", 10, "v2")]),
                   subsets={"blue": "v1", "green": "v2"})
    assert r2.read().weight is None  # two hosts: not subsets of one
    r3, _ = router(vs(route), subsets={"blue": "v1", "green": "v2"}, host="elsewhere")
    assert r3.read().weight is None


def test_body_touches_only_the_chosen_route_indices() -> None:
    obj = vs([dest("shop-blue" + FQDN, 100), dest("shop-green" + FQDN, 0)])
    weighted, _ = parse_route(obj, 1, TARGET, IstioConfig())
    assert weighted is not None
    ops = weighted.ops({BLUE: 90, GREEN: 10})
    assert all(o["path"].startswith("/spec/http/1/route/") for o in ops)
    assert ops[-2:] == [
        {"op": "replace", "path": "/spec/http/1/route/0/weight", "value": 90},
        {"op": "replace", "path": "/spec/http/1/route/1/weight", "value": 10},
    ]


def test_single_destination_gets_the_other_appended_in_the_same_form() -> None:
    obj = vs([dest("shop-blue" + FQDN, None)])
    weighted, _ = parse_route(obj, 1, TARGET, IstioConfig())
    assert weighted is not None
    assert weighted.ops({BLUE: 90, GREEN: 10})[-2:] == [
        {"op": "add", "path": "/spec/http/1/route/0/weight", "value": 90},
        {"op": "add", "path": "/spec/http/1/route/-",
         "value": {"destination": {"host": "shop-green" + FQDN, "port": {"number": 80}},
                   "weight": 10}},
    ]
    assert all(o["path"] != "/spec/http/1/route/-" for o in weighted.ops({BLUE: 100, GREEN: 0}))


def test_round_trip_leaves_other_routes_and_fields_untouched() -> None:
    original = vs([dest("shop-blue" + FQDN, 100), dest("shop-green", 0)])
    r, fake = router(original)
    r.check()
    r.set_weight(GREEN, 10)
    assert r.read() == Split(BLUE, 10)
    r.set_weight(GREEN, 50)
    assert share(r.read(), GREEN) == 50
    r.promote(GREEN)
    assert r.read() == Split(GREEN, 0)
    r.set_weight(BLUE, 10)
    assert r.read() == Split(GREEN, 10)
    r.revert(BLUE)
    assert r.read() == Split(GREEN, 0)
    after = fake.get(ref("VirtualService", "shop"))
    assert after["spec"]["http"][0] == original["spec"]["http"][0]
    assert after["spec"]["http"][2] == original["spec"]["http"][2]
    primary = copy.deepcopy(after["spec"]["http"][1])
    assert [d.pop("weight") for d in primary["route"]] == [0, 100]
    assert primary == {"name": "primary", "timeout": "5s", "route": [
        {"destination": {"host": "shop-blue" + FQDN, "port": {"number": 80}}},
        {"destination": {"host": "shop-green", "port": {"number": 80}}}]}
    assert after["metadata"]["annotations"].pop("shifter.dev/reverted-at")  # the revert's fence
    assert after["metadata"]["annotations"] == {"a": "b"}
    assert {w[0] for w in fake.writes} == {PatchType.JSON.name}


def test_round_trip_from_a_single_destination() -> None:
    r, fake = router(vs([dest("shop-blue", None)]))
    r.set_weight(GREEN, 10)
    assert r.read() == Split(BLUE, 10)
    r.promote(GREEN)
    assert r.read() == Split(GREEN, 0)
    assert len(fake.get(ref("VirtualService", "shop"))["spec"]["http"][1]["route"]) == 2


def test_config_api_version_and_errors() -> None:
    assert IstioConfig(api_version="v1beta1").api_version == "networking.istio.io/v1beta1"
    r = IstioRouter(FakeKube(), TARGET, IstioConfig(api_version="networking.istio.io/v1beta1"))
    assert r.objects()[0].path.startswith("/apis/networking.istio.io/v1beta1/namespaces/demo")
    with pytest.raises(ValidationError):
        IstioConfig(api_version="v1alpha3")
    with pytest.raises(ValidationError):
        IstioConfig(subsets={"blue": "v1"})
    with pytest.raises(InvalidInput, match="router.virtual_service: VirtualService demo/shop"):
        r.read()


def test_api_version_is_detected_from_what_the_cluster_serves() -> None:
    fake = with_services(FakeKube())
    fake.served_groups = {"networking.istio.io": ["networking.istio.io/v1beta1"]}
    obj = vs([dest("shop-blue", 100), dest("shop-green", 0)])
    beta = ref("VirtualService", "shop").__class__(
        "networking.istio.io/v1beta1", "virtualservices", "VirtualService", "shop", "demo")
    fake.put(beta, obj)
    r = IstioRouter(fake, TARGET, IstioConfig(route="primary"))
    assert share(r.read(), GREEN) == 0
    r.set_weight(GREEN, 10)
    assert fake.writes[-1][1].startswith("/apis/networking.istio.io/v1beta1/")
    assert r.objects()[0].api_version == "networking.istio.io/v1beta1"


def test_no_istio_api_is_a_clear_error() -> None:
    fake = with_services(FakeKube())
    fake.served_groups = {}
    r = IstioRouter(fake, TARGET, IstioConfig(route="primary"))
    with pytest.raises(InvalidInput, match=r"router.api_version: .* no networking.istio.io"):
        r.check()


def test_explicit_api_version_skips_detection() -> None:
    obj = vs([dest("shop-blue", 100), dest("shop-green", 0)])
    r, fake = router(obj, api_version="v1")
    fake.served_groups = {}
    assert share(r.read(), GREEN) == 0
