"""Per-kind update strategies of the real API server (what ``PrepareForUpdate`` does).

Only what the lab's readers depend on. For Deployments (kubernetes
``pkg/registry/apps/deployment/strategy.go``, ``deploymentStrategy.PrepareForUpdate``):
a change of ``spec`` *or* of ``metadata.annotations`` bumps ``metadata.generation`` by one
("annotations are copied from deployments to their replica sets"); a status write or a
label change does not. The generic rule for other kinds (spec changes only) stays in
``objects.carry_metadata``.
"""

from __future__ import annotations

from typing import Any

from .objects import spec_of
from .resources import ResourceType


def prepare_for_update(rt: ResourceType, new: dict[str, Any], old: dict[str, Any]) -> None:
    """Set ``new``'s generation from ``old`` as the real strategy for ``rt`` would."""
    if rt.kind != "Deployment" or not rt.generation:
        return
    old_meta, meta = old.get("metadata") or {}, new.setdefault("metadata", {})
    gen = int(old_meta.get("generation") or 1)
    changed = (spec_of(new) != spec_of(old)
               or (meta.get("annotations") or {}) != (old_meta.get("annotations") or {}))
    meta["generation"] = gen + 1 if changed else gen
