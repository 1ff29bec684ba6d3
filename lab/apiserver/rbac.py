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


class Authorizer:
    """Tokens to users, and per-user Role-like rules. Users without rules are allowed
    everything unless `enabled` (global RBAC) is set."""

    def __init__(self, enabled: bool = False) -> None:
        self._lock = threading.Lock()
        self.enabled = enabled
        self._tokens: dict[str, str] = {}
        self._rules: dict[str, list[dict[str, Any]]] = {}

    def add_token(self, token: str, user: str) -> None:
        with self._lock:
            self._tokens[token] = user

    def user_for(self, token: str) -> str | None:
        with self._lock:
            return self._tokens.get(token)

    def set_rules(self, user: str, rules: list[dict[str, Any]]) -> None:
        for i, rule in enumerate(rules):
            for key in ("apiGroups", "resources", "verbs"):
                if not isinstance(rule.get(key), list):
                    raise ValueError(f"rules[{i}].{key}: expected a list of strings")
        with self._lock:
            self._rules[user] = [dict(r) for r in rules]

    def load_role(self, user: str, role: dict[str, Any]) -> None:
        if role.get("kind") not in ("Role", "ClusterRole"):
            raise ValueError(f"kind: expected Role or ClusterRole, got {role.get('kind')!r}")
        self.set_rules(user, list(role.get("rules") or []))

    def reset(self, enabled: bool = False) -> None:
        with self._lock:
            self.enabled = enabled
            self._rules.clear()
            admin = {t: u for t, u in self._tokens.items() if u == "admin"}
            self._tokens = admin

    def allowed(self, user: str, verb: str, group: str, resource: str, name: str) -> bool:
        """`resource` may carry a subresource: `deployments/status`."""
        if user == "admin":
            return True
        with self._lock:
            rules = self._rules.get(user)
            if rules is None:
                return not self.enabled
            return any(_rule_allows(r, verb, group, resource, name) for r in rules)
