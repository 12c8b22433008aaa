"""An opted-in Deployment's status is left to the pods that really run: no simulated rollout."""

from __future__ import annotations

import asyncio
from typing import Any

from datamigration_sandbox.kube.rollout_controller import RUN_PODS_ANNOTATION
from datamigration_sandbox.kube.store import Store

DELAY = 0.01


def workload(name: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": name}}}},
    }


async def test_only_deployments_without_the_opt_in_get_a_simulated_status() -> None:
    store = Store(rollout_delay=DELAY)
    deployments = store.lookup("apps", "v1", "deployments")
    statefulsets = store.lookup("apps", "v1", "statefulsets")
    store.create(deployments, "default", workload("runs", {RUN_PODS_ANNOTATION: "true"}))
    store.create(deployments, "default", workload("other", {RUN_PODS_ANNOTATION: "false"}))
    # StatefulSet pods are not run: the annotation does not apply to them.
    store.create(statefulsets, "default", workload("db", {RUN_PODS_ANNOTATION: "true"}))

    await asyncio.sleep(DELAY * 5)

    assert "status" not in store.get(deployments, "default", "runs")
    assert store.get(deployments, "default", "other")["status"]["availableReplicas"] == 1
    assert store.get(statefulsets, "default", "db")["status"]["readyReplicas"] == 1
