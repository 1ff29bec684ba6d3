"""`watch`: the store's change log and the streaming of watch events to one client.

As a real server (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/watch.go,
staging/src/k8s.io/apiserver/pkg/storage/cacher/): a watch from `resourceVersion=N` gets
every change after N; without one (or with "0") it first gets a synthetic ADDED event per
existing object; `sendInitialEvents=true` (watch-list) ends the initial events with a
BOOKMARK annotated `k8s.io/initial-events-end`; a resourceVersion older than the log keeps
is 410 Gone ("too old resource version"); label and field selectors filter, and an object
that stops (starts) matching is sent as DELETED (ADDED); `timeoutSeconds` ends the stream.
Events are newline-separated JSON objects in a chunked response.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import errors, objects
from .resources import ResourceType

KEEP = 5000  # at most this many changes are kept for watches that resume from a version,
WINDOW = 75.0  # and none older than this many seconds (the watch cache's history window,
# staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go eventFreshDuration)


@dataclass(frozen=True)
class Change:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    key: tuple[str, str]  # (group, plural)
    namespace: str
    obj: dict[str, Any]  # the stored object after the change (deep copy)
    old: dict[str, Any] | None  # before (MODIFIED)
    at: float = 0.0  # time.monotonic() when it happened


class ChangeLog:
    """Every change of the store, in resourceVersion order (bounded)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: deque[Change] = deque()
        self._oldest = 0  # changes after this rv are all kept

    def emit(self, change: Change) -> None:
        with self._cond:
            now = time.monotonic()
            while self._items and (len(self._items) >= KEEP
                                   or now - self._items[0].at > WINDOW):
                self._oldest = self._items.popleft().rv
            self._items.append(change)
            self._cond.notify_all()

    def reset(self, rv: int) -> None:
        with self._cond:
            self._items.clear()
            self._oldest = rv
            self._cond.notify_all()

    def since(self, rv: int) -> list[Change] | None:
        """Changes after `rv`; None when some were dropped already (410)."""
        with self._cond:
            if rv < self._oldest:
                return None
            return [c for c in self._items if c.rv > rv]

    def wait(self, rv: int, timeout: float) -> None:
        with self._cond:
            if not self._items or self._items[-1].rv <= rv:
                self._cond.wait(timeout)


def selectable(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """What label and field selectors can look at (kept for the state before a change):
    metadata name, namespace, labels, and the Event fields (selectors.EVENT_FIELDS)."""
    if obj is None:
        return None
    meta = obj.get("metadata") or {}
    out: dict[str, Any] = {k: copy.deepcopy(obj[k]) for k in
                           ("involvedObject", "reason", "reportingComponent", "source", "type")
                           if k in obj}
    out["metadata"] = {k: copy.deepcopy(meta[k]) for k in ("name", "namespace", "labels")
                       if k in meta}
    return out


def check_query(query: dict[str, str]) -> None:
    """400 for a resourceVersion that is not a number, before the stream starts."""
    rv = query.get("resourceVersion", "")
    if rv not in ("", "0") and not rv.isdigit():
        raise errors.bad_request(f"invalid resource version: {rv}")


def gone(rv: int) -> errors.ApiError:
    return errors.ApiError(410, f"too old resource version: {rv}", reason="Expired")


def event(kind: str, obj: dict[str, Any], rt: ResourceType, version: str) -> bytes:
    view = objects.view(obj, rt.api_version(version), rt.kind)
    return json.dumps({"type": kind, "object": view}, separators=(",", ":")).encode() + b"\n"


def bookmark(rv: int, rt: ResourceType, version: str, initial_end: bool) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj = {"kind": rt.kind, "apiVersion": rt.api_version(version), "metadata": meta}
    return json.dumps({"type": "BOOKMARK", "object": obj}, separators=(",", ":")).encode() + \
        b"\n"


def stream(write: Callable[[bytes], None], log: ChangeLog, rt: ResourceType, version: str,
           ns: str, match: Callable[[dict[str, Any]], bool],
           initial: Callable[[], tuple[list[dict[str, Any]], int]],
           query: dict[str, str], stopped: Callable[[], bool]) -> None:
    """Write watch events until the timeout or `stopped()` (client gone, server stopping).
    `query["resourceVersion"]` must be "", "0" or an integer (see `check_query`)."""
    rv_text = query.get("resourceVersion", "")
    send_initial = query.get("sendInitialEvents") == "true"
    bookmarks = query.get("allowWatchBookmarks") == "true"
    timeout = float(query.get("timeoutSeconds") or 1800)
    deadline = time.monotonic() + timeout
    if rv_text in ("", "0") or send_initial:
        items, rv = initial()
        for obj in items:
            write(event("ADDED", obj, rt, version))
        if send_initial:
            write(bookmark(rv, rt, version, initial_end=True))
    else:
        rv = int(rv_text)
    last_bookmark = time.monotonic()
    while not stopped():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        changes = log.since(rv)
        if changes is None:  # as the watch cache does: an ERROR event with the 410 Status
            write(json.dumps({"type": "ERROR", "object": gone(rv).status()}).encode() + b"\n")
            return
        for change in changes:
            rv = change.rv
            if change.key != rt.key or (ns and change.namespace != ns):
                continue
            kind = _filtered(change, match)
            if kind:
                write(event(kind, change.obj, rt, version))
        if bookmarks and time.monotonic() - last_bookmark > 1.0:
            write(bookmark(rv, rt, version, initial_end=False))
            last_bookmark = time.monotonic()
        log.wait(rv, min(left, 0.5))


def _filtered(change: Change, match: Callable[[dict[str, Any]], bool]) -> str | None:
    now = match(change.obj)
    if change.type != "MODIFIED" or change.old is None:
        return change.type if now else None
    before = match(change.old)
    if before and now:
        return "MODIFIED"
    if before:
        return "DELETED"
    return "ADDED" if now else None
