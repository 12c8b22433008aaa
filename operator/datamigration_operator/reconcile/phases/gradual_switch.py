"""switch with spec.switch.steps: the walk (reconcile/switch_steps.py) run inside the switch
phase. It decides the mode and read share before the mode is applied, names the current
step's analysis Job (so the phase keeps it), creates that Job once, and turns the walk's
outcome into state, conditions and events."""

from __future__ import annotations

from typing import Final

from datamigration_operator.api import reasons
from datamigration_operator.api.durations import parse_duration
from datamigration_operator.api.job_contract import AnalysisWindow
from datamigration_operator.api.phases import JobKind, JobState
from datamigration_operator.api.status import JobRecord, SwitchAnalysisReport
from datamigration_operator.reconcile.actions import CreateJob, EnsureJobAccess
from datamigration_operator.reconcile.draft import Draft
from datamigration_operator.reconcile.job_failure import failed_job_message
from datamigration_operator.reconcile.switch_steps import (
    Walk,
    WalkInputs,
    analysis_job_name,
    walk,
)

ANALYSIS_JOB_KIND: Final[JobKind] = "analyze"


def walk_started(draft: Draft) -> bool:
    """A walk of this switch (generation and rerun) exists: its gate was passed."""
    status = draft.obs.status.switch
    return (
        status is not None
        and status.phase_generation == draft.phase_generation
        and status.rerun == draft.obs.spec.rerun
        and bool(status.steps)
    )


def plan_walk(draft: Draft) -> Walk:
    """Walks the steps as far as this observation allows; keeps the result in the draft."""
    obs = draft.obs
    current = obs.status.switch
    step = current.step if current is not None and walk_started(draft) else None
    job = _job_name(draft, step) if step is not None else None
    state = _job_state(draft, job)
    result = walk(
        WalkInputs(
            steps=obs.spec.switch.steps,
            status=current,
            phase_generation=draft.phase_generation,
            rerun=obs.spec.rerun,
            now=draft.now,
            report=_trusted_report(draft, job),
            analysis_job_state=state,
            analysis_job_failure=(
                failed_job_message("analyze", job, state, draft.observed_jobs.get(job))
                if job is not None and state in ("Failed", "Deleted")
                else ""
            ),
        )
    )
    draft.switch = result.status
    if result.analysis_step is not None:
        # the phase's Job now: ForwardPhase keeps it while it deletes any other
        draft.job_name = _job_name(draft, result.analysis_step)
    return result


def finish_walk(draft: Draft, result: Walk) -> None:
    for message in result.events:
        draft.event("Normal", reasons.EVENT_SWITCH_STEP, message)
    if result.outcome == "succeeded":
        draft.done(result.reason, result.message)
        return
    if result.outcome == "failed":
        draft.condition(reasons.READS_SWITCHED, "False", result.reason, result.message)
        draft.set_state("Failed", result.reason, result.message)
        return
    if result.analysis_step is not None and draft.job_to_create():
        _create_analysis_job(draft, result.analysis_step)
    draft.progressing("Running", result.reason, result.message)


def _job_name(draft: Draft, step: int) -> str:
    return analysis_job_name(draft.obs.name, draft.phase_generation, draft.obs.spec.rerun, step)


def _trusted_report(draft: Draft, job: str | None) -> SwitchAnalysisReport | None:
    """status.switchAnalysis only when the analysis Job the operator created wrote it (its
    uid): the status subresource is writable by others."""
    report = draft.obs.status.switch_analysis
    if job is None or report is None or report.job != job:
        return None
    observed = draft.observed_jobs.get(job)
    if observed is None or not observed.uid or observed.uid != report.job_uid:
        return None
    return report


def _job_state(draft: Draft, job: str | None) -> JobState | None:
    if job is None:
        return None
    observed = draft.observed_jobs.get(job)
    if observed is not None:
        return observed.state
    record = draft.record(job)
    return None if record is None else record.state


def _create_analysis_job(draft: Draft, number: int) -> None:
    obs, name = draft.obs, draft.job_name
    assert name is not None
    step = obs.spec.switch.steps[number - 1]
    analysis = step.analysis
    assert analysis is not None
    record = draft.switch.steps[-1] if draft.switch is not None else None
    assert record is not None
    assert record.started_at is not None
    window = AnalysisWindow(
        step=number,
        read_percent=step.read_percent,
        since_epoch=record.started_at.timestamp(),
        min_samples=analysis.min_samples,
        timeout=analysis.timeout,
    )
    claim = obs.claim
    node = claim.node_name if claim is not None and claim.read_write_once else None
    if draft.job_service_account == draft.job_account:
        draft.actions.append(EnsureJobAccess(draft.job_account))
    draft.actions.append(
        CreateJob(
            ANALYSIS_JOB_KIND,
            name,
            "switch",
            draft.phase_generation,
            node,
            image=draft.job_image,
            service_account=draft.job_service_account,
            analysis=window,
        )
    )
    draft.jobs = [r for r in draft.jobs if r.name != name] + [
        JobRecord(phase="switch", name=name, state="Pending")
    ]
    timeout = parse_duration(analysis.timeout).total_seconds()
    draft.event(
        "Normal",
        reasons.EVENT_JOB_CREATED,
        f"created analysis Job {name} for switch step {number} (waits up to {timeout:g} s "
        f"for {analysis.min_samples} compared shadow reads)",
    )
