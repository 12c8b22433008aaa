"""The resource types the emulator serves: built-in kinds our product touches, plus loaded CRDs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()  # e.g. {"status", "log"}
    verbs: tuple[str, ...] = ALL_VERBS
    # For CRDs: the version's openAPIV3Schema, x-kubernetes-validations included.
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    from_crd: str | None = None  # name of the CRD that defines it

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def key(self) -> tuple[str, str]:
        """Storage identity: objects are shared by every served version of (group, plural)."""
        return (self.group, self.plural)

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _rt(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    sub: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        subresources=frozenset(sub),
        verbs=verbs,
    )


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _rt("", "v1", "Namespace", "namespaces", namespaced=False, short=("ns",), sub=("status",)),
    _rt("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    _rt("", "v1", "Secret", "secrets"),
    _rt("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",), sub=("token",)),
    _rt("", "v1", "Event", "events", short=("ev",)),
    _rt("", "v1", "Pod", "pods", short=("po",), sub=("status", "log"), categories=("all",)),
    _rt(
        "", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",), sub=("status",)
    ),
    _rt("", "v1", "Node", "nodes", namespaced=False, short=("no",), sub=("status",)),
    _rt("", "v1", "Service", "services", short=("svc",), sub=("status",), categories=("all",)),
    _rt("events.k8s.io", "v1", "Event", "events", short=("ev",)),
    _rt("batch", "v1", "Job", "jobs", sub=("status",), categories=("all",)),
    _rt(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        short=("deploy",),
        sub=("status",),
        categories=("all",),
    ),
    _rt(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        short=("sts",),
        sub=("status",),
        categories=("all",),
    ),
    _rt("coordination.k8s.io", "v1", "Lease", "leases"),
    _rt("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _rt("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _rt("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _rt(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
    ),
    _rt(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short=("crd", "crds"),
        sub=("status",),
        categories=("api-extensions",),
    ),
)
