"""The gates a phase must pass before the operator changes anything for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from datamigration_operator.api import reasons
from datamigration_operator.api.durations import parse_duration
from datamigration_operator.api.phases import Phase
from datamigration_operator.api.spec import ValidationSpec
from datamigration_operator.api.status import Condition, ValidationReport
from datamigration_operator.reconcile.conditions import is_true


@dataclass(frozen=True)
class Verdict:
    """What a validation report means for the Validated condition."""

    passed: bool
    reason: str
    message: str


@dataclass(frozen=True)
class GateClosed:
    reason: str
    message: str


def validation_verdict(
    report: ValidationReport | None,
    epoch: datetime | None,
    policy: ValidationSpec,
    issuer_uid: str | None,
) -> Verdict:
    """Passed only for a finished report within maxMismatches that finished inside the current
    dual-write epoch: a validation from before dual-write began says nothing about writes that
    went to SQLite alone since. `issuer_uid` is the uid of the validate Job the operator
    created that the report names (None: no such Job): a report that does not carry it was
    written by someone else and counts for nothing."""
    if report is None or report.finished_at is None:
        return Verdict(False, reasons.VALIDATION_REQUIRED, "no finished validation yet")
    if issuer_uid is None or report.job_uid != issuer_uid:
        job = report.job or "(none)"
        why = (
            f"no validate Job {job} of this DataMigration exists"
            if issuer_uid is None
            else f"it does not carry the uid of validate Job {job}"
        )
        return Verdict(
            False,
            reasons.VALIDATION_NOT_FROM_ITS_JOB,
            f"status.validation was not written by the validate Job the operator created: "
            f"{why}; run phase validate (or bump spec.rerun) to validate again",
        )
    if report.reason is not None:  # it could not conclude: its counts mean nothing
        return Verdict(
            False,
            report.reason,
            f"{report.message or 'validation could not conclude'}; bump spec.rerun to "
            "validate again",
        )
    counts = (
        f"{report.checked} checked, {report.missing} missing, {report.extra} extra, "
        f"{report.mismatched} mismatched"
    )
    if report.differences > policy.max_mismatches:
        return Verdict(
            False,
            reasons.VALIDATION_MISMATCH,
            f"validation found {report.differences} differences (maxMismatches "
            f"{policy.max_mismatches}): {counts}",
        )
    if report.outbox_mark is not None and not report.outbox_drained:
        return Verdict(
            False,
            reasons.OUTBOX_NOT_DRAINED,
            f"the app's dual-write outbox had not drained past entry {report.outbox_mark}, "
            "written before the validation's snapshot; bump spec.rerun to validate again",
        )
    if epoch is None or report.finished_at < epoch:
        return Verdict(
            False,
            reasons.VALIDATION_STALE,
            f"validation finished at {report.finished_at.isoformat()}, before the current "
            "dual-write epoch began; run validate again",
        )
    return Verdict(True, reasons.VALIDATION_PASSED, f"validation passed: {counts}")


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
    """None when `phase` may proceed. rollback and migrate never wait."""
    if phase == "dual-write" and not is_true(conditions, reasons.MIGRATED):
        return GateClosed(
            reasons.MIGRATION_REQUIRED,
            "dual-write needs Migrated=True: let the copy Job of phase migrate succeed first",
        )
    if phase == "validate" and not is_true(conditions, reasons.DUAL_WRITE_READY):
        return GateClosed(
            reasons.DUAL_WRITE_REQUIRED,
            "validate needs DualWriteReady=True: dual_write must be applied and the sync Job "
            "must have succeeded",
        )
    if phase == "switch":
        return _switch_gate(report, epoch, policy, now, issuer_uid)
    return None


def _switch_gate(
    report: ValidationReport | None,
    epoch: datetime | None,
    policy: ValidationSpec,
    now: datetime,
    issuer_uid: str | None,
) -> GateClosed | None:
    verdict = validation_verdict(report, epoch, policy, issuer_uid)
    if verdict.reason in (
        reasons.VALIDATION_NOT_FROM_ITS_JOB,
        reasons.VALIDATION_STALE,
        reasons.OUTBOX_NOT_DRAINING,
        reasons.OUTBOX_NOT_DRAINED,
    ):
        return GateClosed(verdict.reason, f"switch refused: {verdict.message}")
    if not verdict.passed:
        return GateClosed(
            reasons.VALIDATION_REQUIRED,
            f"switch needs a passing validation ({verdict.message}); run phase validate",
        )
    assert report is not None
    assert report.finished_at is not None
    max_age = parse_duration(policy.max_age)
    if now - report.finished_at > max_age:
        return GateClosed(
            reasons.VALIDATION_STALE,
            f"switch refused: the last validation finished at "
            f"{report.finished_at.isoformat()}, older than maxAge {policy.max_age}; "
            "run validate again",
        )
    return None
