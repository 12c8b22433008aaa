from __future__ import annotations

import pytest

from datamigration_operator.api.names import ANNOTATION_WORKLOAD_MODE
from datamigration_operator.builders.configmap import check_config_map, mode_patch, read_mode
from datamigration_operator.builders.workloads import (
    pod_selector,
    pods_in_other_modes,
    rollout_complete,
    stamp_patch,
    stamped_mode,
)
from datamigration_operator.reconcile.status_patch import apply_merge_patch

ME = "apps/shop"


def test_mode_patch_touches_only_the_key_and_our_annotations() -> None:
    config_map = {
        "metadata": {"name": "shop-config", "annotations": {"team": "web"}},
        "data": {"migration_mode": "sqlite_only", "LOG_LEVEL": "info"},
    }
    patched = apply_merge_patch(
        config_map, mode_patch("migration_mode", "dual_write", "sqlite_only", ME)
    )
    assert patched["data"] == {"migration_mode": "dual_write", "LOG_LEVEL": "info"}
    assert patched["metadata"]["annotations"] == {
        "team": "web",
        "migrations.gremlins.ai/owner": ME,
        "migrations.gremlins.ai/previous-mode": "sqlite_only",
    }
    assert read_mode(patched, "migration_mode") == ("dual_write", ME)
    assert read_mode({"metadata": {}}, "migration_mode") == (None, None)


@pytest.mark.parametrize(
    ("value", "owner", "reason"),
    [
        (None, None, None),
        ("sqlite_only", None, None),
        ("dual_write", ME, None),
        ("garbage", ME, None),  # our key: we overwrite it
        ("garbage", None, "ConfigMapUnknownMode"),
        ("sqlite_only", "apps/other", "ConfigMapOwnedByOther"),
    ],
)
def test_refuses_other_owners_and_unknown_values(
    value: str | None, owner: str | None, reason: str | None
) -> None:
    refusal = check_config_map("shop-config", "migration_mode", value, owner, ME)
    assert (refusal.reason if refusal else None) == reason


def test_workload_stamp_and_rollout() -> None:
    deployment = {
        "kind": "Deployment",
        "metadata": {"generation": 2},
        "spec": {"replicas": 2, "template": {"metadata": {}}},
        "status": {
            "observedGeneration": 2,
            "replicas": 3,
            "updatedReplicas": 2,
            "availableReplicas": 2,
        },
    }
    stamped = apply_merge_patch(deployment, stamp_patch("dual_write"))
    assert stamped_mode(stamped) == "dual_write"
    assert not rollout_complete(deployment), "an old pod is still running"
    deployment["status"]["replicas"] = 2
    assert rollout_complete(deployment)
    deployment["metadata"]["generation"] = 3
    assert not rollout_complete(deployment), "the controller has not seen the new template"
    statefulset = {
        "kind": "StatefulSet",
        "metadata": {"generation": 1},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 1,
            "updatedReplicas": 1,
            "readyReplicas": 1,
            "currentRevision": "a",
            "updateRevision": "b",
        },
    }
    assert not rollout_complete(statefulset)
    statefulset["status"]["currentRevision"] = "b"
    assert rollout_complete(statefulset)


def test_the_pod_selector_is_the_workloads_selector_as_a_query() -> None:
    selector = {
        "matchLabels": {"app": "chat", "tier": "web"},
        "matchExpressions": [
            {"key": "track", "operator": "In", "values": ["stable", "canary"]},
            {"key": "debug", "operator": "NotIn", "values": ["on"]},
            {"key": "owner", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    }
    assert pod_selector({"spec": {"selector": selector}}) == (
        "app=chat,tier=web,track in (stable,canary),debug notin (on),owner,!legacy"
    )
    assert pod_selector({"spec": {}}) is None
    odd = {"matchLabels": {"app": "chat"}, "matchExpressions": [{"key": "k", "operator": "Gt"}]}
    assert pod_selector({"spec": {"selector": odd}}) is None


def _pod(name: str, mode: str | None, phase: str = "Running", *, terminating: bool = False) -> dict:
    annotations = {} if mode is None else {ANNOTATION_WORKLOAD_MODE: mode}
    metadata: dict[str, object] = {"name": name, "annotations": annotations}
    if terminating:
        metadata["deletionTimestamp"] = "2026-12-03T14:00:00Z"
    return {"metadata": metadata, "status": {"phase": phase}}


def test_a_terminating_pod_of_the_old_mode_keeps_the_mode_unapplied() -> None:
    pods = [
        _pod("web-new", "sqlite_only"),
        _pod("web-old", "weaviate_primary", terminating=True),
        _pod("web-unstamped", None),
        _pod("web-done", "weaviate_primary", "Succeeded"),
        _pod("web-crashed", "dual_write", "Failed"),
    ]
    assert pods_in_other_modes("sqlite_only", pods) == ["web-old", "web-unstamped"]
    assert pods_in_other_modes("sqlite_only", pods[:1]) == []
