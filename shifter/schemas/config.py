"""The JSON Schema of shift.yaml, generated from the pydantic model (``shifter.config``).

The model is the one source: every field, default, bound and enum comes from it. Three
things the model cannot say in JSON Schema terms are added here: a duration field takes a
Go-style duration string (``500ms``, ``1m30s``); ``router`` is a router name or one of the
routers' own config models (``shifter.routers.registry``); ``steps`` may be written as
``"10,50,100"``. The chart's ``values.schema.json`` is built from this (``chart.py``).
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

DURATION = {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$",
            "description": "a duration such as 500ms, 10s, 2m, 1m30s"}


def _duration_marks(metadata: Any) -> bool:
    return any("duration" in getattr(getattr(m, "func", None), "__name__", "")
               for m in metadata)


def _is_duration(field: Any) -> bool:
    """A field typed ``Duration`` or ``Duration | None`` (its validator parses durations)."""
    if _duration_marks(field.metadata):
        return True
    return any(typing.get_origin(arg) is typing.Annotated
               and _duration_marks(getattr(arg, "__metadata__", ()))
               for arg in typing.get_args(field.annotation))


def _patch_durations(model: type[BaseModel], node: dict[str, Any], defs: dict[str, Any],
                     seen: set[str]) -> None:
    props = node.get("properties", {})
    for name, field in model.model_fields.items():
        prop = props.get(name)
        if prop is None:
            continue
        if _is_duration(field):
            nullable = any(o.get("type") == "null" for o in prop.get("anyOf", []))
            props[name] = {**({"anyOf": [DURATION, {"type": "null"}]} if nullable
                              else DURATION),
                           **{k: v for k, v in prop.items()
                              if k in ("default", "title", "description")}}
            if "default" in prop and isinstance(prop["default"], int | float):
                props[name]["default"] = _fmt(prop["default"])
            continue
        for sub in _models_in(field.annotation):
            if sub.__name__ in defs and sub.__name__ not in seen:
                seen.add(sub.__name__)
                _patch_durations(sub, defs[sub.__name__], defs, seen)


def _fmt(seconds: float) -> str:
    return f"{int(seconds * 1000)}ms" if seconds < 1 else f"{seconds:g}s"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out += _models_in(arg)
    return out


def router_schema(defs: dict[str, Any]) -> dict[str, Any]:
    """``router``: a name or one router's fields; nested models go into ``defs``."""
    from shifter.routers.registry import CONFIGS

    variants: list[dict[str, Any]] = [{"type": "string", "enum": sorted(CONFIGS)}]
    for kind, model in sorted(CONFIGS.items()):
        s = model.model_json_schema()
        defs.update(s.pop("$defs", {}))
        s.pop("title", None)
        s.setdefault("properties", {})
        s["properties"] = {"kind": {"const": kind}, **s["properties"]}
        s["required"] = sorted({"kind", *s.get("required", [])})
        s["additionalProperties"] = False
        variants.append(s)
    return {"description": "a router name, or a mapping with kind and that router's fields",
            "oneOf": variants}


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of shift.yaml."""
    from shifter.config import Config

    schema = Config.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})
    _patch_durations(Config, schema, defs, set())
    props = schema["properties"]
    props["router"] = router_schema(schema.setdefault("$defs", {}))
    for prop in props.values():  # model-object defaults repeat the defs' own (in seconds)
        if "$ref" in prop:
            prop.pop("default", None)
    props["steps"] = {
        "description": "percent of traffic on the new colour per step; the last is 100",
        "default": list(props["steps"].get("default", [10, 50, 100])),
        "anyOf": [{"type": "array", "items": {"anyOf": [
                      {"type": "integer", "minimum": 1, "maximum": 100},
                      {"type": "object", "additionalProperties": False, "required": ["weight"],
                       "properties": {"weight": {"type": "integer", "minimum": 1,
                                                 "maximum": 100},
                                      "approve": {"type": "boolean"}}}]},
                   "minItems": 1},
                  {"type": "string", "pattern": r"^\s*\d+(\s*,\s*\d+)*\s*$"}]}
    _rules_of_validators(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "shifter shift.yaml"
    return schema


def _rules_of_validators(schema: dict[str, Any]) -> None:
    """What the model checks in validators, as JSON Schema keywords (same rules: the
    release's DNS label, the preset names, the Prometheus URL, steps ending at 100)."""
    from shifter.analysis.presets import PRESETS

    props = schema["properties"]
    props["release"].update(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength=50)
    analysis = schema["$defs"]["Analysis"]["properties"]
    analysis["preset"]["enum"] = sorted(PRESETS)
    analysis["prometheus"]["pattern"] = r"^https?://[^/\s]+"
    steps = props["steps"]["anyOf"][0]
    steps.update(uniqueItems=True, contains={"anyOf": [
        {"const": 100}, {"type": "object", "properties": {"weight": {"const": 100}},
                         "required": ["weight"]}]})
