"""What a validation report counts for: whose it is and what it says. The validate phase
completes on it and the switch gate opens on it (phases/validate.py, phases/switch.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from datamigration_operator.api import reasons
from datamigration_operator.api.spec import ValidationSpec
from datamigration_operator.api.status import ValidationReport
from datamigration_operator.reconcile.observed import Observation


@dataclass(frozen=True)
class Verdict:
    """What a validation report means for the Validated condition."""

    passed: bool
    reason: str
    message: str


def validation_issuer(obs: Observation) -> str | None:
    """The uid of the validate Job of this DataMigration that the report names (found by
    our labels and owner reference, created by the operator), or None. Only that Job's
    report counts: status.validation is writable through the status subresource."""
    report = obs.status.validation
    if report is None or report.job is None:
        return None
    job = {j.name: j for j in obs.jobs}.get(report.job)
    if job is None or job.phase != "validate" or not job.uid:
        return None
    return job.uid


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
    if report.dangling_references or report.wrong_references:
        counts += (
            f", {report.dangling_references} dangling references, "
            f"{report.wrong_references} wrong references"
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
