"""The lab's Deployment controller: the release's Deployments behave like real ones.

For each colour's Deployment (``<release>-<colour>``) the lab runs one demo app process
(``lab.app``) on that colour's fixed port; HAProxy and Prometheus know the port. This
module plays kube-controller-manager's Deployment controller and the kubelet for what
shifter reads:

- a pod-template change starts a rollout: ``status.observedGeneration`` catches up with
  ``metadata.generation`` at once, the colour's app restarts as the new version, and once it
  answers ``/healthz`` one more replica becomes updated, ready and available every
  ``STEP`` seconds (a second or two in all); then ``Progressing`` is ``True`` with reason
  ``NewReplicaSetAvailable`` and ``Available`` is ``True`` (``MinimumReplicasAvailable``);
  while it moves, ``Progressing`` is ``True`` with ``ReplicaSetUpdated``;
- an image whose tag ends ``-crashloop`` never becomes ready: the old version keeps
  running (as the old ReplicaSet's pods do during a rolling update), one new replica is
  updated but never ready, and after ``spec.progressDeadlineSeconds`` ``Progressing``
  turns ``False`` with reason ``ProgressDeadlineExceeded``;
- scaling to 0 stops the colour's app (the data plane sees no endpoints: connections to
  its port are refused); scaling up starts it again.

The image tag decides how the app behaves (``parse_image``): a plain tag (``shop:v2``) is
healthy, ``-err20`` fails 20% of requests, ``-slow300ms`` adds 300 ms, ``-crashloop``
never becomes ready; suffixes combine (``shop:v5-err5-slow100ms``).

``Sim`` is the pure part (what the status is, given what was observed and when the app
became healthy); ``DeploymentController`` is the thread doing the I/O. Reasons and
messages are those of the real controller (kubernetes ``pkg/controller/deployment/util/
deployment_util.go``: ``NewReplicaSetAvailable``, ``ReplicaSetUpdated``,
``ProgressDeadlineExceeded``, ``MinimumReplicasAvailable``, ``MinimumReplicasUnavailable``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.procs import Child, python_env

STEP = 0.6  # seconds between two replicas becoming ready
_SUFFIX = re.compile(r"-(err(\d+)|slow(\d+)(ms|s)|crashloop)$")


@dataclass(frozen=True)
class Version:
    """How an image behaves in the lab."""

    image: str
    error_rate: float = 0.0
    latency: float = 0.0
    crashloop: bool = False

    def app_args(self) -> list[str]:
        return ["--image", self.image, "--error-rate", str(self.error_rate),
                "--latency", str(self.latency)]


def parse_image(image: str) -> Version:
    """The behaviour encoded in an image's tag (see the module docstring)."""
    tag = image.rsplit("/", 1)[-1].partition("@")[0]
    tag = tag.split(":", 1)[1] if ":" in tag else "latest"
    error_rate, latency, crash = 0.0, 0.0, False
    while True:
        m = _SUFFIX.search(tag)
        if not m:
            break
        if m.group(2):
            error_rate = min(int(m.group(2)), 100) / 100
        elif m.group(3):
            latency = int(m.group(3)) / (1000 if m.group(4) == "ms" else 1)
        else:
            crash = True
        tag = tag[:m.start()]
    return Version(image, error_rate, latency, crash)


