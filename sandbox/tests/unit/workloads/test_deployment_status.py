"""Deployment status from pod counts: counters, omitempty, conditions and their timestamps."""

from __future__ import annotations

from typing import Any

from datamigration_sandbox.workloads.deployment_status import PodTally, deployment_status

DEPLOYMENT: dict[str, Any] = {"metadata": {"name": "chat", "generation": 4}}


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_complete_rollout() -> None:
    status = deployment_status(
        DEPLOYMENT,
        PodTally(total=2, updated=2, ready=2, updated_ready=2),
        desired=2,
        max_unavailable=0,
        revision="abc",
        now="T1",
    )

    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 4,
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
    }
    found = conditions(status)
    assert found["Available"]["reason"] == "MinimumReplicasAvailable"
    assert found["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert found["Progressing"]["message"] == 'ReplicaSet "chat-abc" has successfully progressed.'


def test_rollout_in_progress_with_an_unready_pod() -> None:
    status = deployment_status(
        DEPLOYMENT,
        PodTally(total=2, updated=1, ready=1, updated_ready=0),
        desired=1,
        max_unavailable=0,
        revision="abc",
        now="T1",
    )

    assert status["replicas"] == 2
    assert "unavailableReplicas" not in status  # one ready pod is all that is desired
    assert conditions(status)["Progressing"]["reason"] == "ReplicaSetUpdated"
    assert conditions(status)["Available"]["status"] == "True"


def test_zero_counts_are_omitted_and_availability_fails() -> None:
    status = deployment_status(
        DEPLOYMENT,
        PodTally(total=1, updated=1, ready=0, updated_ready=0),
        desired=1,
        max_unavailable=0,
        revision="abc",
        now="T1",
    )

    assert "readyReplicas" not in status
    assert "availableReplicas" not in status
    assert status["unavailableReplicas"] == 1
    available = conditions(status)["Available"]
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")


def test_unchanged_conditions_keep_their_timestamps() -> None:
    tally = PodTally(total=1, updated=1, ready=1, updated_ready=1)
    first = deployment_status(
        DEPLOYMENT, tally, desired=1, max_unavailable=0, revision="abc", now="T1"
    )
    again = deployment_status(
        {**DEPLOYMENT, "status": first},
        tally,
        desired=1,
        max_unavailable=0,
        revision="abc",
        now="T2",
    )
    assert again == first

    rolled = deployment_status(
        {**DEPLOYMENT, "status": first},
        PodTally(total=2, updated=1, ready=2, updated_ready=1),
        desired=1,
        max_unavailable=0,
        revision="def",
        now="T3",
    )
    progressing = conditions(rolled)["Progressing"]
    assert (progressing["lastTransitionTime"], progressing["lastUpdateTime"]) == ("T1", "T3")
