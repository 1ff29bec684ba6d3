"""From ``--image``/``deploy:`` to the patch of the idle colour's Deployment (pure)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from shifter.errors import ConfigError, InvalidInput

ONLY = ""  # images key of an image given without a container name
_CONTAINER = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def parse_images(values: Iterable[str]) -> dict[str, str]:
    """``[CONTAINER=]IMAGE`` flags as {container: image}; ``""`` = the pod's only container."""
    out: dict[str, str] = {}
    for value in values:
        name, sep, image = value.partition("=")
        if not sep:
            name, image = ONLY, value
        elif not _CONTAINER.match(name):
            raise ConfigError("--image", f"expected [CONTAINER=]IMAGE with a container name "
                                         f"like 'app', got {value!r}")
        if not image.strip() or any(c.isspace() for c in image):
            raise ConfigError("--image", f"expected [CONTAINER=]IMAGE, got {value!r}")
        if name in out:
            raise ConfigError("--image", f"container {name or '(only)'} given twice")
        out[name] = image
    return out


def containers_of(dep: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = ((dep.get("spec") or {}).get("template") or {}).get("spec") or {}
    return list(spec.get("containers") or [])


def resolve_images(images: Mapping[str, str], dep: Mapping[str, Any], where: str
                   ) -> dict[str, str]:
    """Container names checked against the Deployment; ``""`` becomes its only container."""
    names = [str(c.get("name", "")) for c in containers_of(dep)]
    out: dict[str, str] = {}
    for name, image in images.items():
        if name == ONLY:
            if len(names) != 1:
                raise InvalidInput(f"deploy.images: {where} has containers {names}; name the "
                                   f"one to update as CONTAINER=IMAGE")
            name = names[0]
        elif name not in names:
            raise InvalidInput(f"deploy.images.{name}: {where} has no container {name!r} "
                               f"(it has {', '.join(names) or 'none'})")
        out[name] = image
    return out


def _merge(base: Any, over: Any) -> Any:
    """Deep merge of two patches; container lists merge by name."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if (isinstance(base, list) and isinstance(over, list)
            and all(isinstance(x, dict) and "name" in x for x in [*base, *over])):
        merged = {x["name"]: x for x in base}
        for x in over:
            merged[x["name"]] = _merge(merged[x["name"]], x) if x["name"] in merged else x
        return list(merged.values())
    return copy.deepcopy(over)


def template_patch(images: Mapping[str, str], env: Mapping[str, str],
                   extra: Mapping[str, Any] | None, containers: list[str]) -> dict[str, Any]:
    """A strategic-merge patch of the pod template (``spec.template``).

    ``env`` goes into every container (merged by name, as strategic merge does for env);
    ``extra`` is the user's own ``deploy.template_patch``, applied under the rest.
    """
    patched: dict[str, dict[str, Any]] = {}
    for name, image in images.items():
        patched.setdefault(name, {"name": name})["image"] = image
    if env:
        for name in containers:
            patched.setdefault(name, {"name": name})["env"] = [
                {"name": k, "value": str(v)} for k, v in env.items()]
    ours: dict[str, Any] = {"spec": {"containers": list(patched.values())}} if patched else {}
    return dict(_merge(dict(extra or {}), ours))


def deployment_patch(dep: Mapping[str, Any], template: Mapping[str, Any],
                     replicas: int | None) -> dict[str, Any]:
    """The whole patch: resourceVersion precondition, replicas, pod template."""
    meta = dep.get("metadata") or {}
    spec: dict[str, Any] = {}
    if replicas is not None:
        spec["replicas"] = replicas
    if template:
        spec["template"] = dict(template)
    return {"metadata": {"resourceVersion": str(meta.get("resourceVersion", ""))},
            "spec": spec}
