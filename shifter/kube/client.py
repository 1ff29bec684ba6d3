"""One seam between shifter and the Kubernetes API.

Everything goes through the official ``kubernetes`` client (its kubeconfig and in-cluster
loading, TLS, bearer tokens and REST layer), but objects are plain dicts addressed by
``ObjectRef``, so the routers and the lease code do not care whether a kind is built-in or
custom. ``ApiException`` and connection errors are translated here into ``shifter.errors``.
Retries are not done here: ``shifter.retry`` wraps calls with the project's policies.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from shifter.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    KubeError,
    KubeUnavailable,
    NotFound,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Seconds one request may take (connect and read), as kubectl's --request-timeout. The
# deadlines of the router writes are built on it (shifter.writes.WriteTimeouts).
REQUEST_TIMEOUT = 10.0


class PatchType(StrEnum):
    """The patch content types the API server accepts."""

    MERGE = "application/merge-patch+json"  # RFC 7386; lists replaced whole, null deletes
    JSON = "application/json-patch+json"  # RFC 6902 operations, with ``test``
    STRATEGIC = "application/strategic-merge-patch+json"  # built-in types only


@dataclass(frozen=True)
class ObjectRef:
    """Where an object lives: ``api_version`` like ``v1`` or ``networking.k8s.io/v1``."""

    api_version: str
    plural: str
    kind: str
    name: str
    namespace: str | None = None

    @property
    def collection_path(self) -> str:
        base = f"/api/{self.api_version}" if "/" not in self.api_version else (
            f"/apis/{self.api_version}"
        )
        if self.namespace:
            base += f"/namespaces/{self.namespace}"
        return f"{base}/{self.plural}"

    @property
    def path(self) -> str:
        return f"{self.collection_path}/{self.name}"

    def named(self, name: str) -> ObjectRef:
        return ObjectRef(self.api_version, self.plural, self.kind, name, self.namespace)

    def __str__(self) -> str:
        group = self.api_version.split("/")[0] if "/" in self.api_version else ""
        res = f"{self.plural}.{group}" if group else self.plural
        return f"{res}/{self.name}" + (f" in {self.namespace}" if self.namespace else "")


def _status_message(body: str | None) -> tuple[str, str]:
    try:
        data = json.loads(body or "")
    except ValueError:
        return (body or "").strip()[:300], ""
    if not isinstance(data, dict):
        return str(data)[:300], ""
    return str(data.get("message", "")), str(data.get("reason", ""))


def _is_record(path: str) -> bool:
    """Leases and Events: what shifter writes for people to read later."""
    parts = path.split("?")[0].strip("/").split("/")
    if "namespaces" not in parts:
        return False
    at = parts.index("namespaces") + 2  # .../namespaces/NS/PLURAL[/NAME]
    return at < len(parts) and parts[at] in ("leases", "events")


_VERB_OF = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class KubeClient:
    """Get, list, create, replace, patch and delete any object as a dict."""

    def __init__(self, api_client: ApiClient, *, default_namespace: str = "default",
                 request_timeout: float = REQUEST_TIMEOUT) -> None:
        self.api = api_client
        self.default_namespace = default_namespace
        self.request_timeout = request_timeout

    @property
    def host(self) -> str:
        return str(self.api.configuration.host)

    def request(self, method: str, path: str, *, body: Any = None,
                content_type: str | None = None, query: dict[str, str] | None = None,
                what: str = "") -> dict[str, Any]:
        """Send one request; return the decoded JSON body; raise ``shifter.errors`` on failure."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        headers = {"Accept": "application/json"}
        if body is not None and method != "GET" and _is_record(path):
            from shifter.redact import scrub

            body = scrub(body)  # the Lease record and Events: never a secret
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        params = self.api.param_serialize(
            method=method, resource_path=path,
            query_params=list((query or {}).items()) or None,
            header_params=headers, body=body, auth_settings=["BearerToken"],
        )
        try:
            resp = self.api.call_api(*params, _request_timeout=self.request_timeout)
            resp.read()
        except ApiException as exc:  # raised by the REST layer for some transport errors
            raise self._translate(method, path, exc.status or 0, exc.body, what) from exc
        except (Urllib3Error, OSError) as exc:
            raise KubeUnavailable(
                f"cannot reach the Kubernetes API at {self.host}: {type(exc).__name__}"
            ) from exc
        data = resp.data or b""
        if not 200 <= resp.status <= 299:
            text = data.decode("utf-8", "replace")
            err = self._translate(method, path, resp.status, text, what)
            retry_after = resp.getheader("Retry-After")
            if retry_after is not None:
                err.retry_after = retry_after  # type: ignore[attr-defined]
            raise err
        return cast(dict[str, Any], json.loads(data)) if data else {}

    def _translate(self, method: str, path: str, status: int, body: str | None,
                   what: str) -> KubeError:
        message, reason = _status_message(body)
        target = what or path
        verb = _VERB_OF.get(method, method.lower())
        text = f"{verb} {target}: {message or reason or f'HTTP {status}'}"
        if status == 404:
            return NotFound(f"{target} not found", status=status, reason=reason)
        if status == 403:
            return Forbidden(f"forbidden: cannot {verb} {target}: {message}", status=status,
                             reason=reason)
        if status == 401:
            return Forbidden(f"unauthorized: the API server rejected the credentials ({target})",
                             status=status, reason=reason)
        if status == 409:
            return Conflict(text, status=status, reason=reason)
        if status in (429, 500, 502, 503, 504) or status == 0:
            err: KubeError = KubeError(text, status=status, reason=reason)
            return err
        return KubeError(text, status=status, reason=reason)

    # -- verbs -------------------------------------------------------------------------------

    def get(self, ref: ObjectRef) -> dict[str, Any]:
        return self.request("GET", ref.path, what=str(ref))

    def list(self, ref: ObjectRef, *, label_selector: str | None = None) -> list[dict[str, Any]]:
        query = {"labelSelector": label_selector} if label_selector else None
        data = self.request("GET", ref.collection_path, query=query, what=str(ref))
        return cast(list[dict[str, Any]], data.get("items") or [])

    def create(self, ref: ObjectRef, body: dict[str, Any], *, dry_run: bool = False
               ) -> dict[str, Any]:
        return self.request("POST", ref.collection_path, body=body, what=str(ref),
                            query={"dryRun": "All"} if dry_run else None)

    def replace(self, ref: ObjectRef, body: dict[str, Any], *, dry_run: bool = False
                ) -> dict[str, Any]:
        return self.request("PUT", ref.path, body=body, what=str(ref),
                            query={"dryRun": "All"} if dry_run else None)

    def patch(self, ref: ObjectRef, body: Any, patch_type: PatchType, *,
              dry_run: bool = False) -> dict[str, Any]:
        return self.request("PATCH", ref.path, body=body, content_type=patch_type.value,
                            what=str(ref), query={"dryRun": "All"} if dry_run else None)

    def delete(self, ref: ObjectRef) -> dict[str, Any]:
        return self.request("DELETE", ref.path, what=str(ref))


