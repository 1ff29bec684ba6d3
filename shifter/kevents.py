"""Kubernetes Events on the router object, so ``kubectl describe`` shows the rollout.

Best effort: an Event that cannot be written is logged and never fails or slows a rollout
for long: one attempt, each request bounded to ``REQUEST_TIMEOUT`` seconds. The engine
writes them after the decision they report (a revert's router write comes first).
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from shifter.errors import ShifterError
from shifter.kube.client import KubeClient, ObjectRef, bounded
from shifter.lease import now_micro

log = structlog.get_logger("shifter.events")

REQUEST_TIMEOUT = 1.0  # seconds one Event request may take


class EventRecorder:
    """Writes core/v1 Events whose involvedObject is the router's main object."""

    def __init__(self, client: KubeClient, target: ObjectRef, *, identity: str,
                 enabled: bool = True) -> None:
        self.client = bounded(client, REQUEST_TIMEOUT)
        self.target = target
        self.identity = identity
        self.enabled = enabled
        self._uid: str | None = None

    def _involved(self) -> dict[str, Any]:
        if self._uid is None:
            try:
                obj = self.client.get(self.target)
                self._uid = str((obj.get("metadata") or {}).get("uid") or "")
            except ShifterError:
                self._uid = ""
        ref = {"apiVersion": self.target.api_version, "kind": self.target.kind,
               "name": self.target.name, "namespace": self.target.namespace}
        if self._uid:
            ref["uid"] = self._uid
        return ref

    def record(self, reason: str, message: str, *, warning: bool = False) -> None:
        if not self.enabled:
            return
        t = now_micro()
        ns = self.target.namespace or "default"
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{self.target.name}.{uuid.uuid4().hex[:16]}",
                         "namespace": ns},
            "involvedObject": self._involved(),
            "reason": reason, "message": message[:1000],
            "type": "Warning" if warning else "Normal",
            "source": {"component": "shifter"},
            "reportingComponent": "shifter", "reportingInstance": self.identity[:128],
            "firstTimestamp": t[:19] + "Z", "lastTimestamp": t[:19] + "Z", "count": 1,
        }
        try:
            self.client.create(ObjectRef("v1", "events", "Event", "", ns), body)
        except ShifterError as exc:
            log.warning("could not record a Kubernetes Event", reason=reason, error=str(exc))
