"""phases/validate.py: the gate on DualWriteReady, and Validated from its own Job's report."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from datamigration_operator.api.status import ValidationReport
from datamigration_operator.reconcile.observed import Observation, ObservedJob
from datamigration_operator.reconcile.phases.validate import VALIDATE
from tests.unit.reconcile.phases.drafts import at, condition, draft
from tests.unit.reconcile.phases.gate_inputs import JOB_UID, NOW, POLICY, check_gate, conditions
from tests.unit.reconcile.scenario import NOW as SCENARIO_NOW


def test_validate_needs_dual_write_ready() -> None:
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


def _validating(state: str, report_job: str | None = None, missing: int = 0) -> Observation:
    """In dual_write since an hour, with the current validate Job in `state`; `report_job`:
    the Job that wrote status.validation (None: no report)."""
    name = draft(at("validate")).job_name
    assert name is not None
    obs = at("validate", jobs=(ObservedJob(name, "validate", state, 1, uid="uid-v"),))  # type: ignore[arg-type]
    cm = dataclasses.replace(obs.config_map, value="dual_write")
    since = SCENARIO_NOW - timedelta(hours=1)
    mode = obs.status.mode.model_copy(update={"dual_write_since": since})
    report = ValidationReport(
        job=report_job.replace("CURRENT", name) if report_job else None,
        job_uid="uid-v",
        finished_at=SCENARIO_NOW - timedelta(minutes=1),
        checked=5,
        missing=missing,
    )
    status = obs.status.model_copy(
        update={"mode": mode, "validation": report if report_job else None}
    )
    return dataclasses.replace(obs, config_map=cm, status=status)


def test_validated_waits_for_a_report_of_the_current_job() -> None:
    running = draft(_validating("Running"))
    VALIDATE.before_gate(running)
    assert condition(running, "Validated") == ("False", "ValidationRunning")
    earlier = draft(_validating("Running", report_job="shop-validate-earlier"))
    VALIDATE.before_gate(earlier)
    assert condition(earlier, "Validated") == ("False", "ValidationRunning")


def test_a_job_that_ended_without_a_report_fails_validation() -> None:
    result = draft(_validating("Succeeded"))
    VALIDATE.before_gate(result)
    assert condition(result, "Validated") == ("False", "JobFailed")


def test_the_report_not_the_jobs_exit_completes_the_phase() -> None:
    passed = draft(_validating("Succeeded", report_job="CURRENT"))
    VALIDATE.before_gate(passed)
    VALIDATE.job_ended(passed, "Succeeded")
    assert (passed.state, condition(passed, "Validated")) == (
        "Succeeded",
        ("True", "ValidationPassed"),
    )
    differs = draft(_validating("Succeeded", report_job="CURRENT", missing=2))
    VALIDATE.before_gate(differs)
    VALIDATE.job_ended(differs, "Succeeded")
    assert (differs.state, differs.ready_reason) == ("Failed", "ValidationMismatch")
