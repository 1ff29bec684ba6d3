"""Role-like authorization rules per user, as the RBAC authorizer evaluates them."""

from __future__ import annotations

import threading
from typing import Any


def _rule_allows(rule: dict[str, Any], verb: str, group: str, resource: str, name: str) -> bool:
    groups = rule.get("apiGroups") or []
    resources = rule.get("resources") or []
    verbs = rule.get("verbs") or []
    names = rule.get("resourceNames") or []
    if "*" not in groups and group not in groups:
        return False
    if "*" not in resources and resource not in resources:
        _, _, sub = resource.partition("/")
        if not (sub and f"*/{sub}" in resources):
            return False
    if "*" not in verbs and verb not in verbs:
        return False
    return not names or name in names


MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
# The bootstrap ClusterRole system:basic-user, bound to system:authenticated: every
# authenticated user may ask about itself (kubernetes plugin/pkg/auth/authorizer/rbac/
# bootstrappolicy/policy.go, ClusterRoles and ClusterRoleBindings; selfsubjectreviews since
# kubernetes PR 116274). No Role needs a rule for these.
BASIC_USER = (
    {"apiGroups": ["authorization.k8s.io"],
     "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
    {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"],
     "verbs": ["create"]},
)
# system:discovery and system:public-info-viewer (same file): non-resource paths every
# authenticated user may GET.
DISCOVERY = ("/api", "/api/*", "/apis", "/apis/*", "/version", "/version/", "/healthz",
             "/livez", "/readyz", "/openapi", "/openapi/*")


def path_matches(pattern: str, path: str) -> bool:
    """A nonResourceURLs entry: exact, or a prefix ending in ``*`` (rbac/v1
    evaluation_helpers.go, NonResourceURLMatches)."""
    return path == pattern or (pattern.endswith("*") and path.startswith(pattern[:-1]))


class Authorizer:
    """Tokens to users, and Role-like rules per user and per group. A user in the group
    `system:masters` (or the lab's `admin`) may do everything, as with a real server's
    bootstrap binding; users without rules (their own or a group's) are allowed everything
    unless `enabled` (global RBAC) is set.

    A user's own rules may be bound in one namespace (``namespace``: a Role and its
    RoleBinding, which allow nothing elsewhere, nor cluster-wide) or everywhere (None: a
    ClusterRole bound by a ClusterRoleBinding). Every authenticated user (group
    ``system:authenticated``) holds system:basic-user unless ``basic_user`` is False (a
    cluster whose binding was removed)."""

    def __init__(self, enabled: bool = False) -> None:
        self._lock = threading.Lock()
        self.enabled = enabled
        self._tokens: dict[str, str] = {}
        self._rules: dict[str, list[dict[str, Any]]] = {}
        self._group_rules: dict[str, list[dict[str, Any]]] = {}
        self._token_groups: dict[str, tuple[str, ...]] = {}
        self._scope: dict[str, str | None] = {}  # user -> the namespace its rules hold in
        self.basic_user = True

    def add_token(self, token: str, user: str, groups: tuple[str, ...] = ()) -> None:
        with self._lock:
            self._tokens[token] = user
            self._token_groups[token] = tuple(groups)

    def user_for(self, token: str) -> str | None:
        with self._lock:
            return self._tokens.get(token)

    def groups_for(self, token: str) -> tuple[str, ...]:
        with self._lock:
            return self._token_groups.get(token, ())

    def set_rules(self, user: str, rules: list[dict[str, Any]],
                  namespace: str | None = None) -> None:
        """`user`'s rules, held in `namespace` only (a RoleBinding) or everywhere (None)."""
        for i, rule in enumerate(rules):
            for key in ("apiGroups", "resources", "verbs"):
                if not isinstance(rule.get(key), list):
                    raise ValueError(f"rules[{i}].{key}: expected a list of strings")
        with self._lock:
            self._rules[user] = [dict(r) for r in rules]
            self._scope[user] = namespace

    def set_group_rules(self, group: str, rules: list[dict[str, Any]]) -> None:
        """Rules for every user in `group` (a client certificate's O, a token's groups)."""
        self.set_rules(f"group:{group}", rules)
        with self._lock:
            self._group_rules[group] = self._rules.pop(f"group:{group}")

    def load_role(self, user: str, role: dict[str, Any]) -> None:
        if role.get("kind") not in ("Role", "ClusterRole"):
            raise ValueError(f"kind: expected Role or ClusterRole, got {role.get('kind')!r}")
        namespace = (role.get("metadata") or {}).get("namespace") \
            if role.get("kind") == "Role" else None
        self.set_rules(user, list(role.get("rules") or []), namespace)

    def reset(self, enabled: bool = False) -> None:
        with self._lock:
            self.enabled = enabled
            self._rules.clear()
            self._scope.clear()
            self._group_rules.clear()
            self.basic_user = True
            admin = {t: u for t, u in self._tokens.items()
                     if u == "admin" or MASTERS in self._token_groups.get(t, ())}
            self._tokens = admin
            self._token_groups = {t: g for t, g in self._token_groups.items() if t in admin}

    def allowed(self, user: str, verb: str, group: str, resource: str, name: str,
                groups: tuple[str, ...] = (), namespace: str | None = None) -> bool:
        """`resource` may carry a subresource: `deployments/status`; `namespace` is the
        request's ("" for a cluster-scoped or all-namespaces request; None: not checked)."""
        if user == "admin" or MASTERS in groups:
            return True
        if self.basic_user and AUTHENTICATED in groups and any(
                _rule_allows(r, verb, group, resource, name) for r in BASIC_USER):
            return True
        with self._lock:
            scope = self._scope.get(user)
            held = scope is None or namespace is None or namespace == scope
            sets = [self._rules[user]] if user in self._rules and held else []
            sets += [self._group_rules[g] for g in groups if g in self._group_rules]
            if not sets:
                return not self.enabled and user not in self._rules
            return any(_rule_allows(r, verb, group, resource, name)
                       for rules in sets for r in rules)

    def allowed_path(self, user: str, verb: str, path: str,
                     groups: tuple[str, ...] = ()) -> bool:
        """A non-resource request (``/healthz``, ``/api``): system:discovery's paths for
        every authenticated user; the lab's rules name no other paths."""
        if user == "admin" or MASTERS in groups:
            return True
        if AUTHENTICATED in groups and verb == "get" and any(
                path_matches(p, path) for p in DISCOVERY):
            return True
        with self._lock:
            has_rules = user in self._rules or any(g in self._group_rules for g in groups)
        return not self.enabled and not has_rules
