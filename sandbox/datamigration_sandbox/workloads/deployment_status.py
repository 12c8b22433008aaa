"""A Deployment's status computed from its running pods, in the shape of the real controller's.

`kubectl rollout status` and the operator read observedGeneration, replicas, updatedReplicas,
availableReplicas and the Progressing/Available conditions. A pod counts as available as soon as
it is ready (minReadySeconds is not emulated). Condition timestamps are carried over while a
condition's status and reason do not change, so a sync that changes nothing writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PodTally:
    total: int  # pods not being stopped
    updated: int  # of those, running the current template
    ready: int
    updated_ready: int


def deployment_status(
    deployment: Mapping[str, Any],
    tally: PodTally,
    *,
    desired: int,
    max_unavailable: int,
    revision: str,
    now: str,
) -> dict[str, Any]:
    meta, previous = deployment["metadata"], deployment.get("status") or {}
    status: dict[str, Any] = {
        "observedGeneration": meta["generation"],
        "replicas": tally.total,
        "updatedReplicas": tally.updated,
        "readyReplicas": tally.ready,
        "availableReplicas": tally.ready,
    }
    unavailable = max(0, desired - tally.ready)
    if unavailable:
        status["unavailableReplicas"] = unavailable
    # omitempty in the Go type: zero counts are not serialized.
    status = {k: v for k, v in status.items() if v or k == "observedGeneration"}
    available = tally.ready >= desired - max_unavailable
    complete = (
        tally.updated == desired and tally.total == desired and tally.updated_ready == desired
    )
    replica_set = f'ReplicaSet "{meta["name"]}-{revision}"'
    if complete:
        progressing = (
            "True",
            "NewReplicaSetAvailable",
            f"{replica_set} has successfully progressed.",
        )
    else:
        progressing = ("True", "ReplicaSetUpdated", f"{replica_set} is progressing.")
    if available:
        availability = ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    else:
        availability = (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    old = {c.get("type"): c for c in previous.get("conditions") or []}
    status["conditions"] = [
        _condition("Available", availability, old.get("Available"), now),
        _condition("Progressing", progressing, old.get("Progressing"), now),
    ]
    return status


def _condition(
    cond_type: str,
    value: tuple[str, str, str],
    previous: Mapping[str, Any] | None,
    now: str,
) -> dict[str, Any]:
    status, reason, message = value
    condition = {
        "type": cond_type,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
    }
    if previous is None:
        return condition
    if previous.get("status") == status:
        condition["lastTransitionTime"] = previous.get("lastTransitionTime", now)
        if previous.get("reason") == reason and previous.get("message") == message:
            condition["lastUpdateTime"] = previous.get("lastUpdateTime", now)
    return condition
