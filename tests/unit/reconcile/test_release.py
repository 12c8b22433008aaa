"""Deleting a DataMigration gives the app's ConfigMap back (or keeps its mode) and stops Jobs."""

from __future__ import annotations

from typing import Any

from datamigration_operator.api.spec import WorkloadRef
from datamigration_operator.builders.configmap import mode_patch, release_patch
from datamigration_operator.reconcile.actions import (
    DeleteJobs,
    EmitEvent,
    ReleaseConfigMap,
    StampWorkloads,
)
from datamigration_operator.reconcile.observed import (
    ObservedConfigMap,
    ObservedJob,
    ObservedWorkload,
)
from datamigration_operator.reconcile.release import plan_release
from tests.unit.reconcile.scenario import ME, observation

WEB = WorkloadRef(kind="Deployment", name="web")
APP: dict[str, Any] = {"configMapRef": {"name": "shop-config"}, "workloads": [WEB.model_dump()]}


def ours(value: str, original: str | None) -> ObservedConfigMap:
    return ObservedConfigMap(exists=True, value=value, owner=ME, original=original)


def web(mode: str) -> ObservedWorkload:
    return ObservedWorkload(ref=WEB, exists=True, stamped_mode=mode, rollout_complete=True)


def test_deleted_in_dual_write_restores_the_original_mode_and_rolls_the_app() -> None:
    obs = observation(
        "dual-write",
        config_map=ours("dual_write", "sqlite_only"),
        workloads=(web("dual_write"),),
        app=APP,
    )
    actions = plan_release(obs)
    assert ReleaseConfigMap("shop-config", "migration_mode", True, "sqlite_only") in actions
    assert StampWorkloads("sqlite_only", (WEB,)) in actions
    (event,) = [a for a in actions if isinstance(a, EmitEvent)]
    assert event.reason == "ConfigMapReleased"
    assert "dual_write -> sqlite_only" in event.message


def test_a_key_that_was_absent_is_removed_again() -> None:
    actions = plan_release(observation("switch", config_map=ours("weaviate_primary", "")))
    assert ReleaseConfigMap("shop-config", "migration_mode", True, None) in actions


def test_keep_releases_the_claim_and_leaves_the_mode() -> None:
    obs = observation(
        "switch",
        config_map=ours("weaviate_primary", "sqlite_only"),
        workloads=(web("weaviate_primary"),),
        app={**APP, "onDelete": "keep"},
    )
    actions = plan_release(obs)
    assert ReleaseConfigMap("shop-config", "migration_mode", False, None) in actions
    assert not [a for a in actions if isinstance(a, StampWorkloads)]


def test_a_config_map_of_another_migration_is_left_alone_but_running_jobs_stop() -> None:
    running = ObservedJob(name="shop-migrate-1", phase="migrate", state="Running", generation=1)
    other = ObservedConfigMap(exists=True, value="dual_write", owner="apps/other", original="")
    actions = plan_release(observation("migrate", config_map=other, jobs=(running,)))
    assert actions[0] == DeleteJobs(("shop-migrate-1",))
    assert not [a for a in actions if isinstance(a, ReleaseConfigMap)]


def test_the_claim_records_the_original_value_and_release_removes_every_annotation() -> None:
    claimed = mode_patch("m", "sqlite_only", None, ME, claim=True)
    assert claimed["metadata"]["annotations"]["migrations.gremlins.ai/original-mode"] == ""
    later = mode_patch("m", "dual_write", "sqlite_only", ME)
    assert "migrations.gremlins.ai/original-mode" not in later["metadata"]["annotations"]
    released = release_patch("m", restore=True, value=None)
    assert released["data"] == {"m": None}
    assert set(released["metadata"]["annotations"].values()) == {None}
    assert "data" not in release_patch("m", restore=False, value=None)


def test_a_switch_step_share_ends_with_the_claim_in_both_release_modes() -> None:
    stepping = ObservedConfigMap(
        exists=True, value="dual_write", owner=ME, original="sqlite_only", read_share="25"
    )
    for on_delete in ("restore", "keep"):
        app = {"configMapRef": {"name": "shop-config"}, "onDelete": on_delete}
        obs = observation("switch", config_map=stepping, app=app)
        (release,) = [a for a in plan_release(obs) if isinstance(a, ReleaseConfigMap)]
        assert release.read_share_key == "migration_mode_read_percent"
        patch = release_patch(
            release.key,
            restore=release.restore,
            value=release.value,
            read_share_key=release.read_share_key,
        )
        assert patch["data"]["migration_mode_read_percent"] is None
    # without a share, release patches the mode key alone (as before)
    obs = observation("switch", config_map=ours("weaviate_primary", "sqlite_only"))
    (release,) = [a for a in plan_release(obs) if isinstance(a, ReleaseConfigMap)]
    assert release.read_share_key is None
