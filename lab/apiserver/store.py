"""The object store: one storage per group+resource, a cluster-wide resourceVersion, and
the write semantics of a real API server (conflicts, generation, status, dry run)."""

from __future__ import annotations

import builtins
import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from . import errors, gojson, objects, patch, strategy, updates, watch
from .resources import TYPES, ResourceType, resolve, split_api_version
from .validation import Validator

Key = tuple[str, str]  # (namespace, name)

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
CUSTOM_PATCH_TYPES = [JSON_PATCH, MERGE, APPLY]


class Store:
    """Thread-safe in-memory storage. Public methods (create/get/put/delete/list) are the
    in-process access of the lab: no auth, no faults, but validated and versioned."""

    def __init__(self, validator: Validator, deployment_ready_delay: float = 0.0) -> None:
        self._lock = threading.RLock()
        self._validator = validator
        self.deployment_ready_delay = deployment_ready_delay
        self._data: dict[tuple[str, str], dict[Key, dict[str, Any]]] = {}
        self._rv = 0
        self._pending_ready: dict[Key, float] = {}
        self._held: set[Key] = set()
        self.changes = watch.ChangeLog()
        self.reset()

    # --- lifecycle -------------------------------------------------------------------------
    def reset(self) -> None:
        """Empty the store except namespaces `default` and `kube-system`."""
        with self._lock:
            self._data = {rt.key: {} for rt in TYPES}
            self._pending_ready.clear()
            self._held.clear()
            self.changes.reset(self._rv)
            for ns in ("default", "kube-system"):
                self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    @property
    def revision(self) -> int:
        with self._lock:
            self._tick()
            return self._rv

    def _bump(self) -> str:
        self._rv += 1
        return str(self._rv)

    # --- in-process API --------------------------------------------------------------------
    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        rt, version, ns = self._locate(obj)
        return self.create_obj(rt, version, ns, copy.deepcopy(obj))[0]

    def get(self, api_version: str, kind_or_plural: str, namespace: str | None,
            name: str) -> dict[str, Any] | None:
        rt = resolve(api_version, kind_or_plural)
        try:
            return self.get_obj(rt, split_api_version(api_version)[1], namespace or "", name)
        except errors.ApiError:
            return None

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace, without a resourceVersion check (status kept as given)."""
        rt, version, ns = self._locate(obj)
        name = obj.get("metadata", {}).get("name", "")
        with self._lock:
            if (ns, name) not in self._data[rt.key]:
                return self.create_obj(rt, version, ns, copy.deepcopy(obj), keep_status=True)[0]
            body = copy.deepcopy(obj)
            body.setdefault("metadata", {}).pop("resourceVersion", None)
            return self.update_obj(rt, version, ns, name, body, subresource="",
                                   keep_status="status" in body, unconditional=True)[0]

    def delete(self, api_version: str, plural: str, namespace: str | None, name: str) -> None:
        rt = resolve(api_version, plural)
        self.delete_obj(rt, namespace or "", name)

    def list(self, api_version: str, plural: str,
             namespace: str | None = None) -> list[dict[str, Any]]:
        rt = resolve(api_version, plural)
        return self.list_objs(rt, split_api_version(api_version)[1], namespace or "")[0]

    def hold_deployment(self, namespace: str, name: str, hold: bool = True) -> None:
        """While held, a Deployment's status is not made ready automatically."""
        with self._lock:
            if hold:
                self._held.add((namespace, name))
                self._pending_ready.pop((namespace, name), None)
            else:
                self._held.discard((namespace, name))
                self._schedule_ready(namespace, name)

    def _locate(self, obj: dict[str, Any]) -> tuple[ResourceType, str, str]:
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        try:
            rt = resolve(api_version, kind)
        except KeyError as exc:
            raise errors.bad_request(f"no kind {kind!r} is registered for version "
                                     f"{api_version!r}") from exc
        ns = obj.get("metadata", {}).get("namespace") or ("default" if rt.namespaced else "")
        return rt, split_api_version(api_version)[1], ns

    # --- verbs (used by the HTTP handler) --------------------------------------------------
    def get_obj(self, rt: ResourceType, version: str, ns: str, name: str) -> dict[str, Any]:
        with self._lock:
            self._tick()
            stored = self._data[rt.key].get((ns, name))
            if stored is None:
                raise errors.not_found(rt.plural, rt.group, name)
            return objects.view(stored, rt.api_version(version), rt.kind)

    def list_objs(self, rt: ResourceType, version: str, ns: str,
                  match: Callable[[dict[str, Any]], bool] | None = None,
                  ) -> tuple[builtins.list[dict[str, Any]], str]:
        with self._lock:
            self._tick()
            items = [objects.view(o, rt.api_version(version), rt.kind)
                     for (o_ns, _), o in sorted(self._data[rt.key].items())
                     if (not ns or o_ns == ns) and (match is None or match(o))]
            return items, str(self._rv)

    def create_obj(self, rt: ResourceType, version: str, ns: str, obj: dict[str, Any], *,
                   dry_run: bool = False, field_validation: str = "Strict",
                   keep_status: bool = False) -> tuple[dict[str, Any], builtins.list[str]]:
        with self._lock:
            self._tick()
            if not isinstance(obj, dict):
                raise errors.bad_request("the body of the request must be a JSON object")
            updates.decode(rt, version, obj)
            obj["apiVersion"], obj["kind"] = rt.api_version(version), rt.kind
            body_ns = obj.get("metadata", {}).get("namespace")
            if rt.namespaced and body_ns and body_ns != ns:
                raise errors.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            if rt.namespaced and ("", ns) not in self._data[("", "namespaces")]:
                raise errors.not_found("namespaces", "", ns)
            objects.init_metadata(obj, rt, ns)
            if rt.status_subresource and not keep_status:
                obj.pop("status", None)
            objects.apply_builtin_defaults(rt, obj)
            warnings = self._validator.validate(rt, obj, field_validation)
            name = obj["metadata"]["name"]
            if (ns, name) in self._data[rt.key]:
                raise errors.already_exists(rt.plural, rt.group, name)
            if dry_run:
                return objects.view(obj, rt.api_version(version), rt.kind), warnings
            has_status = "status" in obj and keep_status
            obj["metadata"]["resourceVersion"] = self._bump()
            self._data[rt.key][(ns, name)] = obj
            self._emit("ADDED", rt, ns, obj)
            if rt.kind == "Deployment":
                obj.setdefault("status", {})
                if not has_status:
                    self._schedule_ready(ns, name)
            return objects.view(obj, rt.api_version(version), rt.kind), warnings

    def update_obj(self, rt: ResourceType, version: str, ns: str, name: str,
                   obj: dict[str, Any], *, subresource: str, dry_run: bool = False,
                   field_validation: str = "Strict", keep_status: bool = False,
                   put: bool = True, unconditional: bool = False,
                   ) -> tuple[dict[str, Any], builtins.list[str]]:
        """PUT (`put`) or the result of a patch; `unconditional`: no resourceVersion rule
        (the lab's in-process `put`)."""
        with self._lock:
            self._tick()
            if not isinstance(obj, dict):
                raise errors.bad_request("the body of the request must be a JSON object")
            old = self._data[rt.key].get((ns, name))
            if old is None and put and not subresource and updates.create_on_update(rt):
                updates.decode(rt, version, obj)
                updates.check_name(name, ns, obj)
                obj.get("metadata", {}).pop("resourceVersion", None)
                return self.create_obj(rt, version, ns, obj, dry_run=dry_run,
                                       field_validation=field_validation)
            if old is None:
                raise errors.not_found(rt.plural, rt.group, name)
            updates.decode(rt, version, obj)
            obj.setdefault("metadata", {})
            updates.check_name(name, ns, obj)
            updates.preconditions(rt, name, obj, old, put=put, unconditional=unconditional)
            obj["apiVersion"], obj["kind"] = rt.api_version(version), rt.kind
            if subresource == "status":
                new = copy.deepcopy(old)
                new["apiVersion"] = obj["apiVersion"]
                if "status" in obj:
                    new["status"] = obj["status"]
                else:
                    new.pop("status", None)
            else:
                new = obj
                if rt.status_subresource and not keep_status:
                    if "status" in old:
                        new["status"] = copy.deepcopy(old["status"])
                    else:
                        new.pop("status", None)
            if subresource != "status":
                updates.immutable(rt, name, new, old)
            objects.carry_metadata(new, old, rt)
            objects.apply_builtin_defaults(rt, new)
            strategy.prepare_for_update(rt, new, old)
            warnings = self._validator.validate(rt, new, field_validation)
            stored_view = objects.view(old, obj["apiVersion"], rt.kind)
            if objects.without_rv(new) == objects.without_rv(stored_view) or dry_run:
                return objects.view(new if dry_run else old, obj["apiVersion"], rt.kind), warnings
            spec_changed = objects.spec_of(new) != objects.spec_of(old)
            new["apiVersion"] = rt.api_version()
            new["metadata"]["resourceVersion"] = self._bump()
            self._data[rt.key][(ns, name)] = new
            self._emit("MODIFIED", rt, ns, new, old)
            if rt.kind == "Deployment":
                if subresource == "status" or (keep_status and "status" in obj):
                    self._pending_ready.pop((ns, name), None)
                elif spec_changed:
                    self._schedule_ready(ns, name)
            return objects.view(new, obj["apiVersion"], rt.kind), warnings

    def patch_obj(self, rt: ResourceType, version: str, ns: str, name: str, content_type: str,
                  body: Any, *, subresource: str = "", dry_run: bool = False,
                  field_validation: str = "Strict", raw: bytes = b"",
                  ) -> tuple[dict[str, Any], builtins.list[str]]:
        """Apply a patch; `raw` is the request body (a JSON patch's `test` compares bytes)."""
        if content_type == STRATEGIC and not rt.builtin:
            raise errors.unsupported_media_type(content_type, CUSTOM_PATCH_TYPES)
        with self._lock:
            self._tick()
            stored = self._data[rt.key].get((ns, name))
            if stored is None:
                if content_type == APPLY and isinstance(body, dict) and not subresource:
                    return self.create_obj(rt, version, ns, body, dry_run=dry_run,
                                           field_validation=field_validation)
                raise errors.not_found(rt.plural, rt.group, name)
            current = objects.view(stored, rt.api_version(version), rt.kind)
            if content_type == MERGE or (content_type == APPLY and not rt.builtin):
                if not isinstance(body, dict):
                    raise errors.bad_request("json: cannot unmarshal array into Go value of "
                                             "type map[string]interface {}")
                patched = patch.merge_patch(current, body)
            elif content_type == JSON_PATCH:
                patched = patch.json_patch(current, body,
                                           gojson.raw_values(raw) if raw else None)
            elif content_type in (STRATEGIC, APPLY):
                if not isinstance(body, dict):
                    raise errors.bad_request("json: cannot unmarshal array into Go value of "
                                             "type map[string]interface {}")
                patched = patch.strategic_merge(current, body)
            else:
                accepted = [JSON_PATCH, MERGE, APPLY] + ([STRATEGIC] if rt.builtin else [])
                raise errors.unsupported_media_type(content_type, accepted)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patched object must be a JSON object")
            return self.update_obj(rt, version, ns, name, patched, subresource=subresource,
                                   dry_run=dry_run, field_validation=field_validation, put=False)

    def delete_obj(self, rt: ResourceType, ns: str, name: str, *, dry_run: bool = False,
                   preconditions: dict[str, Any] | None = None) -> dict[str, Any]:
        with self._lock:
            stored = self._data[rt.key].get((ns, name))
            if stored is None:
                raise errors.not_found(rt.plural, rt.group, name)
            updates.check_preconditions(rt, name, preconditions, stored)
            if dry_run:
                return stored
            del self._data[rt.key][(ns, name)]
            self._pending_ready.pop((ns, name), None)
            if rt.kind == "Namespace":
                for bucket_key, bucket in self._data.items():
                    for key in [k for k in bucket if k[0] == name]:
                        gone = bucket.pop(key)
                        gone["metadata"]["resourceVersion"] = self._bump()
                        self._emit_key("DELETED", bucket_key, key[0], gone)
            stored = copy.deepcopy(stored)
            stored["metadata"]["resourceVersion"] = self._bump()
            self._emit("DELETED", rt, ns, stored)
            return stored

    # --- watch -----------------------------------------------------------------------------
    def _emit(self, kind: str, rt: ResourceType, ns: str, obj: dict[str, Any],
              old: dict[str, Any] | None = None) -> None:
        self._emit_key(kind, rt.key, ns, obj, old)

    def _emit_key(self, kind: str, key: tuple[str, str], ns: str, obj: dict[str, Any],
                  old: dict[str, Any] | None = None) -> None:
        self.changes.emit(watch.Change(int(obj["metadata"]["resourceVersion"]), kind, key, ns,
                                       copy.deepcopy(obj), watch.selectable(old),
                                       time.monotonic()))

    # --- Deployment controller -------------------------------------------------------------
    def _schedule_ready(self, ns: str, name: str) -> None:
        if (ns, name) in self._held:
            return
        self._pending_ready[(ns, name)] = time.monotonic() + self.deployment_ready_delay
        self._tick()

    def _tick(self) -> None:
        """Make Deployments whose delay has passed ready, as their controller would."""
        if not self._pending_ready:
            return
        now = time.monotonic()
        bucket = self._data[("apps", "deployments")]
        for key, due in list(self._pending_ready.items()):
            if due > now:
                continue
            del self._pending_ready[key]
            obj = bucket.get(key)
            if obj is not None:
                old = copy.deepcopy(obj)
                obj["status"] = objects.ready_status(obj)
                obj["metadata"]["resourceVersion"] = self._bump()
                self._emit_key("MODIFIED", ("apps", "deployments"), key[0], obj, old)
