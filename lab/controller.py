"""The lab controller: reads the emulated router objects and programs HAProxy weights.

A thread polls the emulator's store in-process (every 20 ms it compares the store's
revision; it re-reads at least every second) and, for the router kind the lab runs
(`router`), computes the traffic shares as the real controller would (see `lab.routing`)
and sets HAProxy server weights (share * 256; exact 0 and 256 for 0% and 100%). A share
that goes to a Service that is not one of the release's colours, or no routable object at
all, goes to the ``void`` server, which answers 503, as a real ingress answers for a
missing backend. `split` is the last programmed split in percent by colour.

Preview routes (header -> colour, see `lab.routing`) are read the same way and handed to
`set_previews` (HAProxy's preview map); `previews` is the last programmed set.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from lab import routing
from lab.haproxy import MAX_WEIGHT, VOID

ROUTERS = ("nginx", "gateway", "istio", "service")


class Store(Protocol):
    revision: int

    def get(self, api_version: str, plural: str, namespace: str, name: str) -> Any: ...

    def list(self, api_version: str, plural: str, namespace: str | None = None) -> Any: ...


def _items(listed: Any) -> list[dict[str, Any]]:
    if isinstance(listed, dict):
        return list(listed.get("items") or [])
    return list(listed or [])


def read_shares(store: Store, router: str, namespace: str, release: str) -> dict[str, float]:
    """The shares per backend Service name for `router`, read from the store."""
    if router == "nginx":
        ings = _items(store.list("networking.k8s.io/v1", "ingresses", namespace))
        main = next((i for i in ings if i["metadata"]["name"] == release), None)
        return routing.nginx_shares(main, ings)
    if router == "gateway":
        route = store.get("gateway.networking.k8s.io/v1", "httproutes", namespace, release)
        return routing.httproute_shares(route)
    if router == "istio":
        vs = store.get("networking.istio.io/v1", "virtualservices", namespace, release)
        return routing.virtualservice_shares(vs)
    if router == "service":
        svc = store.get("v1", "services", namespace, release)
        deps = _items(store.list("apps/v1", "deployments", namespace))
        return routing.service_shares(svc, deps)
    raise ValueError(f"router: expected one of {', '.join(ROUTERS)}, got {router!r}")


def read_previews(store: Store, router: str, namespace: str, release: str
                  ) -> dict[tuple[str, str], str]:
    """Header preview routes per (header, value) -> backend Service name, for `router`."""
    if router == "nginx":
        ings = _items(store.list("networking.k8s.io/v1", "ingresses", namespace))
        main = next((i for i in ings if i["metadata"]["name"] == release), None)
        return routing.nginx_previews(main, ings)
    if router == "gateway":
        route = store.get("gateway.networking.k8s.io/v1", "httproutes", namespace, release)
        return routing.httproute_previews(route)
    if router == "istio":
        vs = store.get("networking.istio.io/v1", "virtualservices", namespace, release)
        return routing.virtualservice_previews(vs)
    return {}


def to_weights(
    shares: Mapping[str, float], colours: Mapping[str, str]
) -> tuple[dict[str, int], dict[str, float]]:
    """HAProxy weights (colour or void -> 0..256) and the split in percent by colour.

    `colours` maps a Service name to a colour; shares to other names go to the void server.
    """
    by_colour: dict[str, float] = dict.fromkeys(colours.values(), 0.0)
    void = 0.0
    for name, share in shares.items():
        colour = colours.get(name)
        if colour is None:
            void += share
        else:
            by_colour[colour] += share
    if not shares:
        void = 1.0
    weights: dict[str, int] = {}
    for colour, share in [*by_colour.items(), (VOID, void)]:
        weight = round(share * MAX_WEIGHT)
        if share > 0 and weight == 0:
            weight = 1
        weights[colour] = weight
    split = {c: round(s * 100, 3) for c, s in by_colour.items()}
    split[VOID] = round(void * 100, 3)
    return weights, split


class LabController:
    """Thread that keeps HAProxy weights in line with the router objects."""

    def __init__(
        self,
        store: Store,
        set_weights: Callable[[Mapping[str, int]], float],
        *,
        router: str,
        namespace: str = "demo",
        release: str = "shop",
        colours: tuple[str, ...] = ("blue", "green"),
        poll: float = 0.02,
        set_previews: Callable[[Mapping[tuple[str, str], str]], None] | None = None,
    ) -> None:
        self.store = store
        self._set_weights = set_weights
        self._set_previews = set_previews
        self.previews: dict[tuple[str, str], str] = {}
        self._router = router
        self.namespace = namespace
        self.release = release
        self.colours = {f"{release}-{c}": c for c in colours}
        self.poll = poll
        self.split: dict[str, float] = {}
        self.weights: dict[str, int] = {}
        self.generation = 0  # bumps every time new weights are programmed
        self.programmed_at = 0.0  # monotonic time of the last programming
        self.last_error: str | None = None
        self.synced: tuple[str, int] = ("", -1)  # (router, store revision) last read
        self.set_latencies: list[float] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def router(self) -> str:
        return self._router

    @router.setter
    def router(self, value: str) -> None:
        if value not in ROUTERS:
            raise ValueError(f"router: expected one of {', '.join(ROUTERS)}, got {value!r}")
        self._router = value
        self._kick.set()

    def start(self) -> None:
        self.sync()
        self._thread = threading.Thread(target=self._run, name="lab-controller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        seen, last = -1, 0.0
        while not self._stop.is_set():
            revision = getattr(self.store, "revision", None)
            now = time.monotonic()
            if revision != seen or now - last > 1.0 or self._kick.is_set():
                self._kick.clear()
                seen, last = revision if revision is not None else -1, now
                with contextlib.suppress(Exception):
                    self.sync()
            self._stop.wait(self.poll)

    def sync(self) -> None:
        """Read the objects once and program HAProxy if the weights changed."""
        revision = int(getattr(self.store, "revision", 0))
        router = self._router
        try:
            shares = read_shares(self.store, router, self.namespace, self.release)
        except Exception as exc:
            self.last_error = f"reading {router} objects: {exc}"
            raise
        weights, split = to_weights(shares, self.colours)
        if weights != self.weights:
            took = self._set_weights(weights)
            self.set_latencies.append(took)
            del self.set_latencies[:-1000]
            with self._cond:
                self.weights, self.split = weights, split
                self.generation += 1
                self.programmed_at = time.monotonic()
        if self._set_previews is not None:
            found = read_previews(self.store, router, self.namespace, self.release)
            previews = {k: self.colours[s] for k, s in found.items() if s in self.colours}
            if previews != self.previews:
                try:
                    self._set_previews(previews)
                except Exception as exc:
                    self.last_error = f"preview routes: {exc}"
                    raise
                self.previews = previews
        with self._cond:
            self.synced = (router, revision)
            self._cond.notify_all()
        self.last_error = None

    def wait_for(self, split: Mapping[str, float], timeout: float = 5.0, *,
                 fresh: bool = False) -> dict[str, float]:
        """Wait until the programmed split equals `split` (percent, missing = 0).

        With `fresh`, also wait until the controller has read the store as it is now
        (for the current router kind), so an old split that happens to match is not taken.
        """
        revision = int(getattr(self.store, "revision", 0)) if fresh else -1

        def matches() -> bool:
            if fresh and (self.synced[0] != self._router or self.synced[1] < revision):
                return False
            return all(
                abs(self.split.get(c, 0.0) - split.get(c, 0.0)) < 1e-6
                for c in {*split, *self.split}
            )

        deadline = time.monotonic() + timeout
        with self._cond:
            while not matches():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"controller split is {self.split}, expected {dict(split)} "
                        f"after {timeout:g}s (last error: {self.last_error})"
                    )
                self._cond.wait(min(left, 0.05))
            return dict(self.split)
