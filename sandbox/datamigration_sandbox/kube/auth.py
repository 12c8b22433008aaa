"""Bearer-token authentication and RBAC authorization, with the real authorizer's matching rules."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .selectors import label_selector_from_spec
from .status_errors import ApiError

MASTERS_GROUP = "system:masters"
AUTHENTICATED_GROUP = "system:authenticated"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequestAttributes:
    """What a request asks to do; resource == "" marks a non-resource request (path)."""

    verb: str
    api_group: str
    resource: str
    subresource: str = ""
    namespace: str | None = None
    name: str | None = None
    path: str = ""


@dataclass
class RbacObjects:
    """The RBAC objects of the cluster, as stored (plain dicts)."""

    roles: list[dict[str, Any]] = field(default_factory=list)
    cluster_roles: list[dict[str, Any]] = field(default_factory=list)
    role_bindings: list[dict[str, Any]] = field(default_factory=list)
    cluster_role_bindings: list[dict[str, Any]] = field(default_factory=list)


def service_account_user(namespace: str, name: str) -> UserInfo:
    return UserInfo(
        name=f"system:serviceaccount:{namespace}:{name}",
        groups=(
            SERVICE_ACCOUNTS_GROUP,
            f"{SERVICE_ACCOUNTS_GROUP}:{namespace}",
            AUTHENTICATED_GROUP,
        ),
    )


class Authenticator:
    """Maps opaque bearer tokens to users: static ones, plus minted service-account tokens."""

    def __init__(self, static_tokens: Mapping[str, UserInfo] | None = None) -> None:
        self._tokens: dict[str, UserInfo] = dict(static_tokens or {})

    def authenticate(self, token: str) -> UserInfo | None:
        """The user a token belongs to; None for an unknown or empty token (a 401)."""
        if not token:
            return None
        return self._tokens.get(token)

    def mint_service_account_token(self, namespace: str, name: str) -> str:
        if not namespace or not name:
            raise ValueError("a service account token needs a namespace and a name")
        token = secrets.token_urlsafe(32)
        self._tokens[token] = service_account_user(namespace, name)
        return token

    def revoke(self, token: str) -> bool:
        """Forgets a token (e.g. its service account was deleted); True if it was known."""
        return self._tokens.pop(token, None) is not None


# --- RBAC ----------------------------------------------------------------------------------


def _verb_matches(rule: Mapping[str, Any], verb: str) -> bool:
    verbs = rule.get("verbs") or []
    return "*" in verbs or verb in verbs


def _resource_matches(rule: Mapping[str, Any], attrs: RequestAttributes) -> bool:
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attrs.api_group not in groups:
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    for resource in rule.get("resources") or []:
        if resource in ("*", combined):
            return True
        if attrs.subresource and resource == f"*/{attrs.subresource}":
            return True
    return False


def _resource_name_matches(rule: Mapping[str, Any], attrs: RequestAttributes) -> bool:
    # A rule limited to names never matches a request without one (list, watch, create).
    names = rule.get("resourceNames") or []
    return not names or (attrs.name is not None and attrs.name in names)


def _non_resource_matches(rule: Mapping[str, Any], path: str) -> bool:
    for pattern in rule.get("nonResourceURLs") or []:
        if pattern in ("*", path):
            return True
        if pattern.endswith("*") and path.startswith(pattern[:-1]):
            return True
    return False


def rule_allows(rule: Mapping[str, Any], attrs: RequestAttributes) -> bool:
    if not _verb_matches(rule, attrs.verb):
        return False
    if not attrs.resource:
        return _non_resource_matches(rule, attrs.path)
    return _resource_matches(rule, attrs) and _resource_name_matches(rule, attrs)


def _subject_matches(subject: Mapping[str, Any], user: UserInfo, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    name = subject.get("name")
    if kind == "User":
        return bool(name == user.name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{namespace}:{name}"
    return False


def _cluster_role_rules(role: Mapping[str, Any], objects: RbacObjects) -> list[Mapping[str, Any]]:
    """A ClusterRole's rules; an aggregated role also gets the rules of the roles it selects,
    which the real clusterrole-aggregation controller would have copied into it."""
    rules: list[Mapping[str, Any]] = list(role.get("rules") or [])
    aggregation = role.get("aggregationRule") or {}
    for selector_spec in aggregation.get("clusterRoleSelectors") or []:
        try:
            selector = label_selector_from_spec(selector_spec)
        except ApiError:
            continue  # an invalid selector selects nothing
        for other in objects.cluster_roles:
            if other is role:
                continue
            labels = (other.get("metadata") or {}).get("labels") or {}
            if selector.matches(labels):
                rules.extend(other.get("rules") or [])
    return rules


def _named(items: Iterable[dict[str, Any]], name: str, namespace: str | None = None) -> Any:
    for item in items:
        meta = item.get("metadata") or {}
        if meta.get("name") == name and (namespace is None or meta.get("namespace") == namespace):
            return item
    return None


def _binding_rules(
    binding: Mapping[str, Any], namespace: str | None, objects: RbacObjects
) -> list[Mapping[str, Any]]:
    ref = binding.get("roleRef") or {}
    name = str(ref.get("name", ""))
    if ref.get("kind") == "ClusterRole":
        role = _named(objects.cluster_roles, name)
        return _cluster_role_rules(role, objects) if role is not None else []
    if ref.get("kind") == "Role" and namespace is not None:
        role = _named(objects.roles, name, namespace)
        return list(role.get("rules") or []) if role is not None else []
    return []


def is_allowed(user: UserInfo, attrs: RequestAttributes, rbac_objects: RbacObjects) -> bool:
    """Whether RBAC grants the request: a ClusterRoleBinding anywhere, a RoleBinding only in
    its own namespace (and never for cluster-scoped or non-resource requests)."""
    if MASTERS_GROUP in user.groups:
        return True
    for binding in rbac_objects.cluster_role_bindings:
        if _grants(binding, None, user, attrs, rbac_objects):
            return True
    if not attrs.resource or attrs.namespace is None:
        return False
    for binding in rbac_objects.role_bindings:
        if (binding.get("metadata") or {}).get("namespace") != attrs.namespace:
            continue
        if _grants(binding, attrs.namespace, user, attrs, rbac_objects):
            return True
    return False


def _grants(
    binding: Mapping[str, Any],
    namespace: str | None,
    user: UserInfo,
    attrs: RequestAttributes,
    objects: RbacObjects,
) -> bool:
    subjects = binding.get("subjects") or []
    binding_namespace = namespace or ""
    if not any(_subject_matches(s, user, binding_namespace) for s in subjects):
        return False
    return any(rule_allows(rule, attrs) for rule in _binding_rules(binding, namespace, objects))
