"""The HTTP request handler: authentication, authorization, faults, then the verbs."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

import yaml

from . import errors, faults, objects, openapi, protobuf, resources, selectors, updates, watch
from .routing import Target, resource_target, split
from .store import APPLY, JSON_PATCH, MERGE, STRATEGIC

if TYPE_CHECKING:
    from .server import App

EMPTY_PATCH = {JSON_PATCH: "unexpected end of JSON input", MERGE: "Invalid JSON Patch",
               STRATEGIC: "unexpected end of JSON input"}
# The options object of each write verb, named in 422s about its query parameters
# (staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go).
OPTIONS = {"create": "CreateOptions", "update": "UpdateOptions", "patch": "PatchOptions",
           "delete": "DeleteOptions"}
AUTHENTICATED = "system:authenticated"  # every authenticated user's group, as in a real server
MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's --max-request-body-bytes default (3 MiB)
OPEN_PATHS = {"/healthz", "/readyz", "/livez", "/version"}


class _Drop(Exception):
    """Close the connection without answering."""


class _Answered(Exception):
    """The response was written already (a watch stream)."""


def _selected_name(verb: str, query: dict[str, str]) -> str:
    """The name a list or watch selects with `fieldSelector=metadata.name=X`: RBAC rules with
    resourceNames apply to it (staging/src/k8s.io/apiserver/pkg/endpoints/request/
    requestinfo.go, FieldSelector.RequiresExactMatch)."""
    if verb not in ("list", "watch"):
        return ""
    for term in query.get("fieldSelector", "").split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if key.strip() == "metadata.name" and op and not value.startswith("=") and \
                "/" not in value and "%" not in value and value not in (".", ".."):
            return value.strip()
    return ""


class Handler(BaseHTTPRequestHandler):
    """One connection; keep-alive HTTP/1.1."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 120
    server_version = "lab-apiserver"
    sys_version = ""

    @property
    def app(self) -> App:
        return self.server.app  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # --- plumbing ----------------------------------------------------------------------------
    def _handle(self) -> None:
        self._user = ""
        self._groups: tuple[str, ...] = ()
        self._warnings: list[str] = []
        body = self._read_body()
        path, query = split(self.path)
        try:
            code, payload, headers = self._dispatch(path, query, body)
        except _Answered:
            return
        except _Drop:
            self._log(0)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        except errors.ApiError as err:
            code, payload, headers = err.code, err.status(), err.headers
        except Exception as exc:  # noqa: BLE001 - answered as a 500 like a real server
            failure = errors.internal(f"{type(exc).__name__}: {exc}")
            code, payload, headers = failure.code, failure.status(), {}
        with contextlib.suppress(OSError):  # a client that gave up (a delayed write) is gone
            self._send(code, payload, headers)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code: int, payload: Any, headers: dict[str, str]) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for key, value in headers.items():
            self.send_header(key, value)
        for warning in self._warnings:
            self.send_header("Warning", f'299 - "{warning}"'.replace('\\', '\\\\'))
        self._log(code)  # before the answer: a client that saw it finds it in the log
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _log(self, code: int) -> None:
        ctype = self.headers.get("Content-Type", "") or ""
        self.app.requests.append(self.command, self.path, ctype, code, self._user)

    def _authenticate(self) -> tuple[str, tuple[str, ...]]:
        """A verified client certificate (CN user, O groups) first, as the x509 authenticator
        precedes the token authenticators in kube-apiserver's union; then a bearer token."""
        cert = self._peer_cert()
        if cert is not None:
            return cert
        auth = self.headers.get("Authorization", "")
        scheme, _, credential = auth.partition(" ")
        if scheme.lower() == "bearer":  # the scheme is case-insensitive, as in a real server
            user = self.app.authorizer.user_for(credential.strip())
            if user:
                groups = self.app.authorizer.groups_for(credential.strip())
                return user, (*groups, AUTHENTICATED)
        raise errors.unauthorized()

    def _peer_cert(self) -> tuple[str, tuple[str, ...]] | None:
        getpeercert = getattr(self.connection, "getpeercert", None)
        cert = getpeercert() if getpeercert is not None else None
        if not cert:
            return None
        names = [pair for rdn in cert.get("subject", ()) for pair in rdn]
        user = next((v for k, v in names if k == "commonName"), "")
        if not user:
            return None
        return user, (*(v for k, v in names if k == "organizationName"), AUTHENTICATED)

    def _parse(self, body: bytes, target: Target | None = None) -> Any:
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if "protobuf" in ctype and not body.startswith(protobuf.MAGIC):
            raise errors.unsupported_media_type(ctype, ["application/json", "application/yaml"])
        try:
            if ctype in (APPLY, "application/yaml"):
                return yaml.safe_load(body or b"{}")
            return json.loads(body or b"{}")
        except (ValueError, yaml.YAMLError) as exc:
            kind = target.rt.kind if target else "object"
            raise errors.bad_request(f"{kind} in version \"{target.version if target else ''}\" "
                                     f"cannot be handled as a {kind}: {exc}") from exc

    # --- dispatch ----------------------------------------------------------------------------
    def _dispatch(self, path: str, query: dict[str, str],
                  body: bytes) -> tuple[int, Any, dict[str, str]]:
        if path.startswith("/lab/"):
            return self._admin(path, body)
        if path in ("/healthz", "/readyz", "/livez"):
            return 200, "ok", {}
        if path == "/version":
            return 200, resources.VERSION_INFO, {}
        self._user, self._groups = self._authenticate()
        if path.startswith("/openapi/"):
            return self._openapi(path)
        discovery = self._discovery(path)
        if discovery is not None:
            return 200, discovery, {}
        target = resource_target(self.command, path, query)
        if target is None:
            raise errors.ApiError(404, "the server could not find the requested resource",
                                  details={})
        self._authorize(target, query)  # self reviews: system:basic-user (rbac.BASIC_USER)
        decision = self._faults(target)
        if target.rt.plural == "selfsubjectreviews":  # kubectl auth whoami
            return 201, {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                         "metadata": {"creationTimestamp": objects.now_rfc3339()},
                         "status": {"userInfo": {"username": self._user,
                                                 "groups": list(self._groups)}}}, {}
        if target.rt.plural == "selfsubjectaccessreviews":
            review = protobuf.access_review(body) if body.startswith(protobuf.MAGIC) \
                else self._parse(body, target)
            return 201, self.app.access_review(self._user, review, self._groups), {}
        answer = self._verb(target, query, body)
        if decision.lost_answer:  # the write is applied; now its answer is lost
            self._lose_answer(decision.lost_answer, decision.lost_after)
        return answer

    def _lose_answer(self, how: str, after: float) -> None:
        if how == "504":
            raise faults.timeout_error()
        if how == "timeout":
            time.sleep(after)
        raise _Drop()

    def _openapi(self, path: str) -> tuple[int, Any, dict[str, str]]:
        if path == "/openapi/v3":
            return 200, openapi.root(), {}
        if path.startswith("/openapi/v3/"):
            doc = openapi.group_version(path[len("/openapi/v3/"):])
            if doc is not None:
                return 200, doc, {}
        raise errors.ApiError(404, "the server could not find the requested resource",
                              details={})

    def _discovery(self, path: str) -> Any:
        if path == "/api":
            return resources.api_versions()
        if path == "/apis":
            return resources.api_group_list()
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            found = resources.resource_list("", parts[1])
        elif parts[0] == "apis" and len(parts) == 2:
            found = resources.api_group(parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            found = resources.resource_list(parts[1], parts[2])
        else:
            return None
        if found is None:
            raise errors.ApiError(404, "the server could not find the requested resource",
                                  details={})
        return found

    def _authorize(self, t: Target, query: dict[str, str]) -> None:
        res = f"{t.rt.plural}/{t.subresource}" if t.subresource else t.rt.plural
        name = t.name or _selected_name(t.verb, query)
        if not self.app.authorizer.allowed(self._user, t.verb, t.rt.group, res, name,
                                           self._groups, namespace=t.namespace or ""):
            raise errors.forbidden(self._user, t.verb, t.rt.plural, t.rt.group, name,
                                   t.namespace, t.subresource)

    def _faults(self, t: Target) -> faults.Decision:
        decision = self.app.faults.decide(t.verb, t.rt.plural, t.namespace, t.name)
        if decision.latency:
            time.sleep(decision.latency)
        if decision.drop:
            raise _Drop()
        if decision.error is not None:
            raise decision.error
        if decision.conflict:
            raise errors.conflict(t.rt.plural, t.rt.group, t.name)
        return decision

    def _verb(self, t: Target, query: dict[str, str],
              body: bytes) -> tuple[int, Any, dict[str, str]]:
        store = self.app.store
        if len(body) > MAX_BODY and t.verb in OPTIONS:  # handlers/rest.go limitedReadBody
            raise errors.ApiError(413, f"Request entity too large: limit is {MAX_BODY}",
                                  reason="RequestEntityTooLarge")
        dry_run = query.get("dryRun", "")
        if dry_run not in ("", "All") and t.verb in OPTIONS:
            raise errors.invalid_kind(OPTIONS[t.verb], "meta.k8s.io", "", [{
                "reason": "FieldValueNotSupported", "field": "dryRun",
                "message": f'Unsupported value: []string{{"{dry_run}"}}: supported values: '
                           '"All"'}])
        opts: dict[str, Any] = {"dry_run": dry_run == "All",
                                "field_validation": self._field_validation(t, query)}
        if t.verb == "get":
            return 200, store.get_obj(t.rt, t.version, t.namespace, t.name), {}
        if t.verb == "list":
            return 200, self._list(t, query), {}
        if t.verb == "watch":
            self._watch(t, query)
            raise _Answered()
        if t.verb == "create":
            parsed = self._parse(body, t)
            updates.check_create(parsed)
            obj, self._warnings = store.create_obj(t.rt, t.version, t.namespace, parsed, **opts)
            return 201, obj, {}
        if t.verb == "update":
            existed = not updates.create_on_update(t.rt) or self._exists(t)
            obj, self._warnings = store.update_obj(t.rt, t.version, t.namespace, t.name,
                                                   self._parse(body, t),
                                                   subresource=t.subresource, **opts)
            return (200 if existed else 201), obj, {}
        if t.verb == "patch":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if not body.strip() and ctype in EMPTY_PATCH:  # patch.go: the patch libraries' errors
                raise errors.bad_request(EMPTY_PATCH[ctype])
            if ctype == APPLY and not query.get("fieldManager"):  # ValidatePatchOptions
                raise errors.invalid_kind("PatchOptions", "meta.k8s.io", "", [{
                    "reason": "FieldValueRequired", "field": "fieldManager",
                    "message": "Required value: is required for apply patch"}])
            existed = ctype != APPLY or self._exists(t)
            obj, self._warnings = store.patch_obj(t.rt, t.version, t.namespace, t.name, ctype,
                                                  self._parse(body, t), raw=body,
                                                  subresource=t.subresource, **opts)
            created = not existed
            return (201 if created else 200), obj, {}
        if t.verb == "delete":
            options = self._parse(body, t) if body.strip() else {}
            dry = opts["dry_run"] or "All" in ((options or {}).get("dryRun") or [])
            gone = store.delete_obj(t.rt, t.namespace, t.name, dry_run=dry,
                                    preconditions=(options or {}).get("preconditions"))
            if not t.rt.builtin or t.rt.return_deleted:
                return 200, objects.view(gone, t.rt.api_version(t.version), t.rt.kind), {}
            details: dict[str, Any] = {"name": t.name, "kind": t.rt.plural,
                                       "uid": gone["metadata"].get("uid", "")}
            if t.rt.group:
                details["group"] = t.rt.group
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Success", "details": details}, {}
        raise errors.method_not_allowed()

    def _exists(self, t: Target) -> bool:
        try:
            self.app.store.get_obj(t.rt, t.version, t.namespace, t.name)
        except errors.ApiError:
            return False
        return True

    def _field_validation(self, t: Target, query: dict[str, str]) -> str:
        """ValidateFieldValidation of the write options (422 on `CreateOptions` etc.)."""
        value = query.get("fieldValidation") or ("Strict" if self.app.strict_fields else "Warn")
        if value not in ("Strict", "Warn", "Ignore") and t.verb in OPTIONS:
            raise errors.invalid_kind(OPTIONS[t.verb], "meta.k8s.io", "", [{
                "reason": "FieldValueNotSupported", "field": "fieldValidation",
                "message": f'Unsupported value: "{value}": supported values: "Ignore", '
                           '"Strict", "Warn"'}])
        return value

    def _matcher(self, t: Target, query: dict[str, str]) -> Any:
        label_sel = query.get("labelSelector", "")
        field_sel = query.get("fieldSelector", "")
        labels = selectors.label_matcher(label_sel) if label_sel else None
        fields = selectors.field_matcher(field_sel, t.rt.kind) if field_sel else None

        def match(obj: dict[str, Any]) -> bool:
            if labels and not labels(obj.get("metadata", {}).get("labels") or {}):
                return False
            return not fields or fields(obj)

        return match

    def _watch(self, t: Target, query: dict[str, str]) -> None:
        """A chunked stream of watch events (see `watch`)."""
        store, match = self.app.store, self._matcher(t, query)
        watch.check_query(query)

        def initial() -> tuple[list[dict[str, Any]], int]:
            items, rv = store.list_objs(t.rt, t.version, t.namespace, match)
            return items, int(rv)

        def write(data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def stopped() -> bool:
            if self.app.stopping:
                return True
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable)  # nothing is sent on a watch: the client closed it

        self._log(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.close_connection = True
        with contextlib.suppress(OSError):
            watch.stream(write, store.changes, t.rt, t.version, t.namespace, match, initial,
                         query, stopped)
            self.wfile.write(b"0\r\n\r\n")

    def _list(self, t: Target, query: dict[str, str]) -> dict[str, Any]:
        match = self._matcher(t, query)
        items, rv = self.app.store.list_objs(t.rt, t.version, t.namespace, match)
        return {"kind": f"{t.rt.kind}List", "apiVersion": t.rt.api_version(t.version),
                "metadata": {"resourceVersion": rv}, "items": items}

    # --- /lab admin endpoints ----------------------------------------------------------------
    def _admin(self, path: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        auth = self.headers.get("Authorization", "")
        if auth != f"Bearer {self.app.admin_token}":
            raise errors.unauthorized()
        self._user = "admin"
        if path != "/lab/faults":
            raise errors.ApiError(404, "the server could not find the requested resource")
        faults = self.app.faults
        if self.command == "PUT":
            spec = json.loads(body or b"{}")
            try:
                for rule in spec if isinstance(spec, list) else [spec]:
                    faults.set_from_dict(rule)
            except (TypeError, ValueError) as exc:
                raise errors.bad_request(str(exc)) from exc
        elif self.command == "DELETE":
            faults.clear()
        elif self.command != "GET":
            raise errors.method_not_allowed()
        return 200, {"rules": faults.rules()}, {}
