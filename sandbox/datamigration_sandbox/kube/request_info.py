"""Parses API server URL paths the way kube-apiserver's RequestInfoFactory does."""

from __future__ import annotations

from dataclasses import dataclass

# Subresources of a namespace, so /api/v1/namespaces/x/status is not read as resource "status".
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True)
class ResourceRequest:
    """A request for a resource path: /api/v1/... or /apis/{group}/{version}/..."""

    group: str
    version: str
    plural: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    watch_prefix: bool = False  # the deprecated /watch/ path form

    def verb(self, method: str, *, watch: bool) -> str:
        """The RBAC verb of this request ("" when the method has no verb here)."""
        if method in ("GET", "HEAD"):
            if watch or self.watch_prefix:
                return "watch"
            return "get" if self.name else "list"
        if method == "DELETE":
            return "delete" if self.name else "deletecollection"
        return _VERBS.get(method, "")


@dataclass(frozen=True)
class DiscoveryRequest:
    """A discovery request: /api, /api/v1, /apis, /apis/{group} or /apis/{group}/{version}."""

    prefix: str  # "api" or "apis"
    group: str | None = None
    version: str | None = None


def parse_path(path: str) -> ResourceRequest | DiscoveryRequest | None:
    """Classify `path`; None means a non-resource path (or one this server does not know)."""
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return None
    if parts[0] == "api":
        if len(parts) <= 2:
            return DiscoveryRequest("api", "", parts[1] if len(parts) == 2 else None)
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) <= 3:
            group_name = parts[1] if len(parts) >= 2 else None
            return DiscoveryRequest("apis", group_name, parts[2] if len(parts) == 3 else None)
        group, version, rest = parts[1], parts[2], parts[3:]
    watch_prefix = rest[0] == "watch"
    if watch_prefix:
        rest = rest[1:]
        if not rest:
            return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    if len(rest) > 3:
        return None
    return ResourceRequest(
        group=group,
        version=version,
        plural=rest[0],
        # /namespaces/x names the namespace x itself (its "namespace" is also x, as upstream).
        namespace=namespace,
        name=rest[1] if len(rest) > 1 else None,
        subresource=rest[2] if len(rest) > 2 else None,
        watch_prefix=watch_prefix,
    )
