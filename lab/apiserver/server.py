"""`APIServer`: the emulator served over HTTPS (trustme CA) or HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import socket
import ssl
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from . import certs, errors
from .faults import Faults
from .handler import Handler
from .rbac import Authorizer
from .store import Store
from .validation import Validator


def default_crd_dir() -> Path:
    """`../shared/crds` relative to the repository root."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "crds"


class Request(NamedTuple):
    """One handled request, as logged for tests."""

    method: str
    path: str
    content_type: str
    status: int
    user: str


class RequestLog:
    """A thread-safe log of handled requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Request] = []

    def append(self, method: str, path: str, content_type: str, status: int, user: str) -> None:
        with self._lock:
            self._items.append(Request(method, path, content_type, status, user))

    def snapshot(self) -> list[Request]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __iter__(self) -> Any:
        return iter(self.snapshot())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __getitem__(self, index: int) -> Request:
        with self._lock:
            return self._items[index]


class App:
    """Server state shared by the handler threads."""

    def __init__(self, store: Store, faults: Faults, authorizer: Authorizer,
                 admin_token: str, strict_fields: bool) -> None:
        self.store = store
        self.faults = faults
        self.authorizer = authorizer
        self.admin_token = admin_token
        self.strict_fields = strict_fields
        self.requests = RequestLog()
        self.stopping = False  # ends watch streams

    def access_review(self, user: str, review: dict[str, Any],
                      groups: tuple[str, ...] = ()) -> dict[str, Any]:
        """Answer a SelfSubjectAccessReview from the same rules as requests, as
        pkg/registry/authorization/selfsubjectaccessreview/rest.go does: validated first
        (pkg/apis/authorization/validation: exactly one of resourceAttributes and
        nonResourceAttributes), then the caller's own attributes authorized: verb, group,
        resource/subresource, name and namespace (a Role bound in one namespace allows
        nothing in another, nor at the cluster scope). ``allowed`` only; never ``denied``
        (RBAC has no opinion where no rule matches) and no reason then."""
        spec = review.get("spec") or {}
        attrs = spec.get("resourceAttributes")
        paths = spec.get("nonResourceAttributes")
        if (attrs is None) == (paths is None):
            field, message = (("spec.nonResourceAttributes",
                               "cannot be specified in combination with resourceAttributes")
                              if attrs is not None else
                              ("spec.resourceAttributes", "exactly one of nonResourceAttributes"
                               " or resourceAttributes must be specified"))
            value = json.dumps(paths) if attrs is not None else '"null"'
            raise errors.invalid_kind("SelfSubjectAccessReview", "authorization.k8s.io", "", [
                {"reason": "FieldValueInvalid", "field": field,
                 "message": f"Invalid value: {value}: {message}"}])
        if attrs is not None:
            res = attrs.get("resource", "")
            if attrs.get("subresource"):
                res = f"{res}/{attrs['subresource']}"
            allowed = self.authorizer.allowed(user, attrs.get("verb", ""),
                                              attrs.get("group", ""), res, attrs.get("name", ""),
                                              groups, namespace=attrs.get("namespace", ""))
        else:
            allowed = self.authorizer.allowed_path(user, paths.get("verb", ""),
                                                   paths.get("path", ""), groups)
        status: dict[str, Any] = {"allowed": allowed}
        if allowed and user != "admin":
            status["reason"] = f'RBAC: allowed by lab rules of user "{user}"'
        return {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], app: App, ssl_ctx: ssl.SSLContext | None) -> None:
        super().__init__(addr, Handler)
        self.app = app
        self.ssl_ctx = ssl_ctx
        self.conn_lock = threading.Lock()
        self.conns: set[socket.socket] = set()
        self.workers: set[threading.Thread] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        t = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                             daemon=True, name="lab-apiserver-conn")
        with self.conn_lock:
            self.workers = {w for w in self.workers if w.is_alive()}
            self.workers.add(t)
        t.start()

    def finish_request(self, request: Any, client_address: Any) -> None:
        conn = request
        try:
            if self.ssl_ctx is not None:
                conn = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        with self.conn_lock:
            self.conns.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)  # type: ignore[arg-type]
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self.conn_lock:
                self.conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        return

    def close_connections(self) -> None:
        with self.conn_lock:
            conns = list(self.conns)
            workers = list(self.workers)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for worker in workers:
            worker.join(timeout=5)


class APIServer:
    """A Kubernetes API emulator. See the package docstring for what it serves."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: bool = True,
                 crd_dir: Path | str | None = None, rbac: bool = False,
                 deployment_ready_delay: float = 0.0, strict_fields: bool = False) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.crd_dir = Path(crd_dir) if crd_dir is not None else default_crd_dir()
        self.validator = Validator(self.crd_dir)
        self.store = Store(self.validator, deployment_ready_delay)
        self.faults = Faults()
        self.authorizer = Authorizer(enabled=rbac)
        self._rbac_default = rbac
        self.admin_token = secrets.token_urlsafe(24)
        self.authorizer.add_token(self.admin_token, "admin")
        self._app = App(self.store, self.faults, self.authorizer, self.admin_token,
                        strict_fields)
        self.requests = self._app.requests
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ca_pem = b""
        self._client_ca: Any = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> APIServer:
        ctx = None
        if self.tls:
            import trustme

            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(ctx)
            self._ca_pem = ca.cert_pem.bytes()
            # Client certificates signed by the lab's client CA authenticate (CN user,
            # O groups); a client without one still uses its token, as with --client-ca-file.
            self._client_ca = trustme.CA(organization_name="lab client CA")
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(cadata=self._client_ca.cert_pem.bytes().decode())
        self._app.stopping = False
        self._httpd = _HTTPServer((self.host, self.port), self._app, ctx)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="lab-apiserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._app.stopping = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> APIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to a fresh state (namespaces default, kube-system; no faults, rules, log)."""
        self.faults.clear()
        self.authorizer.reset(enabled=self._rbac_default)
        self.store.reset()
        self.requests.clear()

    # --- auth ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def ca_pem(self) -> bytes:
        return self._ca_pem

    def add_token(self, token: str, user: str, groups: tuple[str, ...] = ()) -> None:
        self.authorizer.add_token(token, user, groups)

    @property
    def client_ca_pem(self) -> bytes:
        """The CA that signs client certificates (empty without TLS)."""
        return self._client_ca.cert_pem.bytes() if self._client_ca is not None else b""

    def issue_client_cert(self, user: str, groups: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) for `user` (CN) in `groups` (one O each)."""
        if self._client_ca is None:
            raise RuntimeError("client certificates need the server started with TLS")
        return certs.issue(self._client_ca, user, groups)

    def set_group_rules(self, group: str, rules: list[dict[str, Any]]) -> None:
        self.authorizer.set_group_rules(group, rules)

    def write_kubeconfigs(self, directory: Path, *, namespace: str = "default",
                          context: str = "lab") -> dict[str, Path]:
        """The three kinds of credentials users have, all `system:masters`-equivalent:
        `token` (the admin token: DIR/kubeconfig), `client-certificate` (CN lab-admin,
        O system:masters: DIR/kubeconfig-cert) and `exec` (lab/exec_credential.py prints a
        token for user lab-exec read from DIR/exec-token: DIR/kubeconfig-exec)."""
        out = {"token": self.write_kubeconfig(directory / "kubeconfig", namespace=namespace,
                                              context=context)}
        if self.tls:
            cert = self.issue_client_cert("lab-admin", ("system:masters",))
            out["client-certificate"] = self.write_kubeconfig(
                directory / "kubeconfig-cert", namespace=namespace, context=context,
                client_cert=cert)
        token = secrets.token_urlsafe(24)
        self.add_token(token, "lab-exec", ("system:masters",))
        token_file = directory / "exec-token"
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        plugin = {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                  "args": [str(Path(__file__).resolve().parents[1] / "exec_credential.py")],
                  "env": [{"name": "LAB_TOKEN_FILE", "value": str(token_file)}],
                  "interactiveMode": "Never"}
        out["exec"] = self.write_kubeconfig(directory / "kubeconfig-exec", namespace=namespace,
                                            context=context, exec_plugin=plugin)
        return out

    def set_rules(self, user: str, rules: list[dict[str, Any]],
                  namespace: str | None = None) -> None:
        """`user`'s rules: a Role bound in `namespace`, or everywhere (None)."""
        self.authorizer.set_rules(user, rules, namespace)

    def load_role(self, user: str, role_manifest: dict[str, Any]) -> None:
        self.authorizer.load_role(user, role_manifest)

    def write_kubeconfig(self, path: Path | str, *, token: str | None = None,
                         namespace: str = "default", context: str = "lab",
                         client_cert: tuple[bytes, bytes] | None = None,
                         exec_plugin: dict[str, Any] | None = None) -> Path:
        """A kubeconfig with a bearer token (default: the admin's), a client certificate
        (`client_cert`: PEMs from `issue_client_cert`) or an exec plugin (`exec_plugin`:
        the kubeconfig's `exec` stanza)."""
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self._ca_pem).decode()
        user: dict[str, Any]
        if client_cert is not None:
            user = {"client-certificate-data": base64.b64encode(client_cert[0]).decode(),
                    "client-key-data": base64.b64encode(client_cert[1]).decode()}
        elif exec_plugin is not None:
            user = {"exec": exec_plugin}
        else:
            user = {"token": token or self.admin_token}
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": user}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context,
                                                       "namespace": namespace}}],
            "current-context": context,
        }
        out = Path(path)
        out.write_text(yaml.safe_dump(config, sort_keys=False))
        out.chmod(0o600)
        return out
