"""Stamping the mode into a workload's pod template: a rolling restart that makes every pod
re-read the mode, and a rollout whose completion proves the app switched."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def pod_selector(workload: Mapping[str, Any]) -> str | None:
    """The workload's spec.selector as a list query's labelSelector; None when it selects
    nothing (apps/v1 requires one, so only a malformed object lacks it)."""
    selector = (workload.get("spec") or {}).get("selector") or {}
    terms = [f"{key}={value}" for key, value in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(expression.get("values") or [])
        term = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": f"{key}",
            "DoesNotExist": f"!{key}",
        }.get(operator)
        if term is None:  # no such operator in apps/v1: nothing it selects can be named
            return None
        terms.append(term)
    return ",".join(terms) or None


def pods_in_other_modes(mode: str, pods: Iterable[Mapping[str, Any]]) -> list[str]:
    """Pods whose template did not carry `mode`, terminating ones included.

    A Deployment's rollout is complete while its old pods are still terminating (its status
    counts no terminating pod), and such a pod may serve in its old mode until it exits (a
    shutdown delay keeps it serving while endpoints drop it): the app runs `mode` only once
    none is left. A finished pod serves nothing."""
    return sorted(
        str(pod["metadata"]["name"])
        for pod in pods
        if ((pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))
        and ((pod["metadata"].get("annotations") or {}).get(ANNOTATION_WORKLOAD_MODE) != mode)
    )
