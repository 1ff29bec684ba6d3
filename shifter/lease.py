"""The release's lock and rollout record: one ``coordination.k8s.io/v1`` Lease per release.

``spec.holderIdentity`` / ``renewTime`` / ``leaseDurationSeconds`` are the lock. Two
annotations hold JSON: ``shifter.dev/state`` (written by the holder only: phase, step,
weight, history, ...) and ``shifter.dev/request`` (written by any shell: an operator's
``abort``/``promote``/``pause``/``resume``, naming the rollout id it was posted to). Both
are typed in ``shifter.record``. Every write by the holder is a PUT carrying the
resourceVersion it read; a 409 means someone else wrote (usually an operator's request):
re-read, keep their request, check we still hold the lock, write again.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shifter import __version__, retry
from shifter.errors import Conflict, KubeUnavailable, LockHeld, NotFound, ShifterError
from shifter.kube.client import KubeClient, ObjectRef, PatchType
from shifter.record import Action, OperatorRequest, Record, parse_record, parse_request

STATE_KEY = "shifter.dev/state"
REQUEST_KEY = "shifter.dev/request"
# Seconds without renewal after which a holder is considered gone (a killed run's lock
# frees itself after this long). SHIFTER_LEASE_SECONDS overrides it, e.g. for fast tests.
LEASE_DURATION = 15
REQUESTS = tuple(a.value for a in Action)
MIN_REQUEST_TIMEOUT = 1.0  # seconds one Lease request may take inside the loop


class LockLost(ShifterError):
    """Another process took the lease over while this one believed it held it."""

    exit_code = 6


def lease_seconds() -> int:
    try:
        return max(2, int(os.environ.get("SHIFTER_LEASE_SECONDS", LEASE_DURATION)))
    except ValueError:
        return LEASE_DURATION


def lease_ref(release: str, namespace: str) -> ObjectRef:
    return ObjectRef("coordination.k8s.io/v1", "leases", "Lease", f"shifter-{release}",
                     namespace)


def now_micro(t: float | None = None) -> str:
    """Kubernetes MicroTime."""
    dt = datetime.fromtimestamp(time.time() if t is None else t, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def make_identity() -> str:
    pod = os.environ.get("POD_NAME") or os.environ.get("HOSTNAME") or socket.gethostname()
    return f"{pod}/{os.getpid()}/{uuid.uuid4().hex[:6]}"


def _annotation_json(obj: dict[str, Any], key: str) -> dict[str, Any] | None:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(key)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def holder_of(obj: dict[str, Any], *, now: float | None = None) -> tuple[str, float] | None:
    """The live holder and since when it holds, or None when free or expired."""
    spec = obj.get("spec") or {}
    holder = spec.get("holderIdentity")
    if not holder:
        return None
    renew = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    duration = float(spec.get("leaseDurationSeconds") or LEASE_DURATION)
    now = time.time() if now is None else now
    if renew is None or renew + duration < now:
        return None
    return str(holder), parse_time(spec.get("acquireTime")) or renew


class _SurfacedConflict(Exception):
    def __init__(self, exc: Conflict) -> None:
        self.exc = exc


class RetryingClient:
    """The calls the lease makes, retried by ``shifter.retry.kube`` (429, 5xx, connection
    errors) except 409, which surfaces at once: the lease's own loop re-reads and decides."""

    def __init__(self, client: KubeClient, *, deadline: float = 10.0) -> None:
        self.client = client
        self.deadline = deadline

    def _call(self, fn: Callable[[], dict[str, Any]], what: str) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            try:
                return fn()
            except Conflict as exc:
                raise _SurfacedConflict(exc) from exc

        try:
            return retry.kube(once, what=what, deadline=self.deadline)
        except _SurfacedConflict as surfaced:
            raise surfaced.exc from None

    def get(self, ref: ObjectRef) -> dict[str, Any]:
        return self._call(lambda: self.client.get(ref), f"read {ref}")

    def create(self, ref: ObjectRef, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(lambda: self.client.create(ref, body), f"create {ref}")

    def replace(self, ref: ObjectRef, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(lambda: self.client.replace(ref, body), f"update {ref}")

    def patch(self, ref: ObjectRef, body: Any, patch_type: PatchType) -> dict[str, Any]:
        return self._call(lambda: self.client.patch(ref, body, patch_type), f"patch {ref}")


def read_record(client: KubeClient, release: str, namespace: str) -> dict[str, Any] | None:
    """The Lease as it is (None when there is none)."""
    try:
        return RetryingClient(client).get(lease_ref(release, namespace))
    except NotFound:
        return None


def state_of(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    return _annotation_json(obj, STATE_KEY) if obj else None


def request_of(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    return _annotation_json(obj, REQUEST_KEY) if obj else None


def post_request(client: KubeClient, release: str, namespace: str, action: str,
                 *, by: str) -> dict[str, Any]:
    """Record an operator's request: a merge patch of its one annotation, carrying the
    resourceVersion just read so that a concurrent write (the holder's, or another
    operator's) is never overwritten blindly: a 409 re-reads and tries again."""
    if action not in REQUESTS:
        raise ValueError(action)
    api = RetryingClient(client)
    ref = lease_ref(release, namespace)
    rid = uuid.uuid4().hex[:8]
    for _ in range(10):
        current = api.get(ref)
        rollout = str((state_of(current) or {}).get("rollout") or "") or None
        request = json.dumps({"action": action, "by": by, "at": now_micro(), "id": rid,
                              "rollout": rollout})
        rv = (current.get("metadata") or {}).get("resourceVersion")
        body = {"metadata": {"resourceVersion": rv, "annotations": {REQUEST_KEY: request}}}
        try:
            return api.patch(ref, body, PatchType.MERGE)
        except Conflict:
            continue
    raise Conflict(f"lease {ref.name} kept changing; the {action} request was not recorded")


class Lease:
    """The lock held by one ``run`` (or a self-reverting ``abort``), as client-go's leader
    election uses a Lease: the lock is lost only when another holder is observed, or when
    this holder's own lease expired (no successful renewal for ``duration`` seconds). A 409
    is re-read and retried; it never means "taken over" by itself."""

    def __init__(self, client: KubeClient, release: str, namespace: str, *,
                 identity: str | None = None, duration: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = RetryingClient(client)
        self.raw = client
        self.ref = lease_ref(release, namespace)
        self.release = release
        self.identity = identity or make_identity()
        self.duration = duration or lease_seconds()
        self.clock = clock
        self.obj: dict[str, Any] | None = None
        self.record: Record | None = None
        self.last_renew = 0.0

    # -- lock --------------------------------------------------------------------------------

    def acquire(self) -> dict[str, Any] | None:
        """Take the lock; return the recorded state (None if none). Raise LockHeld."""
        for _ in range(10):
            obj = read_record(self.client.client, self.release, self.ref.namespace or "")
            if obj is None:
                try:
                    self.obj = self.client.create(self.ref, self._fresh_body())
                except Conflict:
                    continue
                self.last_renew = self.clock()
                return None
            self.raise_if_held(obj)
            body = dict(obj)
            spec = dict(body.get("spec") or {})
            spec.update(holderIdentity=self.identity, leaseDurationSeconds=self.duration,
                        acquireTime=now_micro(self.clock()), renewTime=now_micro(self.clock()))
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
            body["spec"] = spec
            try:
                self.obj = self.client.replace(self.ref, body)
            except Conflict:
                continue
            self.last_renew = self.clock()
            return state_of(self.obj)
        raise LockHeld(f"could not take lease {self.ref.name}: it keeps changing")

    def raise_if_held(self, obj: dict[str, Any] | None) -> None:
        """LockHeld (exit 6) naming the holder when another live run holds the lease."""
        held = holder_of(obj, now=self.clock()) if obj else None
        if held and held[0] != self.identity:
            holder, since = held
            raise LockHeld(f"release {self.release} is held by {holder} since "
                           f"{now_micro(since)} (lease {self.ref.namespace}/{self.ref.name}); "
                           f"wait for it or run 'shifter abort {self.release}'")

    def _fresh_body(self) -> dict[str, Any]:
        t = now_micro(self.clock())
        return {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self.ref.name, "namespace": self.ref.namespace,
                         "labels": {"app.kubernetes.io/managed-by": "shifter",
                                    "shifter.dev/release": self.release}},
            "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": self.duration,
                     "acquireTime": t, "renewTime": t, "leaseTransitions": 0},
        }

    def _raise_if_taken(self, obj: dict[str, Any]) -> None:
        holder = (obj.get("spec") or {}).get("holderIdentity")
        if holder not in (self.identity, None, ""):
            raise LockLost(f"lease {self.ref.name} was taken over by {holder}")

    def write(self, record: Record | dict[str, Any] | None = None, *, release: bool = False,
              deadline: float = 10.0, request_timeout: float | None = None) -> None:
        """Renew, and record ``record`` if given. A 409 re-reads: LockLost only if another
        holder is seen there; otherwise write again until ``deadline``, then give up with
        KubeUnavailable (the lock is not lost for that: the next write tries again)."""
        if isinstance(record, dict):
            record = parse_record(record)
        if record is not None:
            self.record = record.model_copy(update={"version": __version__,
                                                    "holder": self.identity})
        api = self._api(deadline, request_timeout)
        end = time.monotonic() + deadline
        while True:
            obj = self.obj or api.get(self.ref)
            self._raise_if_taken(obj)
            body = self._body(obj, release)
            try:
                self.obj = api.replace(self.ref, body)
                self.last_renew = self.clock()
                return
            except Conflict as exc:
                self.obj = None
                if time.monotonic() >= end:
                    raise KubeUnavailable(f"lease {self.ref.name} kept changing for "
                                          f"{deadline:g}s; the state is not recorded yet: "
                                          f"{exc}") from exc

    def _body(self, obj: dict[str, Any], release: bool) -> dict[str, Any]:
        spec = dict(obj.get("spec") or {})
        meta = dict(obj.get("metadata") or {})
        annotations = dict(meta.get("annotations") or {})
        if self.record is not None:
            annotations[STATE_KEY] = self.record.to_json()
            req = request_of(obj)
            if req and str(req.get("id")) in self.record.handled:
                annotations.pop(REQUEST_KEY, None)
        meta["annotations"] = annotations
        spec["renewTime"] = now_micro(self.clock())
        if release:
            spec.pop("holderIdentity", None)
        else:
            spec["holderIdentity"] = self.identity
        return {**obj, "metadata": meta, "spec": spec}

    def check_held(self, *, deadline: float = 10.0) -> None:
        """Fencing before a router write: LockLost if another run holds the lease now."""
        self._raise_if_taken(self._api(deadline).get(self.ref))

    def poll(self, *, deadline: float = 10.0) -> OperatorRequest | None:
        """Re-read the lease; return the pending operator request not yet handled."""
        self.obj = self._api(deadline).get(self.ref)
        self._raise_if_taken(self.obj)
        req = parse_request(request_of(self.obj))
        handled = self.record.handled if self.record is not None else []
        if req is not None and req.id not in handled:
            return req
        return None

    def _api(self, deadline: float, request_timeout: float | None = None) -> RetryingClient:
        """The calls within ``deadline``; a short one also bounds each request (a slow
        Lease API must not hold the loop for the client's whole request timeout), to
        ``request_timeout`` when given (a renewal may wait longer than a poll)."""
        client = self.raw
        timeout = getattr(client, "request_timeout", None)
        if isinstance(timeout, int | float) and deadline < timeout:
            client = copy.copy(client)
            client.request_timeout = min(timeout, request_timeout or max(
                deadline, MIN_REQUEST_TIMEOUT))
        return RetryingClient(client, deadline=deadline)

    def held_for(self) -> float:
        """Seconds this holder's lease stays valid (negative: it expired: no other run could
        be kept out any more, so this one must not move traffic forward)."""
        return self.last_renew + self.duration - self.clock()

    def due_for_renewal(self) -> bool:
        return self.clock() - self.last_renew >= self.duration / 3

    def release_lock(self, *, deadline: float = 10.0) -> None:
        self.write(release=True, deadline=deadline)

