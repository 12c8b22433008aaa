"""Completes Deployment and StatefulSet rollouts: no pods run, but the status says they did.

`kubectl rollout status` and the operator wait for status.observedGeneration to reach
metadata.generation with every replica updated and available. `delay` seconds after a
workload is created or its spec changes, this controller writes that status through the status
subresource. The annotation `sandbox.gremlins.ai/hold-rollout: "true"` keeps the status stale
(a rollout that never finishes); removing it lets the rollout complete.

A Deployment annotated `sandbox.gremlins.ai/run-pods: "true"` is left alone: its pods really
run (sandbox/workloads) and the Deployment controller there writes its status from them.

Rollouts complete only while an event loop runs (loop.call_later); a store used without a
running loop leaves workload status untouched.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import TYPE_CHECKING, Any

from datamigration_sandbox.kube.object_meta import now_timestamp
from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import ApiError

if TYPE_CHECKING:
    from datamigration_sandbox.kube.store import Store

HOLD_ROLLOUT_ANNOTATION = "sandbox.gremlins.ai/hold-rollout"
RUN_PODS_ANNOTATION = "sandbox.gremlins.ai/run-pods"
DEPLOYMENTS = ("apps", "deployments")
STATEFULSETS = ("apps", "statefulsets")

_Key = tuple[str, str, str]  # (plural, namespace, name)


class RolloutController:
    def __init__(self, store: Store, *, delay: float = 0.2) -> None:
        self._store = store
        self._delay = delay
        self._scheduled: dict[_Key, tuple[int, asyncio.TimerHandle]] = {}
        store.subscribe(self._on_event)

    def _on_event(
        self,
        event_type: str,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
    ) -> None:
        if rt.key not in (DEPLOYMENTS, STATEFULSETS):
            return
        meta = obj["metadata"]
        key = (rt.plural, meta["namespace"], meta["name"])
        if event_type == "DELETED" or not _needs_rollout(obj) or runs_pods(rt, obj):
            self._cancel(key)
            return
        generation = meta["generation"]
        scheduled = self._scheduled.get(key)
        if scheduled is not None and scheduled[0] == generation:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._cancel(key)
        handle = loop.call_later(self._delay, self._complete, rt, key, generation)
        self._scheduled[key] = (generation, handle)

    def _cancel(self, key: _Key) -> None:
        scheduled = self._scheduled.pop(key, None)
        if scheduled is not None:
            scheduled[1].cancel()

    def _complete(self, rt: ResourceType, key: _Key, generation: int) -> None:
        self._scheduled.pop(key, None)
        _, namespace, name = key
        try:
            current = self._store.get(rt, namespace, name)
        except ApiError:
            return
        if current["metadata"]["generation"] != generation or not _needs_rollout(current):
            return
        if runs_pods(rt, current):
            return
        current["status"] = rolled_out_status(rt, current)
        self._store.update(rt, namespace, name, current, subresource="status")


def runs_pods(rt: ResourceType, obj: dict[str, Any]) -> bool:
    """A Deployment whose pods run as processes (opt-in: most test Deployments must not run)."""
    annotations = obj["metadata"].get("annotations") or {}
    return rt.key == DEPLOYMENTS and annotations.get(RUN_PODS_ANNOTATION) == "true"


def _needs_rollout(obj: dict[str, Any]) -> bool:
    meta = obj["metadata"]
    if meta.get("deletionTimestamp"):
        return False
    if (meta.get("annotations") or {}).get(HOLD_ROLLOUT_ANNOTATION) == "true":
        return False
    observed = (obj.get("status") or {}).get("observedGeneration")
    return bool(observed != meta["generation"])


def rolled_out_status(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The status of a workload whose every replica runs the current template."""
    spec = obj.get("spec") or {}
    replicas = spec.get("replicas", 1)
    revision = f"{obj['metadata']['name']}-{_template_hash(spec.get('template') or {})}"
    status: dict[str, Any] = {
        "observedGeneration": obj["metadata"]["generation"],
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
    }
    if rt.key == STATEFULSETS:
        status.update(
            currentReplicas=replicas,
            currentRevision=revision,
            updateRevision=revision,
            collisionCount=0,
        )
        return status
    now = now_timestamp()
    status["conditions"] = [
        {
            "type": "Available",
            "status": "True",
            "reason": "MinimumReplicasAvailable",
            "message": "Deployment has minimum availability.",
            "lastUpdateTime": now,
            "lastTransitionTime": now,
        },
        {
            "type": "Progressing",
            "status": "True",
            "reason": "NewReplicaSetAvailable",
            "message": f'ReplicaSet "{revision}" has successfully progressed.',
            "lastUpdateTime": now,
            "lastTransitionTime": now,
        },
    ]
    return status


def _template_hash(template: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    return digest[:10]