def template_hash(template: Any) -> str:
    """A stable short hash of a pod template (the lab's pod-template-hash)."""
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def main_image(dep: dict[str, Any]) -> str:
    containers = (((dep.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers") or [{}]
    return str(containers[0].get("image", ""))


def _condition(kind: str, status: str, reason: str, message: str, since: str
               ) -> dict[str, Any]:
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastUpdateTime": since, "lastTransitionTime": since}


def _rfc3339(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall))


@dataclass
class Sim:
    """One Deployment's rollout as the controller sees it; pure (times are passed in)."""

    name: str
    generation: int
    template: str  # template hash
    version: Version
    desired: int
    started: float  # monotonic time the rollout began
    deadline: float  # progressDeadlineSeconds
    old_ready: int = 0  # replicas of the previous version still serving
    healthy_at: float | None = None  # when the new version's app first answered /healthz
    complete: bool = False
    started_wall: float = field(default_factory=time.time)

    def ready(self, now: float) -> int:
        if self.version.crashloop or self.healthy_at is None or self.desired == 0:
            return 0
        return min(self.desired, 1 + int((now - self.healthy_at) / STEP))

    def status(self, now: float) -> dict[str, Any]:
        """The Deployment status at ``now``."""
        n = self.desired
        surge = max(1, math.ceil(0.25 * n)) if n else 0
        max_unavailable = int(0.25 * n)
        if self.version.crashloop:
            updated, ready_new, old = min(n, surge), 0, self.old_ready
        else:
            ready_new = self.ready(now)
            updated = min(n, ready_new + 1) if n else 0
            old = max(0, min(self.old_ready, n - ready_new))
        available = ready_new + old
        done = n == 0 or (ready_new == n and old == 0)
        self.complete = self.complete or done
        rs = f'ReplicaSet "{self.name}-{self.template[:10]}"'
        since = _rfc3339(self.started_wall)
        if done:
            progressing = _condition("Progressing", "True", "NewReplicaSetAvailable",
                                     f"{rs} has successfully progressed.", since)
        elif now - self.started > self.deadline:
            progressing = _condition("Progressing", "False", "ProgressDeadlineExceeded",
                                     f"{rs} has timed out progressing.",
                                     _rfc3339(self.started_wall + self.deadline))
        else:
            progressing = _condition("Progressing", "True", "ReplicaSetUpdated",
                                     f"{rs} is progressing.", since)
        if available >= n - max_unavailable:
            avail = _condition("Available", "True", "MinimumReplicasAvailable",
                               "Deployment has minimum availability.", since)
        else:
            avail = _condition("Available", "False", "MinimumReplicasUnavailable",
                               "Deployment does not have minimum availability.", since)
        status: dict[str, Any] = {
            "observedGeneration": self.generation,
            "replicas": updated + old,
            "updatedReplicas": updated,
            "readyReplicas": available,
            "availableReplicas": available,
            "conditions": [avail, progressing],
        }
        if available < updated + old:
            status["unavailableReplicas"] = updated + old - available
        return {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}


class Apps:
    """The demo app processes, one per colour, each on its fixed port."""

    def __init__(self, dir: Path, ports: dict[str, int], release: str) -> None:  # noqa: A002
        self.dir = dir
        self.ports = ports
        self.release = release
        self.children: dict[str, Child] = {}
        self.versions: dict[str, Version | None] = dict.fromkeys(ports)
        self.pids: list[int] = []

    def start(self, colour: str, version: Version) -> None:
        self.stop(colour)
        child = Child(
            f"app-{colour}",
            [sys.executable, "-m", "lab.app", "--colour", colour,
             "--service", f"{self.release}-{colour}", "--port", str(self.ports[colour]),
             *version.app_args()],
            log=self.dir / f"app-{colour}.log", env=python_env(),
        )
        self.children[colour] = child
        self.versions[colour] = version
        self.pids.append(child.pid)

    def stop(self, colour: str) -> None:
        child = self.children.pop(colour, None)
        self.versions[colour] = None
        if child is not None:
            child.stop()

    def alive(self, colour: str) -> bool:
        """The colour's process runs (a slow /healthz under load is no reason to restart)."""
        child = self.children.get(colour)
        return child is not None and child.alive()

    def healthy(self, colour: str) -> bool:
        child = self.children.get(colour)
        if child is None or not child.alive():
            return False
        try:
            url = f"http://127.0.0.1:{self.ports[colour]}/healthz"
            with urllib.request.urlopen(url, timeout=0.5) as resp:
                return int(resp.status) == 200
        except OSError:
            return False

    def stop_all(self) -> None:
        for colour in list(self.children):
            self.stop(colour)


class DeploymentController:
    """Thread that drives the colours' Deployments and app processes (see module doc)."""

    def __init__(self, store: Any, apps: Apps, *, namespace: str, release: str,
                 colours: tuple[str, ...] = ("blue", "green"),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.apps = apps
        self.namespace = namespace
        self.release = release
        self.colours = colours
        self.clock = clock
        self.sims: dict[str, Sim] = {}
        self._uids: dict[str, str] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lab-deployments", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
                self.last_error = None
            except Exception as exc:  # keep driving; the error is visible for tests
                self.last_error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(0.05)

    def hold(self) -> None:
        """Stop the emulator's own instant-ready behaviour for the colours' Deployments."""
        for colour in self.colours:
            self.store.hold_deployment(self.namespace, f"{self.release}-{colour}")

    def sync(self) -> None:
        """One pass over the colours. A newly created Deployment whose app already runs its
        version is ready at once (the lab's seed re-creates them)."""
        with self._lock:
            for colour in self.colours:
                self._sync_one(colour)

    def _sync_one(self, colour: str) -> None:
        name = f"{self.release}-{colour}"
        dep = self.store.get("apps/v1", "deployments", self.namespace, name)
        if dep is None:
            self.sims.pop(colour, None)
            return
        now = self.clock()
        meta, spec = dep["metadata"], dep.get("spec") or {}
        gen = int(meta.get("generation") or 1)
        desired = int(spec.get("replicas", 1))
        thash = template_hash(spec.get("template"))
        version = parse_image(main_image(dep))
        sim = self.sims.get(colour)
        new_object = self._uids.get(colour) != meta.get("uid")
        self._uids[colour] = str(meta.get("uid"))
        running = self.apps.versions.get(colour)
        if sim is None or new_object or sim.template != thash or sim.desired != desired:
            same_version = running is not None and running == version
            template_changed = sim is None or new_object or sim.template != thash
            old_ready = 0
            if sim is not None and not new_object:
                old_ready = sim.status(now).get("readyReplicas", 0) if template_changed else 0
            deadline = float(spec.get("progressDeadlineSeconds", 600))
            sim = Sim(name, gen, thash, version, desired, now, deadline, old_ready=old_ready)
            if desired == 0:
                self.apps.stop(colour)
            elif version.crashloop:
                if running is None:
                    sim.old_ready = 0
            elif not same_version or not self.apps.alive(colour):
                self.apps.start(colour, version)
            if new_object and same_version and desired and self.apps.alive(colour):
                sim.healthy_at = now - STEP * desired
            elif template_changed is False and same_version:
                sim.healthy_at = now  # a scale change: the running pods stay
            self.sims[colour] = sim
        sim.generation = gen
        if sim.healthy_at is None and not version.crashloop and desired and self.apps.healthy(
                colour):
            sim.healthy_at = now
        status = sim.status(now)
        if _comparable(dep.get("status") or {}) != _comparable(status):
            self._write_status(dep, status)

    def _write_status(self, dep: dict[str, Any], status: dict[str, Any]) -> None:
        from lab.apiserver.resources import resolve

        rt = resolve("apps/v1", "deployments")
        body = {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": dep["metadata"]["name"]}, "status": status}
        with contextlib.suppress(Exception):  # deleted in between: the next pass sees it
            self.store.update_obj(rt, "v1", self.namespace, dep["metadata"]["name"], body,
                                  subresource="status")

    def wait_settled(self, timeout: float = 10.0) -> None:
        """Until every colour's rollout is complete (or never can be)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sync()
            if all(s.complete or s.version.crashloop for s in self.sims.values()):
                return
            time.sleep(0.05)
        raise TimeoutError(f"lab Deployments not settled after {timeout:g}s: "
                           f"{ {c: s.status(self.clock()) for c, s in self.sims.items()} }")


def _comparable(status: dict[str, Any]) -> Any:
    """Status without timestamps (rewritten only when something a reader sees changed)."""
    out = dict(status)
    out["conditions"] = [{k: v for k, v in c.items() if not k.startswith("last")}
                         for c in status.get("conditions") or []]
    return out
