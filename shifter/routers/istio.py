"""Istio router: the weights of two destinations in one HTTP route of a VirtualService.

Destinations are the two colours' Services by host (``shop-blue`` or any of its longer
forms up to ``shop-blue.<ns>.svc.cluster.local``), or, with ``subsets``, two subsets of one
host. An absent weight means 100 on a single destination and 0 when there are several.
A route with one colour's destination only is read as all traffic on it; the first write
that gives the other colour traffic appends its destination (a copy of the first one with
the host or subset changed). Every write is ONE JSON patch by index, touching only the
chosen route's destination weights, with ``test`` ops on what was read; other routes,
other fields of the route and other VirtualServices are never rewritten.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shifter.errors import InvalidInput, NotFound
from shifter.kube.client import KubeClient, ObjectRef
from shifter.routers._patch import check_services, get_or_invalid, pointer
from shifter.routers._weighted import Weighted, WeightedRouter
from shifter.routers.base import Colour, Target

GROUP = "networking.istio.io"


class Subsets(BaseModel):
    """The DestinationRule subset of each colour, when both colours are one host."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    blue: str = Field(min_length=1)
    green: str = Field(min_length=1)

    def of(self, colour: Colour) -> str:
        return self.blue if colour is Colour.BLUE else self.green


class IstioConfig(BaseModel):
    """``router:`` fields of the istio router."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    virtual_service: str | None = Field(default=None, description="default: release")
    route: str | None = Field(default=None, description=(
        "name of the HTTP route in spec.http (default: the only one)"))
    api_version: Literal["networking.istio.io/v1", "networking.istio.io/v1beta1"] | None = (
        Field(default=None, description="default: v1 if the cluster serves it, else v1beta1"))
    subsets: Subsets | None = None
    host: str | None = Field(default=None, description=(
        "with subsets: the destination host (default: whichever host carries the subsets)"))

    @field_validator("api_version", mode="before")
    @classmethod
    def _short_version(cls, value: Any) -> Any:
        return f"{GROUP}/{value}" if value in ("v1", "v1beta1") else value


def host_forms(service: str, namespace: str) -> set[str]:
    """Every way a VirtualService may name a Service of ``namespace``."""
    return {service, f"{service}.{namespace}", f"{service}.{namespace}.svc",
            f"{service}.{namespace}.svc.cluster.local"}


def find_route(vs: dict[str, Any], name: str | None, where: str) -> int:
    """Index of the HTTP route to work on, or InvalidInput naming ``router.route``."""
    http = (vs.get("spec") or {}).get("http") or []
    names = [str((r or {}).get("name", "")) for r in http]
    if name is not None:
        if name in names:
            return names.index(name)
        raise InvalidInput(f"router.route: {where} has no http route named {name!r} "
                           f"(routes: {', '.join(n or '<unnamed>' for n in names) or 'none'})")
    if len(http) == 1:
        return 0
    if not http:
        raise InvalidInput(f"router.virtual_service: {where} has no http routes")
    raise InvalidInput(f"router.route: {where} has {len(http)} http routes; name the one "
                       "to shift with router.route")


def _colour_of(dest: dict[str, Any], target: Target, config: IstioConfig) -> Colour | None:
    host = str(dest.get("host", ""))
    if config.subsets is None:
        for colour in Colour:
            if host in host_forms(target.service(colour), target.namespace):
                return colour
        return None
    if config.host is not None and host not in host_forms(config.host, target.namespace):
        return None
    subset = dest.get("subset")
    for colour in Colour:
        if subset == config.subsets.of(colour):
            return colour
    return None


def _swap(dest: dict[str, Any], colour: Colour, target: Target,
          config: IstioConfig) -> dict[str, Any]:
    """``dest`` (of ``colour.other``) rewritten to point at ``colour``, in the same form."""
    out = copy.deepcopy(dest)
    if config.subsets is not None:
        out["subset"] = config.subsets.of(colour)
    else:
        old, new = target.service(colour.other), target.service(colour)
        out["host"] = new + str(dest.get("host", ""))[len(old):]
    return out


def parse_route(vs: dict[str, Any], index: int, target: Target, config: IstioConfig
                ) -> tuple[Weighted | None, str]:
    """The colour destinations of HTTP route ``index``, or None and why not."""
    entries = ((vs.get("spec") or {}).get("http") or [])[index].get("route") or []
    dests = [(e or {}).get("destination") or {} for e in entries]
    colours = [_colour_of(d, target, config) for d in dests]
    hosts = {str(d.get("host", "")) for d in dests}
    described = [f"{d.get('host', '?')}" + (f"/{d['subset']}" if d.get("subset") else "")
                 for d in dests]
    ok = (len(entries) == 2 and set(colours) == {Colour.BLUE, Colour.GREEN}) or (
        len(entries) == 1 and colours[0] is not None)
    if ok and config.subsets is not None and len(hosts) != 1:
        ok = False
    if not ok:
        return None, (f"http route {index} has destinations {described}, not exactly the "
                      "two colours")
    index_of: dict[Colour, int] = {}
    weights: dict[Colour, int | None] = {}
    idents: dict[Colour, list[tuple[str, Any]]] = {}
    for i, (entry, dest, colour) in enumerate(zip(entries, dests, colours, strict=True)):
        assert colour is not None
        w = entry.get("weight")
        if w is not None and (isinstance(w, bool) or not isinstance(w, int) or w < 0):
            return None, f"http route {index} destination {described[i]} has weight {w!r}"
        index_of[colour], weights[colour] = i, w
        idents[colour] = [("/destination/host", dest.get("host"))]
        if config.subsets is not None:
            idents[colour].append(("/destination/subset", dest.get("subset")))
    template = {c.other: {"destination": _swap(dests[i], c.other, target, config)}
                for c, i in index_of.items()}
    return Weighted(pointer("spec", "http", index, "route"), index=index_of,
                      weight=weights, default=100 if len(entries) == 1 else 0,
                      idents=idents, template=template, obj=vs), ""


class IstioRouter(WeightedRouter):
    """Shifts traffic by the weights of two destinations of one VirtualService HTTP route."""

    field = "router.route"

    def __init__(self, client: KubeClient, target: Target, config: IstioConfig) -> None:
        super().__init__(client, target, ObjectRef(
            config.api_version or f"{GROUP}/v1", "virtualservices", "VirtualService",
            config.virtual_service or target.release, target.namespace))
        self.config = config
        self._version_known = config.api_version is not None

    def _detect_version(self) -> None:
        """Use v1 where the cluster serves it, else v1beta1 (Istio before 1.22)."""
        if self._version_known:
            return
        try:
            group = self.client.request("GET", f"/apis/{GROUP}", what=f"API group {GROUP}")
        except NotFound:
            raise InvalidInput(f"router.api_version: the cluster serves no {GROUP} API "
                               f"(is Istio installed?)") from None
        served = {str(v.get("groupVersion")) for v in group.get("versions") or []}
        for version in (f"{GROUP}/v1", f"{GROUP}/v1beta1"):
            if version in served:
                self.ref = replace(self.ref, api_version=version)
                self._version_known = True
                return
        raise InvalidInput(f"router.api_version: the cluster serves {sorted(served)}, neither "
                           f"{GROUP}/v1 nor v1beta1")

    def objects(self) -> list[ObjectRef]:
        self._detect_version()
        return [self.ref]

    def load(self) -> tuple[Weighted | None, str]:
        self._detect_version()
        vs = get_or_invalid(self.client, self.ref, "router.virtual_service")
        index = find_route(vs, self.config.route, self.where)
        return parse_route(vs, index, self.target, self.config)

    def check(self) -> None:
        self._loaded()
        check_services(self.client, self.target)
