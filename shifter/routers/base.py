"""What every router (traffic provider) offers, and the small values they trade in.

A router owns the Kubernetes object(s) that split traffic between the two colours of a
release. It never rewrites fields it does not own: writes are merge patches or JSON patches
carrying a ``test`` op on what was read, and a 409 is answered by a fresh read (the retry
policy in ``shifter.retry`` does that around each method).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from shifter.kube.client import ObjectRef, PatchType


class Colour(StrEnum):
    """The two colours of a release."""

    BLUE = "blue"
    GREEN = "green"

    @property
    def other(self) -> Colour:
        return Colour.GREEN if self is Colour.BLUE else Colour.BLUE


@dataclass(frozen=True)
class Target:
    """The release a router works on: its namespace and the Service of each colour."""

    namespace: str
    release: str
    blue_service: str
    green_service: str

    def service(self, colour: Colour) -> str:
        return self.blue_service if colour is Colour.BLUE else self.green_service

    def colour_of(self, service: str) -> Colour | None:
        if service == self.blue_service:
            return Colour.BLUE
        if service == self.green_service:
            return Colour.GREEN
        return None


@dataclass(frozen=True)
class Split:
    """How traffic is split now, read from the cluster.

    ``live`` is the colour the router treats as the stable one (what a fresh rollout moves
    away from); ``weight`` is the percent of traffic on the other colour (0..100), or None
    when it cannot be told (objects half-edited by hand, weights that do not add up).
    """

    live: Colour
    weight: int | None

    @property
    def new(self) -> Colour:
        return self.live.other


@dataclass(frozen=True)
class Change:
    """One write a router made (or, with dry_run, would make): shown to people verbatim."""

    ref: ObjectRef
    verb: str  # "patch" or "create"
    body: Any
    patch_type: PatchType | None = None
    summary: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Router(Protocol):
    """A traffic provider. Every method that writes returns the changes it sent; with
    ``dry_run`` they are sent with ``dryRun=All`` (the server validates, nothing persists)."""

    #: False for routers that can only send all traffic to one colour (plan collapses to 100).
    supports_partial: bool

    def objects(self) -> list[ObjectRef]:
        """The objects this router reads and writes (events are recorded on the first)."""
        ...

    def check(self) -> None:
        """Pre-flight: the objects exist and are shaped as expected, or raise InvalidInput."""
        ...

    def read(self) -> Split:
        """The split as the cluster has it now."""
        ...

    def query_placeholders(self) -> dict[str, str]:
        """Extra PromQL placeholders this router's objects define (e.g. the HTTPRoute rule and
        backendRef indices that Envoy's cluster names are built from), keyed per colour as
        ``blue_...``/``green_...``; empty when there are none."""
        ...

    def set_weight(self, new: Colour, weight: int, *, dry_run: bool = False) -> list[Change]:
        """Send ``weight`` percent to ``new`` and the rest to its other colour; read back."""
        ...

    def promote(self, new: Colour, *, dry_run: bool = False) -> list[Change]:
        """Make ``new`` the live colour in the router's own terms, all traffic on it."""
        ...

    def revert(self, new: Colour, *, dry_run: bool = False) -> list[Change]:
        """All traffic back on ``new.other`` in one write; the fastest path there is."""
        ...
