"""Legacy discovery documents (APIVersions, APIGroupList, APIResourceList) and version.Info,
generated from the live resource types so a CRD is discoverable the moment it is established."""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable
from typing import Any

from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import ApiError

GIT_VERSION = "v1.32.0-sandbox"

# Verbs kube-apiserver lists for subresources we serve.
_SUBRESOURCE_VERBS: dict[str, tuple[str, ...]] = {
    "status": ("get", "patch", "update"),
    "log": ("get",),
    "token": ("create",),
}


def version_info() -> dict[str, Any]:
    """The `/version` document (k8s.io/apimachinery version.Info)."""
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.4",
        "compiler": "gc",
        "platform": f"{platform.system().lower()}/amd64",
    }


def api_versions() -> dict[str, Any]:
    """The `/api` document."""
    return {
        "kind": "APIVersions",
        "apiVersion": "v1",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def _group_versions(types: Iterable[ResourceType]) -> dict[str, list[str]]:
    """Named groups -> served versions, in the order first seen (the preferred version first)."""
    groups: dict[str, list[str]] = {}
    for rt in types:
        if not rt.group:
            continue
        versions = groups.setdefault(rt.group, [])
        if rt.version not in versions:
            versions.append(rt.version)
    return groups


_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
_STABILITY = {"alpha": 0, "beta": 1, None: 2}


def _version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version priority: GA > beta > alpha, higher numbers first; others last."""
    match = _VERSION_RE.match(version)
    if match is None:
        return (-1, 0, 0)
    major, stability, minor = match.groups()
    return (_STABILITY[stability], int(major), int(minor or 0))


def _preferred_first(versions: list[str]) -> list[str]:
    return sorted(versions, key=_version_priority, reverse=True)


def _group_document(group: str, versions: list[str]) -> dict[str, Any]:
    ordered = _preferred_first(versions)
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(types: Iterable[ResourceType]) -> dict[str, Any]:
    """The `/apis` document."""
    groups = _group_versions(types)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_document(g, v) for g, v in groups.items()],
    }


def api_group(types: Iterable[ResourceType], group: str) -> dict[str, Any]:
    """The `/apis/{group}` document; 404 for a group nobody serves."""
    versions = _group_versions(types).get(group)
    if not versions:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_document(group, versions)}


def _resource_entries(rt: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    entries = [main]
    for sub in sorted(rt.subresources):
        kind = {"log": "Pod", "token": "TokenRequest"}.get(sub, rt.kind)
        entry: dict[str, Any] = {
            "name": f"{rt.plural}/{sub}",
            "singularName": "",
            "namespaced": rt.namespaced,
            "kind": kind,
            "verbs": list(_SUBRESOURCE_VERBS.get(sub, ("get",))),
        }
        if sub == "token":
            entry.update(group="authentication.k8s.io", version="v1")
        entries.append(entry)
    return entries


def api_resource_list(types: Iterable[ResourceType], group: str, version: str) -> dict[str, Any]:
    """The `/api/v1` or `/apis/{group}/{version}` document; 404 when nothing is served there."""
    served = [rt for rt in types if rt.group == group and rt.version == version]
    if not served:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    resources: list[dict[str, Any]] = []
    for rt in sorted(served, key=lambda r: r.plural):
        resources.extend(_resource_entries(rt))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
