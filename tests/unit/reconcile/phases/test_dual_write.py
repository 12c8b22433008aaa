"""phases/dual_write.py: the gate on Migrated, the late copy Job, and when a sync counts."""

from __future__ import annotations

from datamigration_operator.api.status import JobRecord, ModeStatus
from datamigration_operator.reconcile.phases.dual_write import DUAL_WRITE
from tests.unit.reconcile.phases.drafts import (
    at,
    condition,
    draft,
    with_conditions,
    with_records,
)
from tests.unit.reconcile.phases.gate_inputs import JOB_UID, NOW, POLICY, check_gate, conditions


def test_dual_write_needs_migrated() -> None:
    assert (
        check_gate("dual-write", [], None, None, POLICY, NOW, issuer_uid=JOB_UID).reason
        == "MigrationRequired"
    )  # type: ignore[union-attr]
    assert (
        check_gate(
            "dual-write", conditions(Migrated="True"), None, None, POLICY, NOW, issuer_uid=JOB_UID
        )
        is None
    )


def test_a_copy_job_that_succeeds_after_the_user_moved_on_opens_the_gate() -> None:
    copy = JobRecord(phase="migrate", name="shop-migrate-1", state="Succeeded")
    obs = with_records(with_conditions(at("dual-write"), Migrated="False"), copy)
    result = draft(obs)
    DUAL_WRITE.before_gate(result)
    assert condition(result, "Migrated") == ("True", "JobSucceeded")


def test_a_copy_job_from_before_a_rollback_does_not_count() -> None:
    copy = JobRecord(phase="migrate", name="shop-migrate-1", state="Succeeded")
    rolled_back = with_conditions(at("dual-write"), reason="RolledBack", Migrated="False")
    result = draft(with_records(rolled_back, copy))
    DUAL_WRITE.before_gate(result)
    assert condition(result, "Migrated") == ("False", "RolledBack")


def test_a_sync_counts_late_only_if_the_app_was_writing_to_both_stores() -> None:
    obs = at("validate")
    assert not DUAL_WRITE.late_success_counts(draft(obs))
    applied = obs.status.model_copy(update={"mode": ModeStatus(applied="dual_write")})
    assert DUAL_WRITE.late_success_counts(draft(at("validate", status=applied)))
