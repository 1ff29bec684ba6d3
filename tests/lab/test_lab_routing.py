"""How the lab controller reads router objects (pure functions, no processes).

Not marked `lab`: these need no running lab and take milliseconds.
"""

from __future__ import annotations

from typing import Any

import pytest

from lab import routing, seed
from lab.controller import to_weights

COLOURS = {"shop-blue": "blue", "shop-green": "green"}


def canary(weight: str | None, service: str = "shop-green", total: str | None = None,
           host: str = "shop.demo.lab") -> dict[str, Any]:
    ing = seed.ingress("shop", "demo")
    ing["metadata"]["name"] = "shop-canary"
    ann = {routing.CANARY: "true"}
    if weight is not None:
        ann[routing.CANARY_WEIGHT] = weight
    if total is not None:
        ann[routing.CANARY_TOTAL] = total
    ing["metadata"]["annotations"] = ann
    ing["spec"]["rules"][0]["host"] = host
    ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = service
    return ing


@pytest.mark.parametrize(
    ("weight", "total", "green"),
    [("10", None, 0.1), ("50", None, 0.5), ("0", None, 0.0), (None, None, 0.0),
     ("250", "1000", 0.25), ("150", None, 1.0), ("x", None, 0.0)],
)
def test_nginx_canary_weight_out_of_total(weight: str | None, total: str | None,
                                          green: float) -> None:
    main = seed.ingress("shop", "demo")
    shares = routing.nginx_shares(main, [main, canary(weight, total=total)])
    assert shares.get("shop-green", 0.0) == pytest.approx(green)
    assert sum(shares.values()) == pytest.approx(1.0)


def test_nginx_canary_for_another_host_is_ignored() -> None:
    main = seed.ingress("shop", "demo")
    assert routing.nginx_shares(main, [main, canary("50", host="other.lab")]) == {
        "shop-blue": 1.0
    }


def test_nginx_main_backend_decides_the_live_colour() -> None:
    main = seed.ingress("shop", "demo")
    main["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "shop-green"
    assert routing.nginx_shares(main, [main, canary("0", service="shop-blue")]) == {
        "shop-green": 1.0
    }
    assert routing.nginx_shares(None, []) == {}


def test_httproute_weights_are_relative_with_default_one() -> None:
    route = seed.httproute("shop", "demo")
    refs = route["spec"]["rules"][0]["backendRefs"]
    assert routing.httproute_shares(route) == {"shop-blue": 1.0}
    refs[0]["weight"], refs[1]["weight"] = 3, 1
    assert routing.httproute_shares(route) == {"shop-blue": 0.75, "shop-green": 0.25}
    del refs[0]["weight"], refs[1]["weight"]
    assert routing.httproute_shares(route) == {"shop-blue": 0.5, "shop-green": 0.5}
    refs[0]["weight"] = refs[1]["weight"] = 0
    assert routing.httproute_shares(route) == {}


def test_virtualservice_primary_route_and_fqdn_hosts() -> None:
    vs = seed.virtualservice("shop", "demo")
    dests = vs["spec"]["http"][0]["route"]
    dests[0]["weight"], dests[1]["weight"] = 90, 10
    dests[1]["destination"]["host"] = "shop-green.demo.svc.cluster.local"
    vs["spec"]["http"].insert(0, {"name": "other", "route": [{"destination": {"host": "x"}}]})
    assert routing.virtualservice_shares(vs) == {"shop-blue": 0.9, "shop-green": 0.1}
    single = {"spec": {"http": [{"route": [{"destination": {"host": "shop-green"}}]}]}}
    assert routing.virtualservice_shares(single) == {"shop-green": 1.0}


def test_service_selector_selects_deployments_by_pod_labels() -> None:
    deps = [seed.deployment("shop", c, "demo") for c in ("blue", "green")]
    svc = seed.service("shop", "demo", {"app": "shop", "color": "green"}, {})
    assert routing.service_shares(svc, deps) == {"shop-green": 1.0}
    svc["spec"]["selector"] = {"app": "shop"}
    assert routing.service_shares(svc, deps) == {"shop-blue": 0.5, "shop-green": 0.5}


def test_weights_keep_exact_zero_and_full_and_send_the_rest_to_void() -> None:
    assert to_weights({"shop-blue": 1.0}, COLOURS) == (
        {"blue": 256, "green": 0, "void": 0}, {"blue": 100.0, "green": 0.0, "void": 0.0})
    weights, split = to_weights({"shop-blue": 0.9, "shop-green": 0.1}, COLOURS)
    assert weights == {"blue": 230, "green": 26, "void": 0}
    assert split["green"] == 10.0
    weights, split = to_weights({}, COLOURS)
    assert weights == {"blue": 0, "green": 0, "void": 256}
    weights, _ = to_weights({"shop-blue": 0.999, "other": 0.001}, COLOURS)
    assert weights["void"] == 1
