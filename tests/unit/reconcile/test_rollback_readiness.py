"""RollbackReady, part by part: what makes it False (and with which reason), what makes it
Unknown, and that it is True only when every part was seen to hold."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest

from datamigration_operator.api.spec import WorkloadRef
from datamigration_operator.api.status import (
    DataMigrationStatus,
    ModeStatus,
    OutboxStatus,
    ValidationReport,
)
from datamigration_operator.reconcile.actions import ApplyMode
from datamigration_operator.reconcile.observed import ObservedConfigMap, ObservedWorkload
from datamigration_operator.reconcile.rollback_readiness import (
    Readiness,
    planned_readiness,
    rollback_readiness,
)
from tests.unit.reconcile.phases.drafts import draft
from tests.unit.reconcile.scenario import ME, NOW, observation

EPOCH = NOW - timedelta(hours=1)
LOOKED = NOW - timedelta(minutes=2)
WEB = WorkloadRef(kind="Deployment", name="web")
ROLLED = ObservedWorkload(ref=WEB, exists=True, stamped_mode="dual_write", rollout_complete=True)
OURS = ObservedConfigMap(exists=True, value="dual_write", owner=ME, original="sqlite_only")
APPLIED = ModeStatus(
    desired="dual_write",
    config_map="dual_write",
    applied="dual_write",
    changed_at=EPOCH,
    applied_at=EPOCH + timedelta(seconds=4),
    dual_write_since=EPOCH,
)
LIVE = OutboxStatus(
    job="shop-validate-1",
    depth=3,
    oldest_age_seconds=0.4,
    high_water_mark=40,
    lease_holder="web-5d8/7/ab12",
    lease_expires_at=LOOKED + timedelta(seconds=8),
    observed_at=LOOKED,
)


def ready(
    *,
    outbox: OutboxStatus | None = LIVE,
    validation: ValidationReport | None = None,
    mode: ModeStatus = APPLIED,
    config_map: ObservedConfigMap = OURS,
    workloads: tuple[ObservedWorkload, ...] = (ROLLED,),
    rollback: dict[str, Any] | None = None,
) -> Readiness:
    extra = {} if rollback is None else {"rollback": rollback}
    obs = observation(
        "switch",
        status=DataMigrationStatus(outbox=outbox, validation=validation, mode=mode),
        config_map=config_map,
        workloads=workloads,
        app={
            "configMapRef": {"name": "shop-config"},
            "workloads": [{"kind": "Deployment", "name": "web"}],
        },
        **extra,
    )
    return rollback_readiness(obs, mode=mode, config_map=config_map, me=ME, now=NOW)


def lapsed(at: datetime) -> OutboxStatus:
    return LIVE.model_copy(update={"lease_holder": None, "lease_expires_at": at})


def test_true_only_when_every_part_was_seen_to_hold() -> None:
    found = ready()
    assert (found.status, found.reason) == ("True", "RollbackPathReady")
    assert "web-5d8/7/ab12 drains the outbox" in found.message
    assert "reached every pod of Deployment web in 4.0 s (goal 5m)" in found.message
    assert "records its value before the migration ('sqlite_only')" in found.message


@pytest.mark.parametrize(
    ("outbox", "reason", "says"),
    [
        (None, "OutboxNotObserved", "no Job has looked at the app's outbox"),
        (
            LIVE.model_copy(update={"observed_at": EPOCH - timedelta(seconds=1)}),
            "OutboxNotObserved",
            "before dual-write began",
        ),
        (
            LIVE.model_copy(update={"observed_at": NOW - timedelta(minutes=16)}),
            "OutboxNotObserved",
            "longer ago than spec.rollback.maxObservationAge 15m; run validate again",
        ),
        (lapsed(LOOKED - timedelta(seconds=30)), "DrainerNotRunning", "lapsed at"),
        (lapsed(LOOKED), "DrainerNotRunning", "start it"),  # expired as it looked
        (
            LIVE.model_copy(update={"lease_holder": None, "lease_expires_at": None}),
            "DrainerNotRunning",
            "no app process ever held the drain lease",
        ),
        (
            lapsed(EPOCH - timedelta(hours=3)),
            "SourceNotCurrent",
            "no app process has written to that file since",
        ),
        (
            LIVE.model_copy(update={"oldest_age_seconds": 61.0, "depth": 900}),
            "OutboxLagging",
            "900 entries waiting, the oldest 61 s old",
        ),
    ],
)
def test_the_outbox_part(outbox: OutboxStatus | None, reason: str, says: str) -> None:
    found = ready(outbox=outbox)
    assert (found.status, found.reason) == ("False", reason)
    assert says in found.message, found.message


def test_no_look_counts_while_the_app_is_not_dual_writing() -> None:
    found = ready(mode=APPLIED.model_copy(update={"dual_write_since": None}))
    assert (found.status, found.reason) == ("False", "OutboxNotObserved")
    assert "not dual-writing yet" in found.message


def test_a_live_lease_reported_without_its_expiry_still_counts() -> None:
    """A Job of the previous release reports the holder but not leaseExpiresAt."""
    found = ready(outbox=LIVE.model_copy(update={"lease_expires_at": None}))
    assert found.status == "True"


def test_the_bounds_come_from_spec_rollback() -> None:
    lagging = LIVE.model_copy(update={"oldest_age_seconds": 100.0})
    assert ready(outbox=lagging).reason == "OutboxLagging"
    assert ready(outbox=lagging, rollback={"maxOutboxLag": "2m"}).status == "True"
    old = LIVE.model_copy(update={"observed_at": NOW - timedelta(minutes=20)})
    assert ready(outbox=old, rollback={"maxObservationAge": "30m"}).status == "True"


def test_a_look_that_aged_after_reads_switched_is_unknown_and_does_not_send_to_validate() -> None:
    """Validating again would move reads back to SQLite: once switched, an old look only
    means the operator cannot tell now."""
    old = LIVE.model_copy(update={"observed_at": NOW - timedelta(minutes=20)})
    obs = observation(
        "switch",
        status=DataMigrationStatus(outbox=old, mode=APPLIED),
        config_map=OURS,
        workloads=(ROLLED,),
        app={
            "configMapRef": {"name": "shop-config"},
            "workloads": [{"kind": "Deployment", "name": "web"}],
        },
    )
    found = rollback_readiness(
        obs, mode=APPLIED, config_map=OURS, me=ME, now=NOW, reads_switched=True
    )
    assert (found.status, found.reason) == ("Unknown", "RollbackPathUnobserved")
    assert "run validate again" not in found.message
    assert "reads are switched" in found.message


def test_a_database_without_an_outbox_is_unknown_not_ready() -> None:
    report = ValidationReport(
        job="shop-validate-1", finished_at=NOW - timedelta(minutes=1), checked=5, passed=True
    )
    found = ready(outbox=None, validation=report)
    assert (found.status, found.reason) == ("Unknown", "RollbackPathUnobserved")
    assert "found no dual-write outbox" in found.message
    # a report from an earlier epoch says nothing about this one
    earlier = report.model_copy(update={"finished_at": EPOCH - timedelta(minutes=1)})
    assert ready(outbox=None, validation=earlier).reason == "OutboxNotObserved"
    # nor does one that could not conclude
    inconclusive = report.model_copy(update={"reason": "OutboxNotDraining"})
    assert ready(outbox=None, validation=inconclusive).reason == "OutboxNotObserved"


@pytest.mark.parametrize(
    ("config_map", "says"),
    [
        (ObservedConfigMap(exists=False), "not claimed by this DataMigration yet"),
        (dataclasses.replace(OURS, owner=None), "not claimed by this DataMigration yet"),
        (
            dataclasses.replace(OURS, original=None),
            "kubectl annotate configmap shop-config migrations.gremlins.ai/original-mode=",
        ),
    ],
)
def test_the_config_map_must_record_its_previous_value(
    config_map: ObservedConfigMap, says: str
) -> None:
    found = ready(config_map=config_map)
    assert (found.status, found.reason) == ("False", "PreviousModeNotRecorded")
    assert says in found.message


def test_a_key_absent_before_the_migration_is_a_recorded_value() -> None:
    found = ready(config_map=dataclasses.replace(OURS, original=""))
    assert found.status == "True"
    assert "(no key)" in found.message


def test_without_listed_workloads_propagation_is_unknown() -> None:
    found = ready(workloads=())
    assert (found.status, found.reason) == ("Unknown", "RollbackPathUnobserved")
    assert "spec.app.workloads lists none" in found.message
    assert "60-90 s" in found.message
    assert "seen to hold:" in found.message
    assert "drains the outbox" in found.message


def test_a_mode_change_the_operator_did_not_time_is_unknown() -> None:
    found = ready(mode=APPLIED.model_copy(update={"changed_at": None}))
    assert (found.status, found.reason) == ("Unknown", "RollbackPathUnobserved")
    assert "no mode change of Deployment web was timed" in found.message


@pytest.mark.parametrize(
    ("changed_ago", "applied_after", "reason", "says"),
    [
        (timedelta(seconds=30), None, "ModePropagationPending", "written 30 s ago"),
        (timedelta(minutes=6), None, "ModePropagationSlow", "a rollback would be as slow"),
        (
            timedelta(minutes=20),
            timedelta(seconds=301),
            "ModePropagationSlow",
            "took 301.0 s to reach every pod of Deployment web, over spec.rollback."
            "maxPropagation 5m",
        ),
    ],
)
def test_the_last_mode_change_must_reach_every_pod_within_the_goal(
    changed_ago: timedelta, applied_after: timedelta | None, reason: str, says: str
) -> None:
    changed = NOW - changed_ago
    mode = APPLIED.model_copy(
        update={
            "changed_at": changed,
            "applied_at": None if applied_after is None else changed + applied_after,
            "applied": "sqlite_only" if applied_after is None else "dual_write",
        }
    )
    found = ready(mode=mode)
    assert (found.status, found.reason) == ("False", reason)
    assert says in found.message


def test_every_failing_part_is_named_and_the_first_gives_the_reason() -> None:
    found = ready(
        outbox=lapsed(LOOKED - timedelta(seconds=5)), config_map=ObservedConfigMap(exists=False)
    )
    assert (found.status, found.reason) == ("False", "DrainerNotRunning")
    assert "not claimed by this DataMigration" in found.message


def test_the_plan_counts_the_claim_it_makes() -> None:
    """Planned readiness sees the ConfigMap as the plan's ApplyMode leaves it, so planning
    again after the claim finds nothing to change."""
    obs = observation(
        "dual-write",
        status=DataMigrationStatus(outbox=LIVE, mode=APPLIED),
        config_map=ObservedConfigMap(exists=True, value="sqlite_only"),
    )
    d = draft(obs)
    assert "not claimed by this DataMigration" in planned_readiness(d).message
    d.actions.append(
        ApplyMode("shop-config", "migration_mode", "dual_write", "sqlite_only", claim=True)
    )
    assert "not claimed by this DataMigration" not in planned_readiness(d).message
