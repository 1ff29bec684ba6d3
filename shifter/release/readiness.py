"""A Deployment's rollout as ``kubectl rollout status`` judges it (pure), and the wait.

Follows kubectl's ``DeploymentStatusViewer`` (kubectl ``pkg/polymorphichelpers/
rollout_status.go``): nothing counts until ``status.observedGeneration`` reaches
``metadata.generation``; a ``Progressing`` condition with reason
``ProgressDeadlineExceeded`` is a failure; otherwise the rollout is complete when every
desired replica is updated, no old replica is left and every updated replica is
available. shifter also wants every desired replica ready, and more than zero of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"


@dataclass(frozen=True)
class RolloutStatus:
    """What the Deployment's status says now."""

    done: bool
    failed: bool  # the controller gave up (ProgressDeadlineExceeded)
    message: str
    desired: int
    updated: int
    ready: int
    available: int
    observed: bool = True  # status.observedGeneration has reached metadata.generation
    replicas: int = 0  # status.replicas: new and old pods

    @property
    def new_ready(self) -> int:
        """Ready replicas of the new version, at least (ready pods beyond the old ones)."""
        if not self.observed:
            return 0
        old = max(0, self.replicas - self.updated)
        return max(0, min(self.updated, self.ready - old))


def _conditions(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in status.get("conditions") or [] if isinstance(c, dict)}


def conditions_reason(dep: Mapping[str, Any]) -> str:
    """The Deployment's conditions as one line: ``Progressing=False ProgressDeadline...``."""
    parts = []
    for kind, c in _conditions(dep.get("status") or {}).items():
        text = f"{kind}={c.get('status')} {c.get('reason', '')}".strip()
        if c.get("message"):
            text += f" ({c['message']})"
        parts.append(text)
    return "; ".join(parts) or "no conditions reported"


def rollout_status(dep: Mapping[str, Any]) -> RolloutStatus:
    meta, spec = dep.get("metadata") or {}, dep.get("spec") or {}
    status = dep.get("status") or {}
    name = meta.get("name", "")
    desired = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    total = int(status.get("replicas") or 0)

    def out(done: bool, message: str, failed: bool = False, observed: bool = True
            ) -> RolloutStatus:
        return RolloutStatus(done, failed, message, desired, updated, ready, available,
                             observed, total)

    if int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return out(False, "waiting for the deployment spec update to be observed",
                   observed=False)
    progressing = _conditions(status).get("Progressing") or {}
    if progressing.get("reason") == DEADLINE_EXCEEDED:
        return out(False, f"deployment {name!r} exceeded its progress deadline: "
                          f"{progressing.get('message', '')}".rstrip(": "), failed=True)
    if updated < desired:
        return out(False, f"{updated} of {desired} new replicas have been updated")
    if total > updated:
        return out(False, f"{total - updated} old replicas are pending termination")
    if available < updated:
        return out(False, f"{available} of {updated} updated replicas are available")
    if ready < desired:
        return out(False, f"{ready} of {desired} replicas are ready")
    if desired == 0:
        return out(False, "scaled to 0 replicas", failed=True)
    return out(True, f"{ready}/{desired} ready")


class NotReady(Exception):
    """The wait ended without a complete rollout: ``status`` is the last one read."""

    def __init__(self, status: RolloutStatus, why: str, dep: Mapping[str, Any]) -> None:
        super().__init__(why)
        self.status = status
        self.why = why
        self.dep = dep


def wait_ready(read: Callable[[], Mapping[str, Any]], *, timeout: float,
               on_progress: Callable[[RolloutStatus], None],
               stop: Callable[[], None] = lambda: None, poll: float = 0.5,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> RolloutStatus:
    """Poll until the rollout is complete; ``NotReady`` when it failed or timed out.

    ``on_progress`` is called whenever what the status says changes; ``stop`` may raise
    (an interrupted shifter).
    """
    deadline = clock() + timeout
    last: RolloutStatus | None = None
    while True:
        dep = read()
        st = rollout_status(dep)
        if st != last:
            on_progress(st)
            last = st
        if st.done:
            return st
        if st.failed:
            raise NotReady(st, st.message, dep)
        if clock() >= deadline:
            raise NotReady(st, f"not ready after the ready timeout ({timeout:g}s): "
                               f"{st.message}", dep)
        stop()
        sleep(min(poll, max(0.0, deadline - clock())))
