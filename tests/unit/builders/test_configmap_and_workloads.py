from __future__ import annotations

import pytest

from datamigration_operator.builders.configmap import check_config_map, mode_patch, read_mode
from datamigration_operator.builders.workloads import rollout_complete, stamp_patch, stamped_mode
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
