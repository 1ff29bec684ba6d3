"""The router registry: names, config models, construction and config errors."""

from __future__ import annotations

import pytest

from shifter.errors import ConfigError
from shifter.routers import build_router, config_model, router_names
from shifter.routers.base import Router
from shifter.routers.gateway import GatewayRouter
from shifter.routers.nginx import NginxConfig, NginxRouter
from tests.unit.test_router_fakekube import TARGET, FakeKube


def test_names_and_models() -> None:
    assert router_names() == ["gateway", "istio", "nginx", "service"]
    for name in router_names():
        model = config_model(name)
        assert model.model_config.get("extra") == "forbid"
        model.model_validate({})  # every field has a default


def test_unknown_router_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        config_model("traefik")
    assert str(err.value) == "router: expected one of gateway, istio, nginx, service, got 'traefik'"
    assert err.value.field == "router"
    with pytest.raises(ConfigError):
        build_router("x", FakeKube(), TARGET, {})


def test_build_from_mapping_with_or_without_kind() -> None:
    r = build_router("nginx", FakeKube(), TARGET, {"kind": "nginx", "ingress": "web"})
    assert isinstance(r, NginxRouter)
    assert [o.name for o in r.objects()] == ["web", "web-canary"]
    r2: Router = build_router("gateway", FakeKube(), TARGET, None)
    assert isinstance(r2, GatewayRouter) and r2.objects()[0].name == "shop"
    r3 = build_router("nginx", FakeKube(), TARGET, NginxConfig(canary_ingress="c"))
    assert [o.name for o in r3.objects()] == ["shop", "c"]


@pytest.mark.parametrize(("name", "cfg", "field"), [
    ("nginx", {"ingres": "x"}, "router.ingres"),
    ("gateway", {"rule": -1}, "router.rule"),
    ("istio", {"subsets": {"blue": "v1"}}, "router.subsets.green"),
    ("service", {"values": {"blue": "a", "green": "a"}}, "router.values"),
    ("nginx", {"kind": "istio"}, "router.kind"),
])
def test_bad_fields_name_their_path(name: str, cfg: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_router(name, FakeKube(), TARGET, cfg)
    assert err.value.field == field
    assert "\n" not in str(err.value)
