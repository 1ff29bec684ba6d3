"""A header preview route to the new colour, beside the router's weighted route.

Requests carrying ``<header>: <new colour>`` reach the new colour through the real ingress
for the whole rollout, before any weighted traffic; the route is removed on promote and on
revert. Each write is one JSON patch guarded by a ``test`` op on what was read (a failed
test is 422 and the caller's retry re-reads), never a merge patch of a whole list, so the
router's own fields are left as they are:

- ``gateway``: one more HTTPRoute rule named ``shifter-preview``, appended at the end (the
  weighted rule keeps its index): the weighted rule's path matches, each with an ``Exact``
  header match added, and the new colour's backendRef. Gateway API gives a rule with header
  matches precedence over one without (most header matches wins), whatever the order.
- ``istio``: an http route named ``shifter-preview`` inserted first in the VirtualService
  (Istio takes the first route that matches): the weighted route's matches with a header
  condition (header names lowercase, as Istio requires), and the new colour's destination.
  The weighted route must be named with ``router.route`` (its index moves).
- ``nginx``: ``canary-by-header: <header>`` and ``canary-by-header-value: <new colour>`` on
  the canary Ingress (ingress-nginx honours one canary per host/path, and a header rule
  takes precedence over the weight). A missing canary is created at weight 0 pointing at
  the new colour (as the router would create it); an existing one is pointed at the new
  colour with its weight guarded as read. The nginx router accepts exactly this header rule
  (value = the canary's own colour) on its canary. Removal deletes the two annotations.
- ``service``: none (``make_preview`` returns None): a selector cannot match a header.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from shifter.errors import InvalidInput
from shifter.kube.client import KubeClient, ObjectRef, PatchType
from shifter.routers.base import Change, Colour, Target

NAME = "shifter-preview"
JSON = PatchType.JSON
BY_HEADER = "nginx.ingress.kubernetes.io/canary-by-header"
BY_VALUE = "nginx.ingress.kubernetes.io/canary-by-header-value"
WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"


def _with_header(matches: list[dict[str, Any]] | None, header: str, value: str
                 ) -> list[dict[str, Any]]:
    base = copy.deepcopy(matches) or [{"path": {"type": "PathPrefix", "value": "/"}}]
    for m in base:
        m["headers"] = [*(m.get("headers") or []),
                        {"type": "Exact", "name": header, "value": value}]
    return base


def gateway_rule(route: Mapping[str, Any], rule_index: int, new_ref: Mapping[str, Any],
                 header: str, colour: Colour) -> dict[str, Any]:
    """The preview rule for an HTTPRoute whose weighted rule is ``rule_index`` (pure)."""
    rule = ((route.get("spec") or {}).get("rules") or [])[rule_index]
    ref = {k: v for k, v in new_ref.items() if k != "weight"}
    return {"name": NAME, "matches": _with_header(rule.get("matches"), header, colour.value),
            "backendRefs": [ref]}


def istio_route(vs: Mapping[str, Any], route_index: int, new_dest: Mapping[str, Any],
                header: str, colour: Colour) -> dict[str, Any]:
    """The preview http route for a VirtualService (pure)."""
    http = ((vs.get("spec") or {}).get("http") or [])[route_index]
    matches = copy.deepcopy(http.get("match")) or [{}]
    for m in matches:
        m["headers"] = {**(m.get("headers") or {}), header.lower(): {"exact": colour.value}}
    return {"name": NAME, "match": matches,
            "route": [{"destination": copy.deepcopy(dict(new_dest))}]}


def add_ops(items: list[Any], path: str, item: dict[str, Any], *, first: bool
            ) -> list[dict[str, Any]]:
    """Ops adding (or replacing) the ``NAME`` entry of list ``path``, guarded by a test."""
    names = [(x or {}).get("name") for x in items]
    if NAME in names:
        i = names.index(NAME)
        if items[i] == item:
            return []
        return [{"op": "test", "path": f"{path}/{i}", "value": items[i]},
                {"op": "replace", "path": f"{path}/{i}", "value": item}]
    return [{"op": "test", "path": path, "value": items},
            {"op": "add", "path": f"{path}/{0 if first else '-'}", "value": item}]


def remove_ops(items: list[Any], path: str) -> list[dict[str, Any]]:
    names = [(x or {}).get("name") for x in items]
    if NAME not in names:
        return []
    i = names.index(NAME)
    return [{"op": "test", "path": f"{path}/{i}", "value": items[i]},
            {"op": "remove", "path": f"{path}/{i}"}]


class _Preview:
    path = ""
    first = False

    def __init__(self, client: KubeClient, ref: ObjectRef, header: str, new: Colour) -> None:
        self.client = client
        self.ref = ref
        self.header = header
        self.new = new

    def _items(self, obj: dict[str, Any]) -> list[Any]:
        node: Any = obj
        for part in self.path.strip("/").split("/"):
            node = (node or {}).get(part)
        return list(node or [])

    def entry(self, obj: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _send(self, ops: list[dict[str, Any]], summary: str, dry_run: bool) -> list[Change]:
        if not ops:
            return []
        self.client.patch(self.ref, ops, JSON, dry_run=dry_run)
        return [Change(self.ref, "patch", ops, JSON, summary=summary)]

    def add(self, *, dry_run: bool = False) -> list[Change]:
        obj = self.client.get(self.ref)
        ops = add_ops(self._items(obj), self.path, self.entry(obj), first=self.first)
        return self._send(ops, f"preview route '{self.header}: {self.new.value}'", dry_run)

    def remove(self, *, dry_run: bool = False) -> list[Change]:
        obj = self.client.get(self.ref)
        return self._send(remove_ops(self._items(obj), self.path), "remove the preview route",
                          dry_run)


class GatewayPreview(_Preview):
    path = "/spec/rules"

    def __init__(self, client: KubeClient, target: Target, router: Mapping[str, Any],
                 header: str, new: Colour) -> None:
        from shifter.routers.gateway import API_VERSION, GatewayConfig

        self.target = target
        self.config = GatewayConfig(**{k: v for k, v in router.items() if k != "kind"})
        super().__init__(client, ObjectRef(API_VERSION, "httproutes", "HTTPRoute",
                                           self.config.route or target.release,
                                           target.namespace), header, new)

    def entry(self, obj: dict[str, Any]) -> dict[str, Any]:
        from shifter.routers.gateway import find_rule

        index = find_rule(obj, self.target, self.config.rule)
        refs = obj["spec"]["rules"][index].get("backendRefs") or []
        new_ref = next(r for r in refs if r.get("name") == self.target.service(self.new))
        return gateway_rule(obj, index, new_ref, self.header, self.new)


class IstioPreview(_Preview):
    path = "/spec/http"
    first = True

    def __init__(self, client: KubeClient, target: Target, router: Mapping[str, Any],
                 header: str, new: Colour) -> None:
        from shifter.routers.istio import IstioConfig

        self.target = target
        self.config = IstioConfig(**{k: v for k, v in router.items() if k != "kind"})
        if self.config.route is None:
            raise InvalidInput("preview: with the istio router, name the weighted http route "
                               "with router.route (the preview route goes first)")
        name = getattr(self.config, "virtual_service", None) or target.release
        super().__init__(client, ObjectRef("networking.istio.io/v1", "virtualservices",
                                           "VirtualService", name, target.namespace),
                         header, new)

    def entry(self, obj: dict[str, Any]) -> dict[str, Any]:
        from shifter.routers.istio import find_route, parse_route

        index = find_route(obj, self.config.route, f"VirtualService {self.ref.name}")
        weighted, why = parse_route(obj, index, self.target, self.config)
        if weighted is None:
            raise InvalidInput(f"preview: {why}")
        dest = obj["spec"]["http"][index]["route"][weighted.index[self.new]]["destination"]
        return istio_route(obj, index, dest, self.header, self.new)


NONE = {
    "service": "the service router switches a selector, which cannot match a header",
}


def why_none(kind: str) -> str:
    """Why router ``kind`` has no preview route (for the run's output)."""
    return NONE.get(kind, f"the {kind} router has no preview route")


class NginxPreview(_Preview):
    """The canary Ingress's header rule (see the module docstring)."""

    def __init__(self, client: KubeClient, target: Target, router: Mapping[str, Any],
                 header: str, new: Colour) -> None:
        from shifter.routers.nginx import API_VERSION, NginxConfig

        self.target = target
        config = NginxConfig(**{k: v for k, v in router.items() if k != "kind"})
        main = config.ingress or target.release
        self.main_ref = ObjectRef(API_VERSION, "ingresses", "Ingress", main, target.namespace)
        super().__init__(client, self.main_ref.named(config.canary_ingress or f"{main}-canary"),
                         header, new)

    def add(self, *, dry_run: bool = False) -> list[Change]:
        from shifter.errors import NotFound
        from shifter.routers._patch import op_set, op_test, pointer
        from shifter.routers.nginx import canary_body, canary_view, retarget_ops

        summary = f"preview route '{self.header}: {self.new.value}' on the canary Ingress"
        ann = {BY_HEADER: self.header, BY_VALUE: self.new.value}
        try:
            canary = self.client.get(self.ref)
        except NotFound:
            main = self.client.get(self.main_ref)
            body = canary_body(main, self.ref.name, self.new, "0", self.target)
            body["metadata"]["annotations"].update(ann)
            self.client.create(self.ref, body, dry_run=dry_run)
            return [Change(self.ref, "create", body, summary=summary + " (created, weight 0)")]
        view = canary_view(canary, self.target)
        have = (canary.get("metadata") or {}).get("annotations") or {}
        if view.colour is self.new and all(have.get(k) == v for k, v in ann.items()):
            return []
        if view.colour is not self.new and view.raw not in (None, "0"):
            raise InvalidInput(f"preview: the canary Ingress {self.ref.name} sends "
                               f"{view.raw} to {view.colour}; the preview needs it at 0")
        ops: list[dict[str, Any]] = list(retarget_ops(view.backends,
                                                      self.target.service(self.new)))
        weight_at = pointer("metadata", "annotations", WEIGHT)
        if view.raw is not None:
            ops.append(op_test(weight_at, view.raw))
        for key, value in ann.items():
            at = pointer("metadata", "annotations", key)
            if key in have:
                ops.append(op_test(at, have[key]))
            ops.append(op_set(at, value, present=key in have))
        return self._send(ops, summary, dry_run)

    def remove(self, *, dry_run: bool = False) -> list[Change]:
        from shifter.errors import NotFound
        from shifter.routers._patch import op_test, pointer

        try:
            canary = self.client.get(self.ref)
        except NotFound:
            return []
        have = (canary.get("metadata") or {}).get("annotations") or {}
        ops: list[dict[str, Any]] = []
        for key in (BY_HEADER, BY_VALUE):
            if key in have:
                at = pointer("metadata", "annotations", key)
                ops += [op_test(at, have[key]), {"op": "remove", "path": at}]
        return self._send(ops, "remove the preview route from the canary Ingress", dry_run)


def make_preview(kind: str, client: KubeClient, target: Target, router: Mapping[str, Any],
                 header: str, new: Colour) -> _Preview | None:
    """The preview route for router ``kind``, or None when it has none."""
    if kind == "gateway":
        return GatewayPreview(client, target, router, header, new)
    if kind == "istio":
        return IstioPreview(client, target, router, header, new)
    if kind == "nginx":
        return NginxPreview(client, target, router, header, new)
    return None
