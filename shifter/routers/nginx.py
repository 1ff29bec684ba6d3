"""ingress-nginx router: a main Ingress for the live colour plus a canary Ingress.

The main Ingress's backends (every path, or the default backend, whose Service is one of
the two colours) say which colour is live. The canary Ingress (same hosts and paths,
annotation ``nginx.ingress.kubernetes.io/canary: "true"``) points at the other colour and
gets ``canary-weight`` out of ``canary-weight-total`` (default 100) of the requests.

Writes, each owning only what it names:

- ``set_weight``: ONE JSON patch on the canary with ``test`` ops on its backend names and
  weight as read, then the new weight (and backend names, when the canary still points at
  the other colour). When the canary is missing it is first created from the main Ingress
  AT WEIGHT 0 (hosts, the colour paths, TLS and class; label
  ``app.kubernetes.io/managed-by: shifter``; no other annotation is copied but the legacy
  ``kubernetes.io/ingress.class``) and then patched to the weight, so a patch that is
  refused (a Role without ``patch``) or a create the server applies late never leaves
  traffic on the new colour. In a dry run the create is sent (``dryRun=All``) and the
  patch that would follow it is listed but not sent (there is nothing to patch). A JSON
  patch rather than a merge patch carrying ``resourceVersion``: it guards only the fields
  this router reads, so an unrelated edit (a label, another annotation) does not cost a
  retry, while a concurrent retarget or weight change fails with 422 instead of sending
  traffic somewhere nobody chose.
- ``promote``: FIRST the main Ingress's colour backends are switched to the new colour
  (JSON patch, ``test`` on the old names), THEN the canary weight is set to "0". In
  between, every request already goes to the new colour; the old one keeps running.
- ``revert``: the canary weight set to "0" by a merge patch of that annotation (and
  ``shifter.dev/reverted-at``): one write that cannot be refused by a concurrent edit,
  because 0 is right whatever the canary points at. Where there is no canary, the revert
  creates one at weight 0: the state is explicit, and a canary create still in flight is
  refused (409) rather than landing after the revert. Every forward patch also ``test``s
  the canary's resourceVersion, so a forward write the server applies late fails once the
  revert wrote.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

from shifter.errors import InvalidInput, NotFound
from shifter.kube.client import KubeClient, ObjectRef
from shifter.routers._patch import (
    REVERTED_AT,
    Op,
    check_services,
    check_weight,
    get_or_invalid,
    json_change,
    merge_change,
    op_replace,
    op_set,
    op_test,
    percent,
    pointer,
    revert_stamp,
    rv_test,
    send,
    verify,
)
from shifter.routers.base import Change, Colour, Split, Target

log = structlog.get_logger("shifter.routers.nginx")

API_VERSION = "networking.k8s.io/v1"
PREFIX = "nginx.ingress.kubernetes.io/"
CANARY = PREFIX + "canary"
WEIGHT = PREFIX + "canary-weight"
TOTAL = PREFIX + "canary-weight-total"
RULE_ANNOTATIONS = tuple(PREFIX + a for a in (
    "canary-by-header", "canary-by-header-value", "canary-by-header-pattern",
    "canary-by-cookie"))
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
MANAGED_BY = "app.kubernetes.io/managed-by"


class NginxConfig(BaseModel):
    """``router:`` fields of the nginx router."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ingress: str | None = Field(default=None, description="main Ingress (default: release)")
    canary_ingress: str | None = Field(default=None, description="default: <ingress>-canary")


# --- pure parsing ---------------------------------------------------------------------------

def backends(ing: dict[str, Any]) -> list[tuple[str, str]]:
    """Every Service backend of an Ingress: (JSON pointer to its name, the name)."""
    spec = ing.get("spec") or {}
    found: list[tuple[str, str]] = []
    default = ((spec.get("defaultBackend") or {}).get("service") or {}).get("name")
    if default is not None:
        found.append((pointer("spec", "defaultBackend", "service", "name"), str(default)))
    for i, rule in enumerate(spec.get("rules") or []):
        for j, path in enumerate(((rule or {}).get("http") or {}).get("paths") or []):
            name = (((path or {}).get("backend") or {}).get("service") or {}).get("name")
            if name is not None:
                found.append((pointer("spec", "rules", i, "http", "paths", j, "backend",
                                      "service", "name"), str(name)))
    return found


