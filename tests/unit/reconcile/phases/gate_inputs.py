"""Gate inputs for the phase tests: a validation report, conditions, and `check_gate`, the
gate of a phase called the way the planner calls it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from datamigration_operator.api.phases import Phase
from datamigration_operator.api.spec import ValidationSpec
from datamigration_operator.api.status import Condition, ValidationReport
from datamigration_operator.reconcile.conditions import set_condition
from datamigration_operator.reconcile.phases import PHASES, GateClosed, GateInputs

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


def check_gate(
    phase: Phase,
    conditions: list[Condition],
    report: ValidationReport | None,
    epoch: datetime | None,
    policy: ValidationSpec,
    now: datetime,
    *,
    issuer_uid: str | None,
) -> GateClosed | None:
    return PHASES[phase].gate(GateInputs(conditions, report, epoch, policy, now, issuer_uid))
