"""The rollout controller: Deployment and StatefulSet status that `kubectl rollout status` reads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.rollout_controller import HOLD_ROLLOUT_ANNOTATION
from datamigration_sandbox.kube.store import Store

MERGE = "application/merge-patch+json"
DELAY = 0.01


@pytest.fixture
def store() -> Store:
    return Store(rollout_delay=DELAY)


def workload(name: str, replicas: int = 2) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": name}}}},
    }


async def settle() -> None:
    await asyncio.sleep(DELAY * 5)


def rolled_out(obj: dict[str, Any]) -> bool:
    """kubectl's Deployment rollout-status check."""
    status = obj.get("status") or {}
    replicas = obj["spec"]["replicas"]
    return bool(
        status.get("observedGeneration") == obj["metadata"]["generation"]
        and status.get("updatedReplicas") == replicas
        and status.get("replicas") == replicas
        and status.get("availableReplicas") == replicas
    )


async def test_deployment_rollout_completes_after_the_delay(store: Store) -> None:
    deployments = store.lookup("apps", "v1", "deployments")
    store.create(deployments, "default", workload("web"))
    assert "status" not in store.get(deployments, "default", "web")
    await settle()
    current = store.get(deployments, "default", "web")
    assert rolled_out(current)
    conditions = {c["type"]: c for c in current["status"]["conditions"]}
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert conditions["Available"]["status"] == "True"


async def test_spec_change_starts_a_new_rollout(store: Store) -> None:
    deployments = store.lookup("apps", "v1", "deployments")
    store.create(deployments, "default", workload("web"))
    await settle()
    store.patch(deployments, "default", "web", MERGE, {"spec": {"replicas": 3}})
    assert not rolled_out(store.get(deployments, "default", "web"))
    await settle()
    current = store.get(deployments, "default", "web")
    assert rolled_out(current)
    assert current["status"]["observedGeneration"] == 2


async def test_statefulset_revisions_converge(store: Store) -> None:
    statefulsets: ResourceType = store.lookup("apps", "v1", "statefulsets")
    store.create(statefulsets, "default", workload("db", replicas=1))
    await settle()
    status = store.get(statefulsets, "default", "db")["status"]
    assert status["readyReplicas"] == 1
    assert status["currentRevision"] == status["updateRevision"]
    assert status["observedGeneration"] == 1


async def test_hold_annotation_keeps_the_rollout_pending(store: Store) -> None:
    deployments = store.lookup("apps", "v1", "deployments")
    held = workload("web")
    held["metadata"]["annotations"] = {HOLD_ROLLOUT_ANNOTATION: "true"}
    store.create(deployments, "default", held)
    await settle()
    assert not rolled_out(store.get(deployments, "default", "web"))
    store.patch(
        deployments,
        "default",
        "web",
        MERGE,
        {"metadata": {"annotations": {HOLD_ROLLOUT_ANNOTATION: None}}},
    )
    await settle()
    assert rolled_out(store.get(deployments, "default", "web"))


def test_without_a_running_loop_status_stays_untouched() -> None:
    store = Store(rollout_delay=DELAY)
    deployments = store.lookup("apps", "v1", "deployments")
    created = store.create(deployments, "default", workload("web"))
    assert "status" not in created