def colour_backends(ing: dict[str, Any], target: Target) -> list[tuple[str, str]]:
    return [(p, n) for p, n in backends(ing) if target.colour_of(n) is not None]


def main_colour(main: dict[str, Any], target: Target) -> tuple[Colour, str]:
    """The live colour of the main Ingress; a non-empty reason when its paths disagree."""
    found = colour_backends(main, target)
    if not found:
        raise InvalidInput(f"router.ingress: Ingress {target.namespace}/"
                           f"{_name(main)} has no backend on {target.blue_service} or "
                           f"{target.green_service}")
    colours = [target.colour_of(n) for _, n in found]
    first = colours[0]
    assert first is not None
    if len(set(colours)) > 1:
        return first, f"main Ingress {_name(main)} sends to both colours"
    return first, ""


@dataclass(frozen=True)
class CanaryView:
    """A canary Ingress as read: where it points, its weight, and whether it can be used."""

    colour: Colour | None  # the one colour all its backends name, else None
    raw: str | None  # canary-weight as written
    total: int  # canary-weight-total (100 when absent)
    percent: int | None  # the weight in percent; None when it cannot be read
    problem: str  # why its traffic cannot be told or set ("" when it can)
    backends: list[tuple[str, str]]

    @property
    def pointing(self) -> str:
        """Why it does not point at one colour ("" when it does)."""
        if self.colour is not None:
            return ""
        names = sorted({n for _, n in self.backends}) or ["nothing"]
        return f"the canary Ingress points at {', '.join(names)}, not one colour's Service"

    @property
    def unusable(self) -> str:
        return self.problem or self.pointing


def canary_view(canary: dict[str, Any], target: Target) -> CanaryView:
    ann = (canary.get("metadata") or {}).get("annotations") or {}
    found = backends(canary)
    colours = {target.colour_of(n) for _, n in found}
    colour = colours.pop() if len(colours) == 1 else None
    raw = ann.get(WEIGHT)
    total = _int(ann.get(TOTAL, "100"))
    weight = _int(raw if raw is not None else "0")
    rules = [a for a in RULE_ANNOTATIONS if a in ann and not _preview_rule(a, ann, colour)]
    problem, pct = "", None
    if rules:
        problem = (f"the canary Ingress has {', '.join(rules)}: header and cookie rules "
                   "take precedence over the weight")
    elif ann.get(CANARY) != "true":
        problem = f"Ingress {_name(canary)} exists but is not a canary ({CANARY} is not \"true\")"
    elif total is None or total <= 0:
        problem = f"{TOTAL} is {ann.get(TOTAL)!r}, not a positive integer"
    elif weight is None or weight < 0:
        problem = f"{WEIGHT} is {raw!r}, not a non-negative integer"
    else:
        pct = min(100, percent(weight, total))
    return CanaryView(colour, raw, total or 100, pct, problem, found)


def _preview_rule(annotation: str, ann: dict[str, Any], colour: Colour | None) -> bool:
    """shifter's preview route (``shifter.release.preview``): a header rule whose value is
    the canary's own colour sends only requests carrying it there; the weight still holds."""
    return (annotation in RULE_ANNOTATIONS[:2] and colour is not None
            and PREFIX + "canary-by-header" in ann
            and ann.get(PREFIX + "canary-by-header-value") == colour.value)


def nginx_split(live: Colour, canary: CanaryView | None) -> tuple[Split, str]:
    """The split made by a main Ingress on ``live`` and a canary (None when missing)."""
    if canary is None or canary.percent == 0:
        return Split(live, 0), ""
    if canary.percent is None:
        return Split(live, None), canary.problem
    if canary.colour is None:
        return Split(live, None), canary.pointing
    if canary.colour is live:
        return Split(live, None), (f"the canary Ingress sends {canary.percent}% to "
                                   f"{canary.colour}, the live colour")
    return Split(live, canary.percent), ""


