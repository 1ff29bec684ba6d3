"""Aftercare: scaling a colour's Deployment down after the rollout, and back up for undo.

``after_promotion.scale_down`` (a delay) scales the old colour to ``scale_down_to`` (default
0) that long after the promote write; ``after_revert.scale_down`` does the same for a new
colour that was reverted. A scale-down that is due when the run ends (during or at the end
of its watch) is done by the run before it lets go of the lock; one due later is recorded
in the Lease (``record.Aftercare``) and carried out by the next ``run``, or by ``shifter
cleanup``. ``undo`` cancels a scale-down of the colour it brings back, and scales that
colour back up to the recorded count first.

The scale is a merge patch of ``spec.replicas`` on the Deployment, not a write of the
``deployments/scale`` subresource: the same ``patch`` verb the ``--image`` deploy needs,
so the Role grants one rule for both. The decisions (``plan``, ``is_due``) are pure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

from shifter import retry
from shifter.config import Config
from shifter.kube.client import KubeClient, ObjectRef, PatchType
from shifter.record import Aftercare
from shifter.release.readiness import RolloutStatus, wait_ready
from shifter.routers.base import Colour
from shifter.state import Phase

log = structlog.get_logger("shifter.aftercare")

Emit = Callable[..., None]


def plan(cfg: Config, phase: Phase, new: Colour, *, promoted_at: float | None,
         ended_at: float, moved: bool) -> Aftercare | None:
    """The scale-down a rollout that ended in ``phase`` leaves behind, or None (pure).

    Promoted: the old colour, ``after_promotion.scale_down`` after the promote write.
    Rolled back or aborted with traffic moved: the new colour, ``after_revert.scale_down``
    after the end."""
    if phase is Phase.PROMOTED and cfg.after_promotion.scale_down is not None:
        colour = new.other
        delay, to = cfg.after_promotion.scale_down, cfg.after_promotion.scale_down_to
        base = promoted_at if promoted_at is not None else ended_at
    elif (phase in (Phase.ROLLED_BACK, Phase.ABORTED) and moved
          and cfg.after_revert.scale_down is not None):
        colour = new
        delay, to = cfg.after_revert.scale_down, cfg.after_revert.scale_down_to
        base = ended_at
    else:
        return None
    return Aftercare(colour=colour.value, deployment=cfg.deployment(colour.value),
                     due=round(base + delay, 3), to=to)


def is_due(care: Aftercare | None, now: float) -> bool:
    """A recorded scale-down not yet carried out whose time has come, to the millisecond
    the record keeps (pure)."""
    return care is not None and not care.done and now >= care.due - 0.001


def deployment(namespace: str, name: str) -> ObjectRef:
    return ObjectRef("apps/v1", "deployments", "Deployment", name, namespace)


def replicas(client: KubeClient, namespace: str, name: str) -> int:
    dep = retry.kube(lambda: client.get(deployment(namespace, name)),
                     what=f"read Deployment {name}")
    return int((dep.get("spec") or {}).get("replicas", 1))


def scale(client: KubeClient, namespace: str, name: str, to: int) -> int:
    """Set ``spec.replicas`` to ``to``; return the count before."""
    before = replicas(client, namespace, name)
    if before != to:
        retry.kube(lambda: client.patch(deployment(namespace, name),
                                        {"spec": {"replicas": to}}, PatchType.MERGE),
                   what=f"scale Deployment {name}", retry_on_invalid=True)
    return before


def carry_out(client: KubeClient, namespace: str, care: Aftercare, emit: Emit,
              why: str) -> Aftercare:
    """Scale ``care``'s Deployment down now; the record of it, with the count before."""
    before = scale(client, namespace, care.deployment, care.to)
    emit("scale", colour=care.colour, deployment=care.deployment, replicas=care.to,
         previous=before, why=why)
    log.info("scaled down", deployment=care.deployment, replicas=care.to, before=before)
    return care.model_copy(update={"done": True, "replicas": before})


def scale_up_and_wait(client: KubeClient, namespace: str, name: str, to: int, *,
                      timeout: float, emit: Emit, colour: str) -> RolloutStatus:
    """Scale ``name`` to ``to`` replicas and wait until they are all ready
    (``readiness.NotReady`` when they are not within ``timeout``)."""
    before = scale(client, namespace, name, to)
    emit("scale", colour=colour, deployment=name, replicas=to, previous=before,
         why="undo: bring the previous colour back before moving traffic")
    ref = deployment(namespace, name)
    return wait_ready(lambda: client.get(ref), timeout=timeout,
                      on_progress=lambda st: log.info("waiting for the previous colour",
                                                      deployment=name, status=st.message))


def restore_count(care: Aftercare | None, colour: Colour, fallback: int) -> int:
    """The replicas ``colour`` had before a recorded scale-down of it (pure)."""
    if care is not None and care.colour == colour.value and care.replicas:
        return care.replicas
    return max(1, fallback)


def left(care: Aftercare, now: float | None = None) -> float:
    return max(0.0, care.due - (time.time() if now is None else now))


def describe(care: Aftercare, now: float | None = None) -> dict[str, Any]:
    return {**care.model_dump(), "due_in": round(left(care, now), 1)}
