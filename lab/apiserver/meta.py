"""ObjectMeta, Lease and Event validation, with the real API server's texts.

Sources (kubernetes/kubernetes): staging/src/k8s.io/apimachinery/pkg/api/validation/
objectmeta.go (names, namespace, annotations and their 256 KiB total, owner references,
finalizers), .../apis/meta/v1/validation/validation.go (labels), .../util/validation/
validation.go (qualified names, DNS labels and subdomains and their messages),
.../api/validation/path/name.go (path segment names), pkg/apis/coordination/validation/
validation.go (Lease spec), pkg/apis/core/validation/events.go (Event: legacy rules for
core/v1, strict rules for events.k8s.io/v1), and the decoding of metav1.Time and
metav1.MicroTime (.../apis/meta/v1/time.go, micro_time.go).
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import gotime
from .resources import ResourceType

Cause = dict[str, str]

ANNOTATIONS_LIMIT = 256 * 1024
_QUALIFIED_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED = re.compile(f"^{_QUALIFIED_FMT}$")
_LABEL_VALUE = re.compile(f"^({_QUALIFIED_FMT})?$")
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = f"{_DNS1123_LABEL_FMT}(\\.{_DNS1123_LABEL_FMT})*"
_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery's RegexError, spacing included."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    return msg + " (e.g. " + " or ".join(f"'{e}', " for e in examples) + \
        f"regex used for validation is '{fmt}')"


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = [_max_len(253)] if len(value) > 253 else []
    if not re.fullmatch(_DNS1123_SUBDOMAIN_FMT, value):
        errs.append(_regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character",
            _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1123_label(value: str) -> list[str]:
    errs = [_max_len(63)] if len(value) > 63 else []
    if not re.fullmatch(_DNS1123_LABEL_FMT, value):
        errs.append(_regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
            "'-', and must start and end with an alphanumeric character",
            _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = [_max_len(63)] if len(value) > 63 else []
    if not re.fullmatch(_DNS1035_FMT, value):
        errs.append(_regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
            "with an alphabetic character, and end with an alphanumeric character",
            _DNS1035_FMT, "my-name", "abc-123"))
    return errs


def is_path_segment_name(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in "/%" if c in value]


def is_qualified_name(value: str) -> list[str]:
    errs: list[str] = []
    parts = value.split("/")
    name_msg = _regex_error("must consist of alphanumeric characters, '-', '_' or '.', and "
                            "must start and end with an alphanumeric character",
                            _QUALIFIED_FMT, "MyName", "my.name", "123-abc")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    else:
        return ["a qualified name " + name_msg + " with an optional DNS subdomain prefix and "
                "'/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len(63))
    if not _QUALIFIED.match(name):
        errs.append("name part " + name_msg)
    return errs


def is_label_value(value: str) -> list[str]:
    errs = [_max_len(63)] if len(value) > 63 else []
    if not _LABEL_VALUE.match(value):
        errs.append(_regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, "
            "'-', '_' or '.', and must start and end with an alphanumeric character",
            f"({_QUALIFIED_FMT})?", "MyValue", "my_value", "12345"))
    return errs


# --- causes ---------------------------------------------------------------------------------

def _shown(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def invalid(field: str, value: Any, detail: str, *, shown: str | None = None) -> Cause:
    """field.Invalid; `shown` replaces the rendering of `value` (Go's %#v of a struct)."""
    return {"reason": "FieldValueInvalid", "field": field,
            "message": f"Invalid value: {shown or _shown(value)}: {detail}"}


def required(field: str, detail: str = "") -> Cause:
    return {"reason": "FieldValueRequired", "field": field,
            "message": "Required value" + (f": {detail}" if detail else "")}


def forbidden(field: str, detail: str) -> Cause:
    return {"reason": "FieldValueForbidden", "field": field, "message": f"Forbidden: {detail}"}


def too_long(field: str, limit: int) -> Cause:
    return {"reason": "FieldValueTooLong", "field": field,
            "message": f"Too long: may not be more than {limit} bytes"}


def name_checker(rt: ResourceType) -> Any:
    """The nameFn of a kind's strategy."""
    if rt.kind == "Namespace":
        return is_dns1123_label
    if rt.kind == "Service" and rt.group == "":
        return is_dns1035_label
    if rt.group in ("", "rbac.authorization.k8s.io") and rt.kind in ("Event", "Role",
                                                                     "RoleBinding"):
        return is_path_segment_name
    return is_dns1123_subdomain


def check_metadata(rt: ResourceType, meta: dict[str, Any]) -> list[Cause]:
    """ValidateObjectMetaAccessor: name, namespace, labels, annotations, owners, finalizers."""
    causes: list[Cause] = []
    name = meta.get("name")
    if not name:
        causes.append(required("metadata.name", "name or generateName is required"))
    elif isinstance(name, str):
        causes += [invalid("metadata.name", name, m) for m in name_checker(rt)(name)]
    ns = meta.get("namespace")
    if rt.namespaced:
        if not ns:
            causes.append(required("metadata.namespace"))
        elif isinstance(ns, str):
            causes += [invalid("metadata.namespace", ns, m) for m in is_dns1123_label(ns)]
    labels = meta.get("labels")
    if isinstance(labels, dict):
        for key, value in labels.items():
            causes += [invalid("metadata.labels", key, m) for m in is_qualified_name(key)]
            if isinstance(value, str):
                causes += [invalid("metadata.labels", value, m) for m in is_label_value(value)]
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        for key in annotations:
            causes += [invalid("metadata.annotations", key, m)
                       for m in is_qualified_name(key.lower())]
        size = sum(len(k.encode()) + len(str(v or "").encode()) for k, v in annotations.items())
        if size > ANNOTATIONS_LIMIT:
            causes.append(too_long("metadata.annotations", ANNOTATIONS_LIMIT))
    for ref in meta.get("ownerReferences") or []:
        if not isinstance(ref, dict):
            continue
        for key, what in (("apiVersion", "version must not be empty"),
                          ("kind", "must not be empty"), ("name", "must not be empty"),
                          ("uid", "must not be empty")):
            if not ref.get(key):
                causes.append(invalid(f"metadata.ownerReferences.{key}", "", what))
    for fin in meta.get("finalizers") or []:
        if isinstance(fin, str):
            causes += [invalid("metadata.finalizers", fin, m) for m in is_qualified_name(fin)]
    return causes


def check_lease(spec: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    duration = spec.get("leaseDurationSeconds")
    if isinstance(duration, int) and duration <= 0:
        causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if isinstance(transitions, int) and transitions < 0:
        causes.append(invalid("spec.leaseTransitions", transitions,
                              "must be greater than or equal to 0"))
    return causes


# --- time fields (decoding: a 400 before any validation) -----------------------------------

_TIME_FIELDS: dict[tuple[str, str], list[tuple[tuple[str, ...], str]]] = {
    ("coordination.k8s.io", "Lease"): [(("spec", "acquireTime"), gotime.RFC3339_MICRO),
                                       (("spec", "renewTime"), gotime.RFC3339_MICRO)],
    ("", "Event"): [(("eventTime",), gotime.RFC3339_MICRO),
                    (("firstTimestamp",), gotime.RFC3339),
                    (("lastTimestamp",), gotime.RFC3339),
                    (("series", "lastObservedTime"), gotime.RFC3339_MICRO)],
    ("events.k8s.io", "Event"): [(("eventTime",), gotime.RFC3339_MICRO),
                                 (("deprecatedFirstTimestamp",), gotime.RFC3339),
                                 (("deprecatedLastTimestamp",), gotime.RFC3339),
                                 (("series", "lastObservedTime"), gotime.RFC3339_MICRO)],
}
_META_TIMES = [(("metadata", "creationTimestamp"), gotime.RFC3339),
               (("metadata", "deletionTimestamp"), gotime.RFC3339)]
_CONDITION_TIMES = ("lastUpdateTime", "lastTransitionTime", "lastProbeTime",
                    "lastHeartbeatTime")


def _at(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def time_error(rt: ResourceType, obj: dict[str, Any]) -> str | None:
    """The decoder's error for the first malformed Time or MicroTime, else None."""
    fields = _META_TIMES + _TIME_FIELDS.get((rt.group, rt.kind), [])
    values = [(_at(obj, path), layout) for path, layout in fields]
    status = obj.get("status")
    if rt.builtin and isinstance(status, dict):
        for cond in status.get("conditions") or []:
            if isinstance(cond, dict):
                values += [(cond.get(k), gotime.RFC3339) for k in _CONDITION_TIMES]
    for value, layout in values:
        if isinstance(value, str):
            err = gotime.parse_error(value, layout)
            if err:
                return err
    return None


def _zero_time(value: Any) -> bool:
    return value in (None, "")


# --- Events ---------------------------------------------------------------------------------

def check_event(rt: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    """ValidateEventCreate/Update: legacy rules for core/v1, strict ones for events.k8s.io."""
    strict = rt.group == "events.k8s.io"
    ns = (obj.get("metadata") or {}).get("namespace") or ""

    def get(core: str, events: str) -> Any:
        return obj.get(events if strict else core)

    involved = get("involvedObject", "regarding") or {}
    inv_ns = involved.get("namespace") or "" if isinstance(involved, dict) else ""
    causes: list[Cause] = []
    mismatch = invalid("involvedObject.namespace", inv_ns, "does not match event.namespace")
    if _zero_time(obj.get("eventTime")):
        if (not inv_ns and ns not in ("", "default")) or (inv_ns and ns != inv_ns):
            causes.append(mismatch)
    else:
        if not inv_ns and ns not in ("default", "kube-system"):
            causes.append(mismatch)
        controller = obj.get("reportingController") or ""
        if not controller:
            causes.append(required("reportingController"))
        causes += [invalid("reportingController", controller, m)
                   for m in is_qualified_name(controller)]
        for field, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
            value = str(obj.get(field) or "")
            if not value:
                causes.append(required(field))
            if len(value) > limit:
                causes.append(invalid(field, "", f"can have at most {limit} characters"))
        if len(str(get("message", "note") or "")) > 1024:
            causes.append(invalid("message", "", "can have at most 1024 characters"))
    if not strict:
        return causes
    series = obj.get("series")
    if isinstance(series, dict):
        if int(series.get("count") or 0) < 2:
            causes.append(invalid("series.count", "", "should be at least 2"))
        if _zero_time(series.get("lastObservedTime")):
            causes.append(required("series.lastObservedTime"))
    if _zero_time(obj.get("eventTime")):
        causes.append(required("eventTime"))
    kind = obj.get("type")
    if kind not in ("Normal", "Warning"):
        causes.append(invalid("type", "", f"has invalid value: {kind or ''}"))
    for events_name, core_name in (("deprecatedFirstTimestamp", "firstTimestamp"),
                                   ("deprecatedLastTimestamp", "lastTimestamp")):
        if not _zero_time(obj.get(events_name)):
            causes.append(invalid(core_name, "", "needs to be unset"))
    if obj.get("deprecatedCount"):
        causes.append(invalid("count", "", "needs to be unset"))
    source = obj.get("deprecatedSource") or {}
    if isinstance(source, dict) and (source.get("component") or source.get("host")):
        causes.append(invalid("source", "", "needs to be unset"))
    return causes
