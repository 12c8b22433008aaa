"""validate: the validate Job diffs every record without repair while the app stays in
dual_write, and reports into status.validation.

Gate: DualWriteReady=True (a sync Job still running when spec.phase moved here counts once it
succeeds with dual_write applied). Complete (Validated=True) only on a report from its own
Job within spec.validation.maxMismatches (reconcile.validation says what a report is worth)."""

from __future__ import annotations

from datamigration_operator.api import reasons
from datamigration_operator.api.job_contract import JOB_KIND_BY_PHASE
from datamigration_operator.api.phases import JobState
from datamigration_operator.reconcile.conditions import find_condition, is_true
from datamigration_operator.reconcile.draft import Draft
from datamigration_operator.reconcile.job_failure import failed_job_message
from datamigration_operator.reconcile.phases.base import GateClosed, GateInputs
from datamigration_operator.reconcile.phases.dual_write import DUAL_WRITE
from datamigration_operator.reconcile.phases.jobs import JobPhase, credit_late_job
from datamigration_operator.reconcile.validation import validation_issuer, validation_verdict


class Validate(JobPhase):
    phase = "validate"
    mode = "dual_write"
    job_kind = JOB_KIND_BY_PHASE["validate"]
    done_condition = reasons.VALIDATED

    def before_gate(self, draft: Draft) -> None:
        credit_late_job(draft, DUAL_WRITE)
        report = draft.obs.status.validation
        if report is None or report.job != draft.job_name or report.finished_at is None:
            state = draft.job_state()
            ended = state in ("Succeeded", "Failed", "Deleted")
            reason = reasons.JOB_FAILED if ended else reasons.VALIDATION_RUNNING
            message = (
                f"validate Job {draft.job_name} ended without a report"
                if ended
                else f"validate Job {draft.job_name} has not reported yet"
            )
            if state in ("Failed", "Deleted") and draft.job_name is not None:
                job = draft.observed_jobs.get(draft.job_name)
                message = failed_job_message("validate", draft.job_name, state, job)
            draft.condition(reasons.VALIDATED, "False", reason, message)
            return
        record_verdict(draft)

    def gate(self, inputs: GateInputs) -> GateClosed | None:
        if not is_true(inputs.conditions, reasons.DUAL_WRITE_READY):
            return GateClosed(
                reasons.DUAL_WRITE_REQUIRED,
                "validate needs DualWriteReady=True: dual_write must be applied and the sync Job "
                "must have succeeded",
            )
        return None

    def job_ended(self, draft: Draft, state: JobState | None) -> None:
        # The report decides; a Job that ended without one made Validated False in before_gate.
        validated = find_condition(draft.conditions, reasons.VALIDATED)
        assert validated is not None  # before_gate set it
        if validated.status == "True":
            draft.done(reasons.VALIDATION_PASSED, validated.message)
        else:
            draft.set_state("Failed", validated.reason, validated.message)


def record_verdict(draft: Draft) -> None:
    """Validated as the report stands now: a later dual-write epoch (a rollback and back) turns
    it False, which is why switch derives it again before its gate."""
    obs = draft.obs
    verdict = validation_verdict(
        obs.status.validation, draft.epoch, obs.spec.validation, validation_issuer(obs)
    )
    draft.condition(
        reasons.VALIDATED,
        "True" if verdict.passed else "False",
        verdict.reason,
        verdict.message,
    )


VALIDATE = Validate()
