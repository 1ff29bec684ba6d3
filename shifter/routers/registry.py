"""The only place that knows the routers' names: config models and construction by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from shifter.errors import ConfigError
from shifter.kube.client import KubeClient
from shifter.routers.base import Router, Target
from shifter.routers.gateway import GatewayConfig, GatewayRouter
from shifter.routers.istio import IstioConfig, IstioRouter
from shifter.routers.nginx import NginxConfig, NginxRouter
from shifter.routers.service import ServiceConfig, ServiceRouter

ROUTERS: dict[str, type] = {
    "gateway": GatewayRouter,
    "istio": IstioRouter,
    "nginx": NginxRouter,
    "service": ServiceRouter,
}

CONFIGS: dict[str, type[BaseModel]] = {
    "gateway": GatewayConfig,
    "istio": IstioConfig,
    "nginx": NginxConfig,
    "service": ServiceConfig,
}


def router_names() -> list[str]:
    return sorted(ROUTERS)


def _known(name: str) -> str:
    if name not in ROUTERS:
        raise ConfigError("router", f"expected one of {', '.join(router_names())}, "
                          f"got {name!r}")
    return name


def config_model(name: str) -> type[BaseModel]:
    """The pydantic model (``extra="forbid"``) of router ``name``'s own config fields."""
    return CONFIGS[_known(name)]


def _error(exc: ValidationError) -> ConfigError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return ConfigError(f"router.{loc}" if loc else "router", err["msg"])


def placeholder_names(name: str) -> tuple[str, ...]:
    """The query placeholders router ``name`` defines (see ``Router.query_placeholders``)."""
    return tuple(getattr(ROUTERS[_known(name)], "PLACEHOLDERS", ()))


def parse_config(name: str, config: Mapping[str, Any] | BaseModel | None = None) -> BaseModel:
    """Router ``name``'s ``router:`` mapping (``kind`` allowed) validated, or ConfigError
    naming the field (``router.ingress: ...``). Touches no cluster."""
    model = config_model(name)
    if isinstance(config, model):
        return config
    raw = dict(config or {})
    if raw.get("kind", name) != name:
        raise ConfigError("router.kind", f"expected {name!r}, got {raw['kind']!r}")
    raw.pop("kind", None)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _error(exc) from exc


def build_router(name: str, client: KubeClient, target: Target,
                 config: Mapping[str, Any] | BaseModel | None = None) -> Router:
    """Router ``name`` for ``target``; ``config`` is its ``router:`` mapping (``kind``
    allowed) or an already validated model."""
    parsed = parse_config(name, config)  # ConfigError for an unknown name, first
    router: Router = ROUTERS[name](client, target, parsed)
    return router
