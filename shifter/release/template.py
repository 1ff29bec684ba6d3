"""Whether the new colour would run what the live colour runs (pure).

The two colours' pod templates always differ in the colour label the Services select on, so
the comparison leaves out every pod label whose key is in either Deployment's
``spec.selector.matchLabels`` and compares the rest of ``spec.template`` (containers,
images, env, volumes, annotations...) exactly.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def _selector_keys(dep: Mapping[str, Any]) -> set[str]:
    return set(((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})


def comparable(dep: Mapping[str, Any], drop: set[str]) -> dict[str, Any]:
    template = copy.deepcopy((dep.get("spec") or {}).get("template") or {})
    meta = template.setdefault("metadata", {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in drop}
    meta["labels"] = labels
    meta.pop("creationTimestamp", None)
    return dict(template)


def same_template(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """True when the two Deployments' pod templates are the same release."""
    drop = _selector_keys(a) | _selector_keys(b)
    return comparable(a, drop) == comparable(b, drop)


def images_of(dep: Mapping[str, Any]) -> dict[str, str]:
    """{container: image} of a Deployment's pod template."""
    spec = ((dep.get("spec") or {}).get("template") or {}).get("spec") or {}
    return {str(c.get("name")): str(c.get("image", "")) for c in spec.get("containers") or []}
