"""phases/switch.py: where switch is refused, and why it is not refused again once done."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from datamigration_operator.api.spec import ValidationSpec
from datamigration_operator.api.status import ValidationReport
from datamigration_operator.reconcile.observed import ObservedConfigMap
from datamigration_operator.reconcile.phases import GateInputs
from datamigration_operator.reconcile.phases.switch import SWITCH
from datamigration_operator.reconcile.rollback_readiness import Readiness
from datamigration_operator.reconcile.validation import validation_verdict
from tests.unit.reconcile.phases.drafts import at, condition, draft
from tests.unit.reconcile.phases.gate_inputs import (
    EPOCH,
    JOB_UID,
    NOW,
    POLICY,
    check_gate,
    finished,
)
from tests.unit.reconcile.scenario import ME


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


@pytest.mark.parametrize(
    ("value", "owner", "passed"),
    [
        ("weaviate_primary", ME, True),
        ("weaviate_primary", "apps/other", False),  # someone else's switch is not ours
        ("dual_write", ME, False),
    ],
)
def test_the_gate_is_not_asked_again_once_our_configmap_switched(
    value: str, owner: str, passed: bool
) -> None:
    obs = at("switch", config_map=ObservedConfigMap(exists=True, value=value, owner=owner))
    assert SWITCH.passed_gate_already(draft(obs)) is passed


def test_switch_runs_no_job_and_completes_when_the_mode_is_applied() -> None:
    result = draft(at("switch"))
    assert result.job_name is None
    SWITCH.proceed(result)
    assert result.state == "Succeeded"
    assert condition(result, "ReadsSwitched") == ("True", "ModeApplied")


@pytest.mark.parametrize(
    ("readiness", "reason"),
    [
        (
            Readiness("False", "DrainerNotRunning", "the app's outbox drainer is not running"),
            "DrainerNotRunning",
        ),
        (Readiness("Unknown", "RollbackPathUnobserved", "spec.app.workloads lists none"), None),
        (Readiness("True", "RollbackPathReady", "every part holds"), None),
        (None, None),
    ],
)
def test_switch_is_refused_while_rollback_readiness_is_false(
    readiness: Readiness | None, reason: str | None
) -> None:
    """A passing, fresh validation is not enough: the way back must not be known broken."""
    inputs = GateInputs([], finished(5), EPOCH, POLICY, NOW, JOB_UID, readiness)
    closed = SWITCH.gate(inputs)
    assert (closed.reason if closed else None) == reason
    if closed is not None:
        assert closed.message.startswith("switch refused: rollback is not ready: the app's")


def test_a_failed_validation_is_named_before_rollback_readiness() -> None:
    not_ready = Readiness("False", "OutboxLagging", "behind")
    inputs = GateInputs([], finished(61), EPOCH, POLICY, NOW, JOB_UID, not_ready)
    closed = SWITCH.gate(inputs)
    assert closed is not None
    assert closed.reason == "ValidationStale"
