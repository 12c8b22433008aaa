"""Stamping the mode into a workload's pod template: a rolling restart that makes every pod
re-read the mode, and a rollout whose completion proves the app switched."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datamigration_operator.api.names import ANNOTATION_WORKLOAD_MODE
from datamigration_operator.api.phases import Mode


def stamp_patch(mode: Mode) -> dict[str, Any]:
    """JSON merge patch for a Deployment or StatefulSet."""
    return {"spec": {"template": {"metadata": {"annotations": {ANNOTATION_WORKLOAD_MODE: mode}}}}}


def stamped_mode(workload: Mapping[str, Any]) -> str | None:
    template = (workload.get("spec") or {}).get("template") or {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(ANNOTATION_WORKLOAD_MODE)
    return value if isinstance(value, str) else None


def rollout_complete(workload: Mapping[str, Any]) -> bool:
    """`kubectl rollout status` semantics for apps/v1 Deployments and StatefulSets."""
    metadata = workload.get("metadata") or {}
    spec = workload.get("spec") or {}
    status = workload.get("status") or {}
    replicas = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < metadata.get("generation", 0):
        return False
    if workload.get("kind") == "StatefulSet":
        return bool(
            status.get("updatedReplicas", 0) >= replicas
            and status.get("readyReplicas", 0) >= replicas
            and status.get("currentRevision") == status.get("updateRevision")
        )
    return bool(
        status.get("updatedReplicas", 0) >= replicas
        and status.get("replicas", 0) == status.get("updatedReplicas", 0)
        and status.get("availableReplicas", 0) >= replicas
    )
