from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from datamigration_operator.api.spec import ValidationSpec
from datamigration_operator.api.status import ValidationReport
from datamigration_operator.reconcile.conditions import set_condition
from datamigration_operator.reconcile.gates import check_gate, validation_verdict

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
EPOCH = NOW - timedelta(hours=3)
POLICY = ValidationSpec()
JOB_UID = "3f1c-validate-job-uid"


def finished(minutes_ago: float, diffs: int = 0) -> ValidationReport:
    return ValidationReport(
        job="shop-validate-1",
        job_uid=JOB_UID,
        finished_at=NOW - timedelta(minutes=minutes_ago),
        checked=10,
        missing=diffs,
    )


def conditions(**values: str) -> list:  # type: ignore[type-arg]
    result: list = []  # type: ignore[type-arg]
    for type_, status in values.items():
        result = set_condition(result, type_, status, "X", "", now=NOW, generation=1)  # type: ignore[arg-type]
    return result


@pytest.mark.parametrize("phase", ["migrate", "rollback"])
def test_migrate_and_rollback_never_wait(phase: str) -> None:
    assert check_gate(phase, [], None, None, POLICY, NOW, issuer_uid=None) is None  # type: ignore[arg-type]


def test_dual_write_needs_migrated_and_validate_needs_dual_write_ready() -> None:
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
    closed = check_gate(
        "validate", conditions(Migrated="True"), None, None, POLICY, NOW, issuer_uid=JOB_UID
    )
    assert closed is not None
    assert closed.reason == "DualWriteRequired"
    assert (
        check_gate(
            "validate",
            conditions(DualWriteReady="True"),
            None,
            None,
            POLICY,
            NOW,
            issuer_uid=JOB_UID,
        )
        is None
    )


@pytest.mark.parametrize(
    ("report", "epoch", "policy", "reason"),
    [
        (None, EPOCH, POLICY, "ValidationRequired"),
        (ValidationReport(checked=3), EPOCH, POLICY, "ValidationRequired"),  # still running
        (finished(5, diffs=1), EPOCH, POLICY, "ValidationRequired"),
        (finished(61), EPOCH, POLICY, "ValidationStale"),  # older than maxAge 1h
        (finished(5), NOW - timedelta(minutes=1), POLICY, "ValidationStale"),  # before epoch
        (finished(5), None, POLICY, "ValidationStale"),  # no dual-write at all
        (finished(5), EPOCH, POLICY, None),
        (finished(5, diffs=1), EPOCH, ValidationSpec(max_mismatches=1), None),
        (finished(90), EPOCH, ValidationSpec(max_age="2h"), None),
    ],
)
def test_switch_needs_a_fresh_passing_validation_from_this_epoch(
    report: ValidationReport | None,
    epoch: datetime | None,
    policy: ValidationSpec,
    reason: str | None,
) -> None:
    closed = check_gate("switch", [], report, epoch, policy, NOW, issuer_uid=JOB_UID)
    assert (closed.reason if closed else None) == reason


def test_verdict_explains_the_counts() -> None:
    verdict = validation_verdict(finished(1, diffs=2), EPOCH, POLICY, JOB_UID)
    assert not verdict.passed
    assert "2 differences (maxMismatches 0)" in verdict.message


def test_a_validation_that_could_not_conclude_keeps_switch_closed_with_its_reason() -> None:
    inconclusive = finished(1).model_copy(
        update={
            "reason": "OutboxNotDraining",
            "message": "waited 120 s for the app's dual-write outbox to drain; 50 entries",
            "passed": False,
        }
    )
    verdict = validation_verdict(inconclusive, EPOCH, POLICY, JOB_UID)
    assert (verdict.passed, verdict.reason) == (False, "OutboxNotDraining")
    assert "50 entries" in verdict.message
    assert "spec.rerun" in verdict.message
    closed = check_gate("switch", [], inconclusive, EPOCH, POLICY, NOW, issuer_uid=JOB_UID)
    assert closed is not None
    assert closed.reason == "OutboxNotDraining"


def test_switch_needs_the_outbox_drained_past_the_validations_mark() -> None:
    undrained = finished(1).model_copy(update={"outbox_mark": 1234, "outbox_drained": False})
    closed = check_gate("switch", [], undrained, EPOCH, POLICY, NOW, issuer_uid=JOB_UID)
    assert closed is not None
    assert closed.reason == "OutboxNotDrained"
    assert "1234" in closed.message
    drained = undrained.model_copy(update={"outbox_drained": True})
    assert check_gate("switch", [], drained, EPOCH, POLICY, NOW, issuer_uid=JOB_UID) is None


@pytest.mark.parametrize(
    ("report_uid", "issuer_uid", "why"),
    [
        (None, JOB_UID, "does not carry the uid of validate Job shop-validate-1"),
        ("forged", JOB_UID, "does not carry the uid of validate Job shop-validate-1"),
        (JOB_UID, None, "no validate Job shop-validate-1 of this DataMigration exists"),
    ],
)
def test_switch_accepts_a_validation_only_from_the_validate_job_the_operator_created(
    report_uid: str | None, issuer_uid: str | None, why: str
) -> None:
    forged = finished(1).model_copy(update={"job_uid": report_uid})
    verdict = validation_verdict(forged, EPOCH, POLICY, issuer_uid)
    assert (verdict.passed, verdict.reason) == (False, "ValidationNotFromItsJob")
    assert why in verdict.message
    closed = check_gate("switch", [], forged, EPOCH, POLICY, NOW, issuer_uid=issuer_uid)
    assert closed is not None
    assert closed.reason == "ValidationNotFromItsJob"
    assert "not written by the validate Job the operator created" in closed.message
