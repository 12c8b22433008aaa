"""The API resources the operator reads or writes, and their URL paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from datamigration_operator.api.names import GROUP, PLURAL, VERSION


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def _prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def all_namespaces_path(self) -> str:
        return f"{self._prefix}/{self.plural}"

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        path = f"{self._prefix}/namespaces/{namespace}/{self.plural}"
        if name is not None:
            path += f"/{name}"
            if subresource is not None:
                path += f"/{subresource}"
        return path


DATAMIGRATIONS: Final = Resource(GROUP, VERSION, PLURAL)
JOBS: Final = Resource("batch", "v1", "jobs")
CONFIGMAPS: Final = Resource("", "v1", "configmaps")
SECRETS: Final = Resource("", "v1", "secrets")
PVCS: Final = Resource("", "v1", "persistentvolumeclaims")
PODS: Final = Resource("", "v1", "pods")
EVENTS: Final = Resource("", "v1", "events")
SERVICEACCOUNTS: Final = Resource("", "v1", "serviceaccounts")
ROLES: Final = Resource("rbac.authorization.k8s.io", "v1", "roles")
ROLEBINDINGS: Final = Resource("rbac.authorization.k8s.io", "v1", "rolebindings")
JOB_ACCESS: Final = {
    "ServiceAccount": SERVICEACCOUNTS,
    "Role": ROLES,
    "RoleBinding": ROLEBINDINGS,
}
DEPLOYMENTS: Final = Resource("apps", "v1", "deployments")
STATEFULSETS: Final = Resource("apps", "v1", "statefulsets")
WORKLOADS: Final = {"Deployment": DEPLOYMENTS, "StatefulSet": STATEFULSETS}
