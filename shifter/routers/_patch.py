"""Pure helpers shared by the routers: JSON patch ops, weight arithmetic, the write cycle.

Every router writes the same way (``write_and_verify``): compute the changes from what was
just read, send them (``dryRun=All`` in a dry run), then read back and compare the share of
traffic on the colour that was asked for. A 409 or a failed ``test`` op (422) is raised
as is: the caller's retry policy re-invokes the router method, which reads again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog

from shifter.errors import InvalidInput, KubeError, NotFound
from shifter.kube.client import KubeClient, ObjectRef, PatchType
from shifter.routers.base import Change, Colour, Split, Target

log = structlog.get_logger("shifter.routers")

Op = dict[str, Any]


def escape(token: str) -> str:
    """One JSON pointer token (RFC 6901): ``~`` is ``~0`` and ``/`` is ``~1``."""
    return token.replace("~", "~0").replace("/", "~1")


def pointer(*parts: str | int) -> str:
    return "".join("/" + escape(str(p)) for p in parts)


def op_test(path: str, value: Any) -> Op:
    return {"op": "test", "path": path, "value": value}


def op_replace(path: str, value: Any) -> Op:
    return {"op": "replace", "path": path, "value": value}


def op_add(path: str, value: Any) -> Op:
    return {"op": "add", "path": path, "value": value}


def op_set(path: str, value: Any, *, present: bool) -> Op:
    """``replace`` a member that exists, ``add`` one that does not (replace needs a target)."""
    return op_replace(path, value) if present else op_add(path, value)


REVERTED_AT = "shifter.dev/reverted-at"


def rv_test(obj: Mapping[str, Any]) -> list[Op]:
    """A ``test`` of the resourceVersion read: a forward write that lands late (the client
    gave up, the server applied it anyway) fails once anything else was written since."""
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    return [op_test(pointer("metadata", "resourceVersion"), rv)] if rv else []


def stamp_ops(obj: Mapping[str, Any], stamp: str) -> list[Op]:
    """Set the ``shifter.dev/reverted-at`` annotation: a revert always changes the object,
    so its resourceVersion moves and a forward write still in flight is refused."""
    annotations = (obj.get("metadata") or {}).get("annotations")
    if annotations is None:
        return [op_add(pointer("metadata", "annotations"), {REVERTED_AT: stamp})]
    return [op_set(pointer("metadata", "annotations", REVERTED_AT), stamp,
                   present=REVERTED_AT in annotations)]


def revert_stamp() -> str:
    """A value that differs on every revert (wall time, microseconds)."""
    import time

    return f"{time.time():.6f}"


def percent(part: int, total: int) -> int:
    """``part / total`` in whole percent, halves rounded up (no banker's rounding)."""
    return (200 * part + total) // (2 * total)


def share(split: Split, colour: Colour) -> int | None:
    """The percent of traffic ``split`` sends to ``colour`` (None when it cannot be told).

    Compare splits with this, not with ``==``: Split(blue, 50) and Split(green, 50) are the
    same traffic, and which colour a 50/50 weighted route calls live is a convention.
    """
    if split.weight is None:
        return None
    return split.weight if colour is not split.live else 100 - split.weight


def targets(new: Colour, weight: int) -> dict[Colour, int]:
    """Percent of traffic wanted on each colour when ``weight`` goes to ``new``."""
    check_weight(weight)
    return {new: weight, new.other: 100 - weight}


def check_weight(weight: int) -> None:
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
        raise InvalidInput(f"weight: expected an integer percent 0..100, got {weight!r}")


def get_or_invalid(client: KubeClient, ref: ObjectRef, field: str) -> dict[str, Any]:
    """GET ``ref``; a 404 becomes a one-line InvalidInput naming the config field."""
    try:
        return client.get(ref)
    except NotFound as exc:
        raise InvalidInput(f"{field}: {ref.kind} {ref.namespace}/{ref.name} not found") from exc


def service_ref(target: Target, colour: Colour) -> ObjectRef:
    return ObjectRef("v1", "services", "Service", target.service(colour), target.namespace)


def check_services(client: KubeClient, target: Target) -> None:
    """Both colours' Services exist (a pre-flight check every router makes)."""
    for colour in Colour:
        ref = service_ref(target, colour)
        try:
            client.get(ref)
        except NotFound as exc:
            raise InvalidInput(f"{colour.value}_service: Service {target.namespace}/"
                               f"{ref.name} not found") from exc


def send(client: KubeClient, change: Change, *, dry_run: bool) -> dict[str, Any]:
    """Send one change; return the object the server answered with."""
    log.debug("router.write", object=str(change.ref), verb=change.verb, dry_run=dry_run,
             summary=change.summary)
    if change.verb == "create":
        return client.create(change.ref, change.body, dry_run=dry_run)
    if change.patch_type is None:  # pragma: no cover - every patch names its type
        raise ValueError("a patch change needs a patch_type")
    return client.patch(change.ref, change.body, change.patch_type, dry_run=dry_run)


def json_change(ref: ObjectRef, ops: list[Op], summary: str) -> Change:
    return Change(ref=ref, verb="patch", body=ops, patch_type=PatchType.JSON, summary=summary)


def merge_change(ref: ObjectRef, body: Mapping[str, Any], summary: str) -> Change:
    return Change(ref=ref, verb="patch", body=dict(body), patch_type=PatchType.MERGE,
                  summary=summary)


def verify(read: Callable[[], Split], expected: Split, what: str) -> Split:
    """Read back and raise KubeError unless the traffic matches ``expected``."""
    got = read()
    ok = share(got, expected.live) == share(expected, expected.live)
    if not ok:
        raise KubeError(f"{what}: read back {_fmt(got)} after setting {_fmt(expected)}; "
                        "the object was changed by someone else or is not acted on as written")
    return got


def _fmt(split: Split) -> str:
    if split.weight is None:
        return f"an unreadable split (live {split.live})"
    return f"{100 - split.weight}% {split.live} / {split.weight}% {split.new}"

