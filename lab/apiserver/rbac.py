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


class Authorizer:
    """Tokens to users, and Role-like rules per user and per group. A user in the group
    `system:masters` (or the lab's `admin`) may do everything, as with a real server's
    bootstrap binding; users without rules (their own or a group's) are allowed everything
    unless `enabled` (global RBAC) is set."""

    def __init__(self, enabled: bool = False) -> None:
        self._lock = threading.Lock()
        self.enabled = enabled
        self._tokens: dict[str, str] = {}
        self._rules: dict[str, list[dict[str, Any]]] = {}
        self._group_rules: dict[str, list[dict[str, Any]]] = {}
        self._token_groups: dict[str, tuple[str, ...]] = {}

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

    def set_rules(self, user: str, rules: list[dict[str, Any]]) -> None:
        for i, rule in enumerate(rules):
            for key in ("apiGroups", "resources", "verbs"):
                if not isinstance(rule.get(key), list):
                    raise ValueError(f"rules[{i}].{key}: expected a list of strings")
        with self._lock:
            self._rules[user] = [dict(r) for r in rules]

    def set_group_rules(self, group: str, rules: list[dict[str, Any]]) -> None:
        """Rules for every user in `group` (a client certificate's O, a token's groups)."""
        self.set_rules(f"group:{group}", rules)
        with self._lock:
            self._group_rules[group] = self._rules.pop(f"group:{group}")

    def load_role(self, user: str, role: dict[str, Any]) -> None:
        if role.get("kind") not in ("Role", "ClusterRole"):
            raise ValueError(f"kind: expected Role or ClusterRole, got {role.get('kind')!r}")
        self.set_rules(user, list(role.get("rules") or []))

    def reset(self, enabled: bool = False) -> None:
        with self._lock:
            self.enabled = enabled
            self._rules.clear()
            self._group_rules.clear()
            admin = {t: u for t, u in self._tokens.items()
                     if u == "admin" or MASTERS in self._token_groups.get(t, ())}
            self._tokens = admin
            self._token_groups = {t: g for t, g in self._token_groups.items() if t in admin}

    def allowed(self, user: str, verb: str, group: str, resource: str, name: str,
                groups: tuple[str, ...] = ()) -> bool:
        """`resource` may carry a subresource: `deployments/status`."""
        if user == "admin" or MASTERS in groups:
            return True
        with self._lock:
            sets = [self._rules[user]] if user in self._rules else []
            sets += [self._group_rules[g] for g in groups if g in self._group_rules]
            if not sets:
                return not self.enabled
            return any(_rule_allows(r, verb, group, resource, name)
                       for rules in sets for r in rules)
