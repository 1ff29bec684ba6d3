"""The chart's ``values.schema.json``, generated: the shift.yaml keys from the model's
schema (``config.py``), the chart's own keys (image, job, RBAC, the Secret-backed
``notify`` form, ...) from ``chart_values.json``. ``python -m shifter.schemas.chart``
rewrites ``charts/shifter/values.schema.json``; a test fails when the two drift."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

SHIFT_KEYS = ("release", "router", "steps", "bake", "interval", "analysis", "smoke")


def _draft07(node: Any) -> Any:
    """``#/$defs/X`` references as draft-07 ``#/definitions/X``."""
    if isinstance(node, dict):
        return {k: (v.replace("#/$defs/", "#/definitions/") if k == "$ref" else _draft07(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_draft07(v) for v in node]
    return node


def chart_values_schema() -> dict[str, Any]:
    from shifter.schemas.config import config_schema

    base: dict[str, Any] = json.loads(
        resources.files(__package__).joinpath("chart_values.json").read_text())
    cfg = _draft07(config_schema())
    props = dict(base["properties"])
    for key in SHIFT_KEYS:
        props[key] = cfg["properties"][key]
    props["steps"] = props["steps"]["anyOf"][0]  # a list in values (toYaml keeps it so)
    order = list(base["properties"])
    base["properties"] = {k: props[k] for k in order + [k for k in props if k not in order]}
    base["definitions"] = {**base.get("definitions", {}), **cfg.get("$defs", {})}
    return base


def render() -> str:
    return json.dumps(chart_values_schema(), indent=2) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "charts/shifter/values.schema.json")
    target.write_text(render())