def raw_weight(pct: int, total: int) -> str:
    """The canary-weight annotation value for ``pct`` percent out of ``total``."""
    return str((2 * pct * total + 100) // 200)  # pct * total / 100, halves rounded up


# --- pure patch bodies ----------------------------------------------------------------------

def canary_body(main: dict[str, Any], name: str, colour: Colour, raw: str,
                target: Target) -> dict[str, Any]:
    """A new canary Ingress: the main Ingress's colour paths, pointed at ``colour``."""
    meta = main.get("metadata") or {}
    spec = main.get("spec") or {}
    service = target.service(colour)
    annotations = {CANARY: "true", WEIGHT: raw}
    if CLASS_ANNOTATION in (meta.get("annotations") or {}):
        annotations[CLASS_ANNOTATION] = meta["annotations"][CLASS_ANNOTATION]
    out_spec: dict[str, Any] = {}
    if spec.get("ingressClassName"):
        out_spec["ingressClassName"] = spec["ingressClassName"]
    if spec.get("tls"):
        out_spec["tls"] = copy.deepcopy(spec["tls"])
    rules = []
    for rule in spec.get("rules") or []:
        paths = []
        for path in ((rule or {}).get("http") or {}).get("paths") or []:
            svc = ((path or {}).get("backend") or {}).get("service") or {}
            if target.colour_of(str(svc.get("name", ""))) is not None:
                new_path = copy.deepcopy(path)
                new_path["backend"]["service"]["name"] = service
                paths.append(new_path)
        if paths:
            new_rule = {k: copy.deepcopy(v) for k, v in rule.items() if k != "http"}
            rules.append({**new_rule, "http": {"paths": paths}})
    if rules:
        out_spec["rules"] = rules
    default = (spec.get("defaultBackend") or {}).get("service") or {}
    if target.colour_of(str(default.get("name", ""))) is not None:
        out_spec["defaultBackend"] = copy.deepcopy(spec["defaultBackend"])
        out_spec["defaultBackend"]["service"]["name"] = service
    return {"apiVersion": API_VERSION, "kind": "Ingress",
            "metadata": {"name": name, "namespace": target.namespace,
                         "labels": {MANAGED_BY: "shifter"}, "annotations": annotations},
            "spec": out_spec}


def retarget_ops(found: list[tuple[str, str]], service: str) -> list[Op]:
    """Test every backend name as read, then point the ones that differ at ``service``."""
    tests = [op_test(path, name) for path, name in found]
    return tests + [op_replace(path, service) for path, name in found if name != service]


def canary_ops(view: CanaryView, colour: Colour, raw: str, target: Target,
               guard: list[Op] | None = None) -> list[Op]:
    """JSON patch of an existing canary: guard backends and weight (and ``guard``, the
    resourceVersion read), then set both."""
    ops = [*(guard or []), *retarget_ops(view.backends, target.service(colour))]
    at = pointer("metadata", "annotations", WEIGHT)
    if view.raw is not None:
        ops.insert(len(guard or []) + len(view.backends), op_test(at, view.raw))
    return [*ops, op_set(at, raw, present=view.raw is not None)]


def zero_weight_body(stamp: str | None = None) -> dict[str, Any]:
    """Merge patch that stops the canary: the canary-weight annotation (and, in a revert,
    ``shifter.dev/reverted-at``, so the object always changes)."""
    annotations = {WEIGHT: "0"}
    if stamp is not None:
        annotations[REVERTED_AT] = stamp
    return {"metadata": {"annotations": annotations}}


# --- the router -----------------------------------------------------------------------------

class NginxRouter:
    """Shifts traffic with an ingress-nginx canary Ingress beside the main one."""

    supports_partial = True

    def __init__(self, client: KubeClient, target: Target, config: NginxConfig) -> None:
        self.client = client
        self.target = target
        self.config = config
        main = config.ingress or target.release
        self.main_ref = ObjectRef(API_VERSION, "ingresses", "Ingress", main, target.namespace)
        self.canary_ref = self.main_ref.named(config.canary_ingress or f"{main}-canary")
        self.reason = ""  # why the last read() returned weight None

    def query_placeholders(self) -> dict[str, str]:
        return {}

    def objects(self) -> list[ObjectRef]:
        return [self.main_ref, self.canary_ref]

    def _load(self) -> tuple[dict[str, Any], Colour, str, CanaryView | None]:
        main = get_or_invalid(self.client, self.main_ref, "router.ingress")
        live, why = main_colour(main, self.target)
        try:
            canary = self.client.get(self.canary_ref)
        except NotFound:
            self._canary_obj: dict[str, Any] = {}
            return main, live, why, None
        self._canary_obj = canary
        return main, live, why, canary_view(canary, self.target)

    def check(self) -> None:
        _, _, why, view = self._load()
        if why:
            raise InvalidInput(f"router.ingress: {why}")
        if view is not None and view.unusable:
            raise InvalidInput(f"router.canary_ingress: {view.unusable}")
        check_services(self.client, self.target)

    def read(self) -> Split:
        _, live, why, view = self._load()
        split, why2 = (Split(live, None), why) if why else nginx_split(live, view)
        self.reason = why2
        if why2:
            log.warning("router.unreadable", object=str(self.canary_ref), reason=why2)
        return split

    def _verify(self, expected: Split) -> None:
        verify(self.read, expected, f"Ingress {self.target.namespace}/{self.main_ref.name}")

    def set_weight(self, new: Colour, weight: int, *, dry_run: bool = False) -> list[Change]:
        check_weight(weight)
        main, live, why, view = self._load()
        if why:
            raise InvalidInput(f"router.ingress: {why}")
        colour, pct = (new, weight) if live is new.other else (new.other, 100 - weight)
        changes: list[Change] = []
        canary = self._canary_obj
        if view is None:
            if pct == 0:
                return []
            # Created at weight 0, then patched to the weight: a patch that is refused
            # (403, 422) or a create that lands late leaves no traffic on the canary.
            create = Change(self.canary_ref, "create", canary_body(
                main, self.canary_ref.name, colour, "0", self.target),
                summary=f"create canary Ingress at weight 0, pointing at {colour}")
            canary = send(self.client, create, dry_run=dry_run)
            changes.append(create)
            view = canary_view(canary, self.target)
        if view.unusable:
            raise InvalidInput(f"router.canary_ingress: {view.unusable}")
        raw = raw_weight(pct, view.total)
        ops = canary_ops(view, colour, raw, self.target, rv_test(canary))
        change = json_change(self.canary_ref, ops, f"canary: {pct}% to {colour}")
        expected = min(100, percent(int(raw), view.total))  # what the total can express
        changes.append(change)
        if changes[0].verb == "create" and dry_run:
            return changes  # nothing to patch yet: a dry-run create persists nothing
        send(self.client, change, dry_run=dry_run)
        if not dry_run:
            self._verify(Split(live, expected))  # the canary always carries live.other
        return changes

    def writes(self) -> list[tuple[str, ObjectRef]]:
        """The writes a rollout may make (for the pre-flight access review): a patch of
        the canary (each step, revert) and of the main Ingress (promotion, a revert after
        a half-done promotion); a create of the canary when there is none yet."""
        out = [("patch", self.canary_ref), ("patch", self.main_ref)]
        try:
            self.client.get(self.canary_ref)
        except NotFound:
            out.append(("create", self.canary_ref))
        return out

    def promote(self, new: Colour, *, dry_run: bool = False) -> list[Change]:
        main, _, _, view = self._load()
        changes: list[Change] = []
        found = colour_backends(main, self.target)
        if any(name != self.target.service(new) for _, name in found):
            changes.append(json_change(self.main_ref, retarget_ops(
                found, self.target.service(new)), f"main Ingress: all traffic to {new}"))
        if view is not None and view.raw not in (None, "0"):
            changes.append(merge_change(self.canary_ref, zero_weight_body(),
                                        "canary: weight 0"))
        for change in changes:  # in this order: main first, canary after
            send(self.client, change, dry_run=dry_run)
        if not dry_run:
            self._verify(Split(new, 0))
        return changes

    def revert(self, new: Colour, *, dry_run: bool = False) -> list[Change]:
        main, live, _, view = self._load()
        changes: list[Change] = []
        if view is None:
            # Explicit even where nothing is: a canary at weight 0, so a create still in
            # flight is refused (409) instead of landing after the revert.
            changes.append(Change(self.canary_ref, "create", canary_body(
                main, self.canary_ref.name, new, "0", self.target),
                summary=f"revert: canary at weight 0, all traffic to {new.other}"))
        else:
            changes.append(merge_change(self.canary_ref, zero_weight_body(revert_stamp()),
                                        f"revert: canary weight 0, all traffic to {new.other}"))
        found = colour_backends(main, self.target)
        if any(name != self.target.service(new.other) for _, name in found):
            # Only after a half-done promote: put the main Ingress back as well.
            changes.append(json_change(self.main_ref, retarget_ops(
                found, self.target.service(new.other)), f"main Ingress back to {new.other}"))
        for change in changes:
            send(self.client, change, dry_run=dry_run)
        if not dry_run:
            self._verify(Split(new.other, 0))
        return changes


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))
