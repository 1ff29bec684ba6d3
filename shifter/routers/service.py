"""Service router: plain blue-green, the stable Service's selector names the live colour.

No traffic splitting (``supports_partial = False``): the plan is one step of 100. Promote
and revert are one merge patch of ``spec.selector.<label>`` (a forward one carrying the
resourceVersion read, a revert stamping ``shifter.dev/reverted-at``), so other selector
keys, ports and annotations are never rewritten. Endpoints switch as soon as the
selector does, so the new colour must be ready first (the engine checks that).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shifter.errors import InvalidInput
from shifter.kube.client import KubeClient, ObjectRef
from shifter.routers._patch import (
    REVERTED_AT,
    check_services,
    check_weight,
    get_or_invalid,
    merge_change,
    revert_stamp,
    send,
    verify,
)
from shifter.routers.base import Change, Colour, Split, Target


class ColourValues(BaseModel):
    """The selector value of each colour."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    blue: str = Field(default="blue", min_length=1)
    green: str = Field(default="green", min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> ColourValues:
        if self.blue == self.green:
            raise ValueError(f"blue and green must differ, both are {self.blue!r}")
        return self

    def of(self, colour: Colour) -> str:
        return self.blue if colour is Colour.BLUE else self.green


class ServiceConfig(BaseModel):
    """``router:`` fields of the service router."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str | None = Field(default=None, description="stable Service (default: release)")
    label: str = Field(default="color", min_length=1, description="selector key")
    values: ColourValues = Field(default_factory=ColourValues)


def selector_colour(svc: dict[str, Any], label: str, values: ColourValues
                    ) -> tuple[Colour | None, str]:
    """The colour the selector names, or None and why not."""
    selector = (svc.get("spec") or {}).get("selector") or {}
    value = selector.get(label)
    for colour in Colour:
        if value == values.of(colour):
            return colour, ""
    return None, (f"selector {label}={value!r} is neither {values.blue!r} nor "
                  f"{values.green!r}")


def selector_body(label: str, value: str) -> dict[str, Any]:
    """Merge patch of one selector key."""
    return {"spec": {"selector": {label: value}}}


class ServiceRouter:
    """Points the stable Service at one colour by its selector."""

    supports_partial = False

    def __init__(self, client: KubeClient, target: Target, config: ServiceConfig) -> None:
        self.client = client
        self.target = target
        self.config = config
        self.ref = ObjectRef("v1", "services", "Service", config.service or target.release,
                             target.namespace)
        self.reason = ""

    def query_placeholders(self) -> dict[str, str]:
        return {}

    def objects(self) -> list[ObjectRef]:
        return [self.ref]

    def _colour(self) -> Colour:
        svc = get_or_invalid(self.client, self.ref, "router.service")
        colour, why = selector_colour(svc, self.config.label, self.config.values)
        if colour is None:
            raise InvalidInput(f"router.service: Service {self.target.namespace}/"
                               f"{self.ref.name}: {why}")
        return colour

    def check(self) -> None:
        self._colour()
        check_services(self.client, self.target)

    def read(self) -> Split:
        return Split(self._colour(), 0)

    def _point(self, colour: Colour, summary: str, dry_run: bool, *,
               revert: bool = False) -> list[Change]:
        """One merge patch of the selector key. A forward write carries the resourceVersion
        read (a late one is refused once anything moved); a revert carries none but always
        changes the object (``shifter.dev/reverted-at``), so any forward write still in
        flight is refused after it."""
        svc = get_or_invalid(self.client, self.ref, "router.service")
        colour_now, why = selector_colour(svc, self.config.label, self.config.values)
        if colour_now is None:
            raise InvalidInput(f"router.service: Service {self.target.namespace}/"
                               f"{self.ref.name}: {why}")
        body = selector_body(self.config.label, self.config.values.of(colour))
        if revert:
            body["metadata"] = {"annotations": {REVERTED_AT: revert_stamp()}}
        else:
            body["metadata"] = {"resourceVersion": (svc.get("metadata") or {}).get(
                "resourceVersion")}
        change = merge_change(self.ref, body, summary)
        send(self.client, change, dry_run=dry_run)
        if not dry_run:
            verify(self.read, Split(colour, 0), f"Service {self.target.namespace}/"
                   f"{self.ref.name}")
        return [change]

    def set_weight(self, new: Colour, weight: int, *, dry_run: bool = False) -> list[Change]:
        check_weight(weight)
        if weight not in (0, 100):
            raise InvalidInput(f"weight: the service router cannot split traffic; expected "
                               f"0 or 100, got {weight}")
        colour = new if weight == 100 else new.other
        return self._point(colour, f"selector {self.config.label}="
                           f"{self.config.values.of(colour)}", dry_run)

    def promote(self, new: Colour, *, dry_run: bool = False) -> list[Change]:
        return self._point(new, f"promote {new}: selector {self.config.label}="
                           f"{self.config.values.of(new)}", dry_run)

    def revert(self, new: Colour, *, dry_run: bool = False) -> list[Change]:
        return self._point(new.other, f"revert: selector {self.config.label}="
                           f"{self.config.values.of(new.other)}", dry_run, revert=True)
