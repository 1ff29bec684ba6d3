"""The checks of a write before validation: decoding and the update preconditions.

What a real server does, in its order (kubernetes/kubernetes):
- decoding (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go, update.go,
  rest.go `transformDecodeError`): a body of another kind cannot be converted (400), a
  body of the right kind in another version is refused (400 "the API version in the data
  ... does not match the expected API version ..."), a malformed metav1.Time/MicroTime
  fails its UnmarshalJSON (400);
- `checkName` (handlers/rest.go, also after a patch in handlers/patch.go): the body's name
  and namespace must be the URL's (400);
- the update itself (staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go
  `Update`, registry/rest/update.go): a uid in a PUT body is a precondition (409), a
  write without resourceVersion is refused where the strategy does not allow an
  unconditional update: Lease (pkg/registry/coordination/lease/strategy.go) and every
  custom resource (apiextensions-apiserver .../registry/customresource/strategy.go)
  (422 on `<plural>.<group>`); a patch that changes the uid is 422 "field is immutable"
  (apimachinery/pkg/api/validation/objectmeta.go `ValidateObjectMetaAccessorUpdate`).
"""

from __future__ import annotations

from typing import Any

from . import errors, meta
from .resources import ResourceType, split_api_version

CREATE_ON_UPDATE = {("coordination.k8s.io", "leases"), ("", "events"),
                    ("events.k8s.io", "events"), ("rbac.authorization.k8s.io", "roles"),
                    ("rbac.authorization.k8s.io", "rolebindings")}


def unconditional_update(rt: ResourceType) -> bool:
    """Whether a PUT without resourceVersion is allowed (AllowUnconditionalUpdate)."""
    return rt.builtin and rt.kind != "Lease"


def create_on_update(rt: ResourceType) -> bool:
    """Whether a PUT may create the object (AllowCreateOnUpdate)."""
    return rt.key in CREATE_ON_UPDATE


def _internal(rt: ResourceType) -> str:
    if rt.group in ("", "events.k8s.io"):
        return "core"
    return rt.group.split(".")[0]


def decode(rt: ResourceType, version: str, obj: Any) -> None:
    """Raise the decoder's 400 for a body of another kind/version or a malformed time."""
    if not isinstance(obj, dict):
        return
    body_api, body_kind = obj.get("apiVersion"), obj.get("kind")
    body_version = split_api_version(body_api)[1] if isinstance(body_api, str) and body_api \
        else version
    if body_kind and body_kind != rt.kind:
        raise errors.bad_request(
            f'{body_kind} in version "{body_version}" cannot be handled as a {rt.kind}: '
            f"converting ({body_version}.{body_kind}) to ({_internal(rt)}.{rt.kind}): "
            "unknown conversion")
    if body_api and body_api != rt.api_version(version):
        raise errors.bad_request(
            f"the API version in the data ({body_api}) does not match the expected API "
            f"version ({rt.api_version(version)})")
    err = meta.time_error(rt, obj)
    if err:
        raise errors.bad_request(f'{rt.kind} in version "{version}" cannot be handled as a '
                                 f"{rt.kind}: {err}")


def check_create(obj: Any) -> None:
    """A create carrying a resourceVersion: the storage's ErrResourceVersionSetOnCreate,
    answered as a plain error (500, reason Unknown) by responsewriters' ErrorToAPIStatus
    (staging/src/k8s.io/apiserver/pkg/storage/errors.go, etcd3/store.go Create)."""
    if isinstance(obj, dict) and (obj.get("metadata") or {}).get("resourceVersion"):
        raise errors.ApiError(500, "resourceVersion should not be set on objects to be created",
                              reason="Unknown")


def check_preconditions(rt: ResourceType, name: str, pre: Any, stored: dict[str, Any]) -> None:
    """DeleteOptions.preconditions (storage/interfaces.go Preconditions.Check): 409."""
    if not isinstance(pre, dict):
        return
    meta_ = stored["metadata"]
    for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        want = pre.get(key)
        if want is not None and want != meta_.get(key, ""):
            msg = (f"Operation cannot be fulfilled on {errors.qualified(rt.plural, rt.group)} "
                   f'"{name}": Precondition failed: {label} in precondition: {want}, {label} '
                   f"in object meta: {meta_.get(key, '')}")
            raise errors.ApiError(409, msg, reason="Conflict",
                                  details=errors.details(rt.plural, rt.group, name))


def check_name(name: str, ns: str, obj: dict[str, Any]) -> None:
    """handlers/rest.go `checkName`."""
    body = obj.get("metadata") or {}
    body_name = body.get("name") or ""
    if body_name != name:
        raise errors.bad_request(f"the name of the object ({body_name}) does not match the "
                                 f"name on the URL ({name})")
    body_ns = body.get("namespace") or ""
    if ns and body_ns and body_ns != ns:
        raise errors.bad_request(f"the namespace of the object ({body_ns}) does not match the "
                                 f"namespace on the request ({ns})")


def preconditions(rt: ResourceType, name: str, obj: dict[str, Any], old: dict[str, Any], *,
                  put: bool, unconditional: bool) -> None:
    """uid precondition (PUT), resourceVersion required or current, uid immutable (patch)."""
    body = obj.get("metadata") or {}
    old_meta = old["metadata"]
    uid = body.get("uid") or ""
    if put and uid and uid != old_meta.get("uid"):
        msg = (f'Operation cannot be fulfilled on {errors.qualified(rt.plural, rt.group)} '
               f'"{name}": Precondition failed: UID in precondition: {uid}, UID in object '
               f'meta: {old_meta.get("uid", "")}')
        raise errors.ApiError(409, msg, reason="Conflict",
                              details=errors.details(rt.plural, rt.group, name))
    sent_rv = body.get("resourceVersion") or ""
    if not sent_rv and not unconditional and not unconditional_update(rt):
        cause = meta.invalid("metadata.resourceVersion", 0, "must be specified for an update")
        err = errors.invalid(errors.qualified(rt.plural, rt.group), rt.group, name, [cause])
        if err.details is not None:
            err.details["kind"] = rt.plural  # NewInvalid on the resource, as store.go does
        raise err
    if sent_rv and sent_rv != old_meta["resourceVersion"]:
        raise errors.conflict(rt.plural, rt.group, name)
    if uid and uid != old_meta.get("uid"):
        raise errors.invalid_kind(rt.kind, rt.group, name,
                                  [meta.invalid("metadata.uid", uid, "field is immutable")])


def _go_selector(sel: Any) -> str:
    labels = (sel or {}).get("matchLabels") or {}
    inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items()))
    exprs = (sel or {}).get("matchExpressions")
    shown = "[]v1.LabelSelectorRequirement(nil)" if not exprs else \
        f"[]v1.LabelSelectorRequirement{{...{len(exprs)}}}"
    return f"v1.LabelSelector{{MatchLabels:map[string]string{{{inner}}}, MatchExpressions:{shown}}}"


def immutable(rt: ResourceType, name: str, new: dict[str, Any], old: dict[str, Any]) -> None:
    """Spec fields a type's update validation keeps: an apps/v1 Deployment's selector
    (pkg/apis/apps/validation/validation.go ValidateDeploymentUpdate)."""
    if rt.kind != "Deployment":
        return
    before = (old.get("spec") or {}).get("selector")
    after = (new.get("spec") or {}).get("selector")
    if after != before:
        raise errors.invalid_kind(rt.kind, rt.group, name, [meta.invalid(
            "spec.selector", after, "field is immutable", shown=_go_selector(after))])