def load_client(*, kubeconfig: str | None = None, context: str | None = None,
                request_timeout: float = REQUEST_TIMEOUT,
                service_account_dir: str = SERVICE_ACCOUNT_DIR) -> KubeClient:
    """Credentials as kubectl finds them (``shifter.kube.kubeconfig``): ``--kubeconfig``,
    the merged ``KUBECONFIG`` list, ``~/.kube/config``, then the pod's service account.
    The default namespace is the context's, or the pod's. ``request_timeout``: seconds
    each request may take (``--request-timeout``)."""
    from kubernetes import client

    from shifter.kube import kubeconfig as kc

    configuration = client.Configuration()
    sources = kc.kubeconfig_sources(kubeconfig, os.environ, os.path.expanduser("~"))
    docs = kc.read(sources)
    if docs:
        namespace = _load_kubeconfig(docs, context, sources, configuration)
    elif context:
        raise InvalidInput(f"kubeconfig: --context {context} given but no kubeconfig found "
                           f"({sources.described}: {', '.join(sources.files)})")
    else:
        namespace = _load_in_cluster(sources, service_account_dir, configuration)
    configuration.retries = 0
    from shifter import redact

    redact.register(*(str(v) for v in configuration.api_key.values()),
                    str(configuration.password or ""))
    return KubeClient(client.ApiClient(configuration), default_namespace=namespace,
                      request_timeout=request_timeout)


def _load_kubeconfig(docs: list[tuple[str, dict[str, Any]]], context: str | None,
                     sources: Any, configuration: Any) -> str:
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import ConfigNode, KubeConfigLoader

    from shifter.kube import kubeconfig as kc

    merged = kc.merge(docs)
    where = (f"{sources.described} ({', '.join(p for p, _ in docs)})"
             if sources.described == "KUBECONFIG" else sources.described)
    active = kc.pick_context(merged, context, where)
    first = docs[0][0]
    tree = {k: v for k, v in merged.items() if k not in kc.SECTIONS}
    for section in kc.SECTIONS:
        tree[section] = [ConfigNode(f"{e['_path']}/{section}[{e['name']}]",
                                    {k: v for k, v in e.items() if k != "_path"}, e["_path"])
                         for e in merged[section]]
    try:
        KubeConfigLoader(config_dict=ConfigNode(first, tree, first),
                         active_context=active["name"]).load_and_set(configuration)
    except (ConfigException, OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
        # The message may quote the file; never its contents.
        raise InvalidInput(f"kubeconfig: context {active['name']!r} cannot be used: "
                           f"{str(exc).splitlines()[0][:200]}") from exc
    ns = (active.get("context") or {}).get("namespace")
    return str(ns) if ns else "default"


def _load_in_cluster(sources: Any, service_account_dir: str, configuration: Any) -> str:
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.incluster_config import InClusterConfigLoader

    if not os.environ.get("KUBERNETES_SERVICE_HOST"):
        raise InvalidInput(f"kubeconfig: no Kubernetes credentials: no kubeconfig "
                           f"({sources.described}: {', '.join(sources.files) or 'empty'}) "
                           f"and not in a pod (KUBERNETES_SERVICE_HOST is not set); pass "
                           f"--kubeconfig or set KUBECONFIG")
    try:
        InClusterConfigLoader(
            token_filename=os.path.join(service_account_dir, "token"),
            cert_filename=os.path.join(service_account_dir, "ca.crt"),
        ).load_and_set(configuration)
    except (ConfigException, OSError, ValueError) as exc:
        raise InvalidInput(f"kubeconfig: cannot load the pod's service account credentials "
                           f"from {service_account_dir}: "
                           f"{str(exc).splitlines()[0][:200]}") from exc
    namespace = "default"
    ns_file = os.path.join(service_account_dir, "namespace")
    if os.path.exists(ns_file):
        with open(ns_file) as fh:
            namespace = fh.read().strip() or "default"
    return namespace


def bounded(client: KubeClient, seconds: float) -> KubeClient:
    """``client`` with its per-request timeout cut to ``seconds`` (itself when already at
    or below it): for best-effort calls (Events, access reviews) that must not hold up
    the rollout for a whole request timeout."""
    timeout = getattr(client, "request_timeout", None)
    if not isinstance(timeout, int | float) or timeout <= seconds:
        return client
    out = copy.copy(client)
    out.request_timeout = seconds
    return out

