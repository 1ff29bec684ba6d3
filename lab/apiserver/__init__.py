"""Kubernetes API emulator of the lab.

Serves, over HTTPS (a `trustme` CA) or HTTP on 127.0.0.1, the objects shifter touches:
core/v1 Namespace, Service, ConfigMap, Event; apps/v1 Deployment (with a `/status`
subresource and a simulated controller that makes it ready); networking.k8s.io/v1 Ingress;
coordination.k8s.io/v1 Lease; events.k8s.io/v1 Event; rbac Role/RoleBinding;
gateway.networking.k8s.io v1/v1beta1 HTTPRoute; networking.istio.io v1/v1beta1/v1alpha3
VirtualService (one storage per group+resource; versions are views); legacy discovery
(`/api`, `/apis`, `/apis/<g>/<v>`, `/version`; no aggregated discovery and no OpenAPI, so
clients fall back as with an old server); SelfSubjectAccessReview and SelfSubjectReview.

Semantics: get, list (label and field selectors), watch (see `watch`), create, update,
patch (merge, JSON,
strategic for built-in types; 415 for strategic on custom resources; apply-patch is a
simplified apply: strategic merge for built-in types, merge patch for custom resources,
creating when absent), delete, `dryRun=All`; uid, creationTimestamp, a cluster-wide
resourceVersion, generation on spec changes, 409 on stale resourceVersion; Status errors with
the real reasons; validation of every write (kubernetes-validate schemas, CRD schemas with
defaults; unknown fields: 400 with `fieldValidation=Strict` as kubectl sends, otherwise
pruned with a `Warning` header as a real server does); the checks of a real server before
and beyond the schemas (`updates`, `meta`, `semantic`: decoding of times, update
preconditions, ObjectMeta, Lease, Events; JSON-patch `test` on Go-serialized JSON in
`gojson`); bearer tokens and client certificates (`certs`, CN user, O groups); fault
injection and optional RBAC. docs/lab.md lists what still differs from a real server.
"""

from .faults import Faults
from .server import APIServer, Request, RequestLog
from .store import Store

__all__ = ["APIServer", "Faults", "Request", "RequestLog", "Store"]
