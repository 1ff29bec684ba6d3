"""Gateway API router: the two colours' weights in one rule of an HTTPRoute.

The rule's ``backendRefs`` must be exactly the blue and the green Service. Weights are
relative (share = weight / sum, absent = 1, 0..1,000,000); shifter writes percentages
(the two weights always sum to 100). Every write is ONE JSON patch by index on that rule:
``test`` ops on the names and weights just read, then ``replace`` (or ``add`` for a weight
that was absent) of the two weights. A merge patch is never used: it would replace the
whole ``spec.rules`` list, and a strategic merge patch is refused on custom resources.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shifter.errors import InvalidInput
from shifter.kube.client import KubeClient, ObjectRef
from shifter.routers._patch import check_services, get_or_invalid, pointer
from shifter.routers._weighted import Weighted, WeightedRouter
from shifter.routers.base import Colour, Target

API_VERSION = "gateway.networking.k8s.io/v1"


class GatewayConfig(BaseModel):
    """``router:`` fields of the gateway router."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    route: str | None = Field(default=None, description="HTTPRoute name (default: release)")
    rule: int | None = Field(default=None, ge=0, description=(
        "index of the rule in spec.rules (default: the first rule whose backendRefs name "
        "both colours' Services)"))


def _is_colour_ref(ref: Any, target: Target) -> Colour | None:
    if not isinstance(ref, dict):
        return None
    if ref.get("group") not in (None, "") or ref.get("kind") not in (None, "Service"):
        return None
    if ref.get("namespace") not in (None, target.namespace):
        return None
    return target.colour_of(str(ref.get("name", "")))


def find_rule(route: dict[str, Any], target: Target, rule: int | None) -> int:
    """The index of the rule to work on, or InvalidInput naming ``router.rule``."""
    rules = (route.get("spec") or {}).get("rules") or []
    name = f"HTTPRoute {target.namespace}/{(route.get('metadata') or {}).get('name', '')}"
    if rule is not None:
        if rule >= len(rules):
            raise InvalidInput(f"router.rule: {name} has {len(rules)} rule(s), no index {rule}")
        return rule
    for i, r in enumerate(rules):
        refs = (r or {}).get("backendRefs") or []
        if {_is_colour_ref(b, target) for b in refs} >= {Colour.BLUE, Colour.GREEN}:
            return i
    raise InvalidInput(f"router.rule: {name} has no rule whose backendRefs name both "
                       f"{target.blue_service} and {target.green_service}")


def parse_rule(route: dict[str, Any], index: int, target: Target
               ) -> tuple[Weighted | None, str]:
    """The two colour backendRefs of rule ``index``, or None and why not."""
    rules = (route.get("spec") or {}).get("rules") or []
    refs = (rules[index] or {}).get("backendRefs") or [] if index < len(rules) else []
    colours = [_is_colour_ref(b, target) for b in refs]
    if len(refs) != 2 or set(colours) != {Colour.BLUE, Colour.GREEN}:
        names = [str((b or {}).get("name", "?")) for b in refs]
        return None, (f"rule {index} backendRefs are {names}, not exactly "
                      f"{target.blue_service} and {target.green_service}")
    index_of: dict[Colour, int] = {}
    weights: dict[Colour, int | None] = {}
    for i, (ref, colour) in enumerate(zip(refs, colours, strict=True)):
        assert colour is not None
        index_of[colour] = i
        w = ref.get("weight")
        if w is not None and (isinstance(w, bool) or not isinstance(w, int) or w < 0):
            return None, f"rule {index} backendRef {ref.get('name')} has weight {w!r}"
        weights[colour] = w
    idents = {c: [("/name", target.service(c))] for c in Colour}
    return Weighted(pointer("spec", "rules", index, "backendRefs"), index=index_of,
                      weight=weights, default=1, idents=idents, obj=route), ""


class GatewayRouter(WeightedRouter):
    """Shifts traffic by the weights of two backendRefs in one HTTPRoute rule."""

    field = "router.route"
    #: What ``query_placeholders`` defines (Envoy Gateway names clusters after these).
    PLACEHOLDERS = ("rule_index", "blue_backend_index", "green_backend_index")

    def __init__(self, client: KubeClient, target: Target, config: GatewayConfig) -> None:
        super().__init__(client, target, ObjectRef(
            API_VERSION, "httproutes", "HTTPRoute", config.route or target.release,
            target.namespace))
        self.config = config

    def load(self) -> tuple[Weighted | None, str]:
        route = get_or_invalid(self.client, self.ref, "router.route")
        return parse_rule(route, find_rule(route, self.target, self.config.rule), self.target)

    def query_placeholders(self) -> dict[str, str]:
        route = get_or_invalid(self.client, self.ref, "router.route")
        rule = find_rule(route, self.target, self.config.rule)
        weighted, _ = parse_rule(route, rule, self.target)
        out = {"rule_index": str(rule)}
        if weighted is not None:
            out.update({f"{c.value}_backend_index": str(i) for c, i in weighted.index.items()})
        return out

    def check(self) -> None:
        self._loaded()
        check_services(self.client, self.target)
