"""The per-DataMigration RBAC of its Jobs: a ServiceAccount, a Role and a RoleBinding.

The Role lets the Jobs of one DataMigration read and patch that DataMigration's status
(resourceNames) and create ConfigMaps (their reports), nothing more: a Job token of one
migration cannot write another's status.
"""

from __future__ import annotations

from typing import Any

from datamigration_operator.api.names import GROUP, PLURAL
from datamigration_operator.api.resource import DataMigration
from datamigration_operator.builders.ownership import controller_reference, managed_labels


def job_role_rules(datamigration: str) -> list[dict[str, Any]]:
    return [
        {
            "apiGroups": [GROUP],
            "resources": [f"{PLURAL}/status"],
            "resourceNames": [datamigration],
            "verbs": ["get", "patch"],
        },
        # Only create: a create cannot touch an existing object, so a Job writes its report
        # under a fresh name and can never rewrite the app's ConfigMap (migration_mode) or
        # another report; get/list would let it read every ConfigMap of the namespace.
        # (resourceNames cannot narrow create, so none is given.)
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
    ]


def build_job_access(dm: DataMigration, name: str) -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding named `name`, owned by `dm` (garbage collected
    with it), in the order they must be created."""
    meta = dm.metadata

    def metadata() -> dict[str, Any]:
        return {
            "name": name,
            "namespace": meta.namespace,
            "labels": managed_labels(meta.name),
            "ownerReferences": [controller_reference(dm)],
        }

    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(),
            "automountServiceAccountToken": True,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata(),
            "rules": job_role_rules(meta.name),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": meta.namespace}],
        },
    ]
