"""Validation of writes: built-in types against the schemas `kubernetes-validate` ships,
custom resources against CRD `openAPIV3Schema`s (with their `default:` values applied), and
the few semantic checks of the real API server that the schemas do not express."""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from . import semantic
from .errors import ApiError, invalid_kind
from .resources import ResourceType

log = logging.getLogger(__name__)

K8S_SCHEMA_VERSION = "1.37.0"
# OpenAPI `required` fields a real server does not require as such (it validates built-in
# types in Go, not against the OpenAPI schema): a core/v1 Event's involvedObject
# (pkg/apis/core/validation/events.go checks only its namespace), a Service port (checked as
# a port number: semantic.py), a Deployment's template (its labels and containers are).
NOT_REQUIRED = {("Event", "involvedObject"), ("Service", "spec.ports[].port"),
                ("Deployment", "spec.template")}


def _field_path(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else json.dumps(value, default=str)


@dataclass
class Outcome:
    """Findings of one validation: bad-request messages, invalid causes, warnings."""

    bad_request: list[str] = field(default_factory=list)
    causes: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Validator:
    """Validates (and defaults) objects before they are stored. Thread-safe, cached."""

    def __init__(self, crd_dir: Path | None) -> None:
        self._lock = threading.Lock()
        self._builtin: dict[str, Any] = {}
        self._defs: Any = None
        self._crds: dict[tuple[str, str], dict[str, Any]] = {}  # (group, version) + kind
        self.crd_dir = crd_dir
        self.crds_loaded = False
        self._warned = False
        self._load_crds()

    # --- loading ---------------------------------------------------------------------------
    def _load_crds(self) -> None:
        if self.crd_dir is None or not self.crd_dir.is_dir():
            return
        for path in sorted(self.crd_dir.glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                for version in spec["versions"]:
                    schema = version.get("schema", {}).get("openAPIV3Schema")
                    if schema:
                        key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                        self._crds[key] = schema
        self.crds_loaded = bool(self._crds)

    def _builtin_validator(self, rt: ResourceType, version: str) -> Any:
        from referencing import Registry, Resource

        group_short = rt.group.split(".")[0] if rt.group else ""
        name = f"{rt.kind.lower()}-{group_short}-{version}" if group_short else \
            f"{rt.kind.lower()}-{version}"
        with self._lock:
            cached = self._builtin.get(name)
            if cached is not None:
                return cached
            import importlib.resources as res

            base = res.files("kubernetes_validate") / "kubernetes-json-schema" / \
                f"v{K8S_SCHEMA_VERSION}-local-strict"
            if self._defs is None:
                self._defs = json.loads((base / "_definitions.json").read_text())
            schema = json.loads((base / f"{name}.json").read_text())
            registry = Resource.from_contents(schema) @ Registry()
            registry = Resource.from_contents(self._defs) @ registry
            validator = jsonschema.Draft202012Validator(schema, registry=registry)
            self._builtin[name] = validator
            return validator

    # --- validation ------------------------------------------------------------------------
    def validate(self, rt: ResourceType, obj: dict[str, Any], field_validation: str) -> list[str]:
        """Validate `obj` in place (defaults applied, unknown fields pruned unless Strict).

        Raises ApiError 400 (undecodable or unknown field under Strict) or 422 (Invalid).
        Returns warnings for the `Warning` response header.
        """
        out = Outcome()
        if rt.builtin:
            self._validate_builtin(rt, obj, out)
        else:
            self._validate_custom(obj, out)
        name = obj.get("metadata", {}).get("name", "")
        out.causes.extend(semantic.check(rt, obj))
        unknown = [w for w in out.warnings if w.startswith("unknown field")]
        if field_validation == "Strict" and unknown:
            out.bad_request.append("strict decoding error: " + ", ".join(unknown))
        if out.bad_request:
            kind = rt.kind
            raise ApiError(400, f'{kind} in version "{obj.get("apiVersion", "")}" cannot be '
                                f"handled as a {kind}: " + "; ".join(out.bad_request)
                           if not out.bad_request[0].startswith("strict decoding")
                           else out.bad_request[0])
        if out.causes:
            raise invalid_kind(rt.kind, rt.group, name, out.causes)
        return [] if field_validation == "Ignore" else unknown

    def _validate_builtin(self, rt: ResourceType, obj: dict[str, Any], out: Outcome) -> None:
        version = obj.get("apiVersion", "").split("/")[-1]
        validator = self._builtin_validator(rt, version)
        for _ in range(3):  # prune unknown fields, then validate what is left
            errors = list(validator.iter_errors(obj))
            unknown = [e for e in errors if e.validator == "additionalProperties"]
            if not unknown:
                break
            for err in unknown:
                allowed = set(err.schema.get("properties", {}))
                for key in [k for k in err.instance if k not in allowed]:
                    path = _field_path([*err.absolute_path, key])
                    out.warnings.append(f'unknown field "{path}"')
                    del err.instance[key]
        for err in errors:
            path = _field_path(err.absolute_path)
            if err.validator in ("type", "oneOf", "anyOf"):
                want = err.validator_value if err.validator == "type" else "the declared type"
                if isinstance(want, list):
                    want = next((w for w in want if w != "null"), "null")
                out.bad_request.append(
                    f"json: cannot unmarshal {type(err.instance).__name__} into Go struct "
                    f"field {path} of type {want}")
            elif err.validator == "required":
                missing = err.message.split("'")[1] if "'" in err.message else ""
                where = _field_path([*err.absolute_path, missing])
                if (rt.kind, re.sub(r"\[\d+\]", "[]", where)) in NOT_REQUIRED:
                    continue
                out.causes.append({"reason": "FieldValueRequired", "message": "Required value",
                                   "field": where})
            elif err.validator == "enum":
                values = ", ".join(_show(v) for v in err.validator_value)
                out.causes.append({"reason": "FieldValueNotSupported", "field": path,
                                   "message": f"Unsupported value: {_show(err.instance)}: "
                                              f"supported values: {values}"})
            elif err.validator != "additionalProperties":
                out.causes.append({"reason": "FieldValueInvalid", "field": path,
                                   "message": f"Invalid value: {_show(err.instance)}: "
                                              f"{err.message}"})

    def _validate_custom(self, obj: dict[str, Any], out: Outcome) -> None:
        schema = self._crds.get((obj.get("apiVersion", ""), obj.get("kind", "")))
        if schema is None:
            if not self._warned:
                self._warned = True
                log.warning("lab apiserver: no CRD schemas in %s; custom resources are accepted "
                            "unvalidated", self.crd_dir)
            return
        apply_defaults(obj, schema)
        prune_unknown(obj, schema, [], out.warnings, top=True)
        validator = jsonschema.Draft7Validator(schema)
        for err in validator.iter_errors(obj):
            out.causes.append(_crd_cause(err))


def _crd_cause(err: Any) -> dict[str, str]:
    path = _field_path(err.absolute_path)
    val, inst = err.validator_value, err.instance
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else ""
        return {"reason": "FieldValueRequired", "message": "Required value",
                "field": _field_path([*err.absolute_path, missing])}
    if err.validator == "enum":
        allowed = ", ".join(_show(v) for v in val)
        return {"reason": "FieldValueNotSupported", "field": path,
                "message": f"Unsupported value: {_show(inst)}: supported values: {allowed}"}
    texts = {
        "type": f"{path} in body must be of type {val}: {_show(inst)}",
        "minimum": f"{path} in body should be greater than or equal to {val}",
        "maximum": f"{path} in body should be less than or equal to {val}",
        "pattern": f"{path} in body should match '{val}'",
        "maxLength": f"{path} in body should be at most {val} chars long",
        "minLength": f"{path} in body should be at least {val} chars long",
        "maxItems": f"{path} in body should have at most {val} items",
        "minItems": f"{path} in body should have at least {val} items",
    }
    message = texts.get(err.validator, f"{path}: {err.message}")
    return {"reason": "FieldValueInvalid", "field": path,
            "message": f"Invalid value: {_show(inst)}: {message}"}


def apply_defaults(obj: Any, schema: dict[str, Any]) -> None:
    """Fill in `default:` values of a structural schema, as the API server does."""
    if isinstance(obj, dict):
        props = schema.get("properties", {})
        for key, sub in props.items():
            if key not in obj and "default" in sub:
                obj[key] = copy.deepcopy(sub["default"])
            if key in obj:
                apply_defaults(obj[key], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in obj:
                if key not in props:
                    apply_defaults(obj[key], extra)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for item in obj:
            apply_defaults(item, schema["items"])


def prune_unknown(obj: Any, schema: dict[str, Any], path: list[Any], warnings: list[str],
                  *, top: bool = False) -> None:
    """Drop fields a structural schema does not declare (recording a warning for each)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(obj, dict) and "properties" in schema:
        props = schema["properties"]
        for key in list(obj):
            if top and key in ("apiVersion", "kind", "metadata"):
                continue
            if key in props:
                prune_unknown(obj[key], props[key], [*path, key], warnings)
            elif not schema.get("additionalProperties"):
                warnings.append(f'unknown field "{_field_path([*path, key])}"')
                del obj[key]
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(obj):
            prune_unknown(item, schema["items"], [*path, i], warnings)

