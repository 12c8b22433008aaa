"""Phases that launch a Job (migrate: copy, dual-write: sync, validate: validate): the Job is
created once per (phase, generation, rerun), followed while it runs, and its end completes or
fails the phase."""

from __future__ import annotations

from typing import Final

from datamigration_operator.api import reasons
from datamigration_operator.api.phases import JobState
from datamigration_operator.api.quantities import mebibytes
from datamigration_operator.api.status import JobRecord
from datamigration_operator.reconcile.actions import CreateJob, EnsureJobAccess
from datamigration_operator.reconcile.conditions import find_condition
from datamigration_operator.reconcile.draft import ACTIVE, Draft
from datamigration_operator.reconcile.inputs import Problem, job_problem
from datamigration_operator.reconcile.job_failure import failed_job_message
from datamigration_operator.reconcile.observed import ObservedClaim
from datamigration_operator.reconcile.phases.forward import ForwardPhase


class JobPhase(ForwardPhase):
    def input_problem(self, draft: Draft) -> Problem | None:
        problem = super().input_problem(draft)
        if problem is None and draft.job_to_create():
            problem = job_problem(
                draft.obs,
                image=draft.job_image,
                service_account=draft.job_service_account,
                own_account=draft.job_account,
            )
        return problem

    def late_success_counts(self, draft: Draft) -> bool:
        """Whether this phase's Job, succeeding after spec.phase moved on, completes it."""
        return True

    def proceed(self, draft: Draft) -> None:
        kind, name = self.job_kind, draft.job_name
        assert kind is not None
        assert name is not None
        if draft.job_to_create():
            self._create_job(draft)
            return
        state = draft.job_state()
        waits = _outbox_wait(draft, name)
        if state == "Running" and waits is not None:
            draft.progressing("Running", reasons.OUTBOX_BEHIND, f"{kind} Job {name} {waits}")
        elif state in ACTIVE:
            pending = state == "Pending"
            draft.progressing(
                "Pending" if pending else "Running",
                reasons.JOB_PENDING if pending else reasons.JOB_RUNNING,
                f"{kind} Job {name} {'pending' if pending else 'running'}",
            )
        else:
            self.job_ended(draft, state)

    def job_ended(self, draft: Draft, state: JobState | None) -> None:
        """By default the Job's own result is the phase's."""
        kind, name = self.job_kind, draft.job_name
        assert name is not None
        assert kind is not None
        if state == "Succeeded":
            draft.done(reasons.JOB_SUCCEEDED, f"{kind} Job {name} succeeded")
            return
        message = failed_job_message(kind, name, state, draft.observed_jobs.get(name))
        draft.condition(self.done_condition, "False", reasons.JOB_FAILED, message)
        draft.set_state("Failed", reasons.JOB_FAILED, message)

    def _create_job(self, draft: Draft) -> None:
        kind, name, obs = self.job_kind, draft.job_name, draft.obs
        assert kind is not None
        assert name is not None
        claim = obs.claim
        # a ReadWriteOnce claim is mountable only on the node of the app pod that holds it
        node = claim.node_name if claim is not None and claim.read_write_once else None
        if draft.job_service_account == draft.job_account:
            draft.actions.append(EnsureJobAccess(draft.job_account))
        draft.actions.append(
            CreateJob(
                kind,
                name,
                self.phase,
                draft.phase_generation,
                node,
                image=draft.job_image,
                service_account=draft.job_service_account,
                scratch_size_limit=scratch_size_limit(claim),
            )
        )
        fresh = JobRecord(phase=self.phase, name=name, state="Pending")
        draft.jobs = [r for r in draft.jobs if r.name != name] + [fresh]
        draft.event("Normal", reasons.EVENT_JOB_CREATED, f"created {kind} Job {name}")
        draft.progressing("Pending", reasons.JOB_PENDING, f"{kind} Job {name} pending")


# The scratch volume holds the snapshot (at most the source file, so at most its claim) and the
# diff's index and temporary files (smaller than the source): twice the claim, plus room for
# SQLite's temporary files on a small one.
SCRATCH_HEADROOM: Final = 1 << 30


def scratch_size_limit(claim: ObservedClaim | None) -> str | None:
    """The scratch emptyDir's sizeLimit: a Job cannot fill its node's disk; None (no
    limit) when the claim's size is unknown."""
    if claim is None or claim.capacity is None:
        return None
    return mebibytes(2 * claim.capacity + SCRATCH_HEADROOM)


def credit_late_job(draft: Draft, previous: JobPhase) -> None:
    """A user may advance spec.phase while the previous phase's Job still runs; the phase is
    Blocked until that Job succeeds, and then proceeds by itself. Only the newest Job
    counts, and never across a rollback (which resets the conditions it invalidates)."""
    if not draft.jobs:
        return
    condition = find_condition(draft.conditions, previous.done_condition)
    if condition is None or condition.status == "True":
        return
    last = draft.jobs[-1]
    if (
        last.phase == previous.phase
        and last.state == "Succeeded"
        and condition.reason != reasons.ROLLED_BACK_REASON
        and previous.late_success_counts(draft)
    ):
        draft.condition(
            previous.done_condition, "True", reasons.JOB_SUCCEEDED, f"Job {last.name} succeeded"
        )


def _outbox_wait(draft: Draft, job: str) -> str | None:
    """What the running Job said it waits for in the app's outbox, if anything."""
    outbox = draft.obs.status.outbox
    if outbox is None or outbox.job != job or not outbox.waiting:
        return None
    return outbox.waiting
