"""The planner: observed state -> the ordered actions that move it toward spec.phase.

Level-based and deterministic: planning again after the actions took effect yields no change,
which makes crash recovery "observe and plan again". Status changes and events are derived from
the difference between the current and the planned status, so neither repeats.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from datamigration_operator.api import reasons
from datamigration_operator.api.model_base import whole_seconds
from datamigration_operator.api.names import owner_id
from datamigration_operator.api.phases import DUAL_WRITING_MODES, JobState, Mode, Phase, State
from datamigration_operator.api.reasons import ConditionStatus, ConditionType, EventType
from datamigration_operator.api.spec import SecretKeyRef
from datamigration_operator.api.status import (
    MAX_HISTORY,
    MAX_JOB_RECORDS,
    Condition,
    DataMigrationStatus,
    HistoryEntry,
    JobRecord,
    ModeStatus,
)
from datamigration_operator.builders.configmap import check_config_map
from datamigration_operator.reconcile.actions import (
    Action,
    ApplyMode,
    Block,
    CreateJob,
    DeleteJobs,
    EmitEvent,
    EnsureJobAccess,
    SetStatus,
    StampWorkloads,
)
from datamigration_operator.reconcile.conditions import find_condition, set_condition
from datamigration_operator.reconcile.gates import check_gate, validation_verdict
from datamigration_operator.reconcile.job_failure import failed_job_message
from datamigration_operator.reconcile.job_names import job_account_name, job_name
from datamigration_operator.reconcile.observed import Observation, ObservedJob
from datamigration_operator.reconcile.phase_table import PHASE_TABLE
from datamigration_operator.reconcile.status_patch import status_patch

_ACTIVE: Final[frozenset[JobState]] = frozenset({"Pending", "Running"})
_PREVIOUS_JOB_PHASE: Final[dict[Phase, Phase]] = {"dual-write": "migrate", "validate": "dual-write"}
_RESET_WHEN_ROLLED_BACK: Final[tuple[ConditionType, ...]] = (
    reasons.DUAL_WRITE_READY,
    reasons.VALIDATED,
    reasons.READS_SWITCHED,
)


def plan(observation: Observation) -> list[Action]:
    """The actions to execute in order; empty (or just Block) when nothing is left to do."""
    return _Planner(observation).run()


def current_phase_generation(observation: Observation) -> int:
    """metadata.generation at which the current phase began (it names the phase's Job).

    When status does not record the phase yet, a Job created for it after the last status
    write (the operator died in between) is adopted, so the restart reuses its name."""
    status, phase = observation.status, observation.spec.phase
    if status.phase == phase and status.phase_generation is not None:
        return status.phase_generation
    floor = status.observed_generation or 0
    orphans = [j.generation for j in observation.jobs if j.phase == phase and j.generation > floor]
    return min(orphans) if orphans else observation.generation


@dataclass
class _Planner:
    obs: Observation
    actions: list[Action] = field(default_factory=list)
    events: list[EmitEvent] = field(default_factory=list)
    blocked: Block | None = None

    def __post_init__(self) -> None:
        obs = self.obs
        self.now = whole_seconds(obs.now)
        self.me = owner_id(obs.namespace, obs.name)
        self.rule = PHASE_TABLE[obs.spec.phase]
        self.phase_generation = current_phase_generation(obs)
        self.job_name = (
            job_name(obs.name, obs.spec.phase, self.phase_generation, obs.spec.rerun)
            if self.rule.job_kind is not None
            else None
        )
        self.conditions: list[Condition] = list(obs.status.conditions)
        self.jobs: list[JobRecord] = list(obs.status.jobs)
        # The dual-write epoch follows the ConfigMap: none while the app is not writing to both
        # stores; "now" when it is but status lost the start (a crash before the status write),
        # which is later than the truth and so only ever stricter.
        dual = obs.config_map.value in DUAL_WRITING_MODES
        self.epoch = (obs.status.mode.dual_write_since or self.now) if dual else None
        self.mode: ModeStatus = obs.status.mode.model_copy(update={"dual_write_since": self.epoch})
        self.state: State = "Running"
        self.message = ""
        self.ready_reason = reasons.NOT_STARTED
        self.observed_jobs = {j.name: j for j in obs.jobs}
        template = obs.spec.job_template
        self.job_account = job_account_name(obs.name)
        self.job_image = template.image or obs.job_policy.default_image
        self.job_service_account = template.service_account_name or self.job_account

    # -- entry point ---------------------------------------------------------------------------

    def run(self) -> list[Action]:
        self._initialize_conditions()
        self._refresh_job_records()
        if self.obs.spec.phase == "rollback":
            self._rollback()
        else:
            self._forward()
        return self._finish()

    # -- phases --------------------------------------------------------------------------------

    def _forward(self) -> None:
        phase = self.obs.spec.phase
        problem = self._input_problem()
        if problem is not None:
            self._block(*problem)
            return
        self._leave_other_phases()
        self._credit_previous_phase_job()
        if phase in ("validate", "switch"):
            self._derive_validated()
        if not self._already_switched():
            closed = check_gate(
                phase,
                self.conditions,
                self.obs.status.validation,
                self.epoch,
                self.obs.spec.validation,
                self.now,
                issuer_uid=self._validation_issuer(),
            )
            if closed is not None:
                self._block(closed.reason, closed.message)
                return
        applied = self._apply_mode(self.rule.mode)
        self._delete_jobs(j for j in self.obs.jobs if j.active and j.name != self.job_name)
        if not applied:
            self._waiting_for_rollout()
        elif self.rule.job_kind is None:
            self._done(reasons.MODE_APPLIED, f"reads switched: mode {self.rule.mode} applied")
        else:
            self._run_job()

    def _rollback(self) -> None:
        """sqlite_only first and at once, then stop every Job; never waits for a gate."""
        problem = self._config_map_problem()
        applied = False
        if problem is None:
            applied = self._apply_mode("sqlite_only")
        self._delete_jobs(j for j in self.obs.jobs if j.active)
        for type_ in _RESET_WHEN_ROLLED_BACK:
            self._condition(
                type_, "False", reasons.ROLLED_BACK_REASON, "rolled back to sqlite_only"
            )
        problem = problem or self._workload_problem()
        if problem is not None:
            self._block(*problem)
        elif not applied:
            self._waiting_for_rollout()
        else:
            self._done(reasons.MODE_APPLIED, "rolled back: the app reads and writes SQLite only")

    # -- inputs and gates ----------------------------------------------------------------------

    def _input_problem(self) -> tuple[str, str] | None:
        problem = self._config_map_problem() or self._workload_problem()
        if problem is None and self._job_to_create():
            problem = self._job_input_problem()
        return problem

    def _config_map_problem(self) -> tuple[str, str] | None:
        app, cm = self.obs.spec.app, self.obs.config_map
        if not cm.exists:
            return (
                reasons.CONFIGMAP_NOT_FOUND,
                f"ConfigMap {app.config_map_ref.name} (spec.app.configMapRef) not found",
            )
        refusal = check_config_map(app.config_map_ref.name, app.key, cm.value, cm.owner, self.me)
        return None if refusal is None else (refusal.reason, refusal.message)

    def _workload_problem(self) -> tuple[str, str] | None:
        missing = [w.ref for w in self.obs.workloads if not w.exists]
        if not missing:
            return None
        listed = ", ".join(f"{w.kind} {w.name}" for w in missing)
        return reasons.WORKLOAD_NOT_FOUND, f"spec.app.workloads: {listed} not found"

    def _job_input_problem(self) -> tuple[str, str] | None:
        spec, policy = self.obs.spec, self.obs.job_policy
        if self.job_image != policy.default_image and self.job_image not in policy.allowed_images:
            return (
                reasons.JOB_IMAGE_NOT_ALLOWED,
                f"spec.jobTemplate.image {self.job_image} is not allowed: the operator runs "
                "Jobs from its own image or one it was started to allow (--allowed-job-images)",
            )
        account = self.job_service_account
        if account != self.job_account and account not in policy.allowed_service_accounts:
            return (
                reasons.JOB_SERVICE_ACCOUNT_NOT_ALLOWED,
                f"spec.jobTemplate.serviceAccountName {account} is not allowed: Jobs run as "
                f"the ServiceAccount the operator creates for this DataMigration "
                f"({self.job_account}) or one it was started to allow "
                "(--allowed-job-service-accounts)",
            )
        if self.obs.claim is None:
            return (
                reasons.CLAIM_NOT_FOUND,
                f"PersistentVolumeClaim {spec.source.claim_name} (spec.source.claimName) not found",
            )
        refs: list[tuple[str, SecretKeyRef | None]] = [
            ("spec.target.apiKeySecretRef", spec.target.api_key_secret_ref),
            ("spec.target.tls.caSecretRef", spec.target.tls.ca_secret_ref),
        ]
        for where, ref in refs:
            if ref is None:
                continue
            keys = self.obs.secrets.get(ref.name)
            if keys is None:
                return reasons.SECRET_NOT_FOUND, f"Secret {ref.name} ({where}) not found"
            if ref.key not in keys:
                return (
                    reasons.SECRET_NOT_FOUND,
                    f"Secret {ref.name} ({where}) has no key {ref.key}",
                )
        return None

    def _credit_previous_phase_job(self) -> None:
        """A user may advance spec.phase while the previous phase's Job still runs; the phase is
        Blocked until that Job succeeds, and then proceeds by itself. Only the newest Job
        counts, and never across a rollback (which resets the conditions it invalidates)."""
        previous = _PREVIOUS_JOB_PHASE.get(self.obs.spec.phase)
        if previous is None or not self.jobs:
            return
        done_condition = PHASE_TABLE[previous].done_condition
        condition = find_condition(self.conditions, done_condition)
        if condition is None or condition.status == "True":
            return
        last = self.jobs[-1]
        if (
            last.phase == previous
            and last.state == "Succeeded"
            and condition.reason != reasons.ROLLED_BACK_REASON
            and (previous != "dual-write" or self.obs.status.mode.applied == "dual_write")
        ):
            self._condition(
                done_condition, "True", reasons.JOB_SUCCEEDED, f"Job {last.name} succeeded"
            )

    def _already_switched(self) -> bool:
        """Once weaviate_primary is in our ConfigMap, switch passed its gate; a validation
        that ages afterwards must not flip reads back."""
        cm = self.obs.config_map
        return (
            self.obs.spec.phase == "switch"
            and cm.value == "weaviate_primary"
            and cm.owner == self.me
        )

    def _validation_issuer(self) -> str | None:
        """The uid of the validate Job of this DataMigration that the report names (found by
        our labels and owner reference, created by the operator), or None. Only that Job's
        report counts: status.validation is writable through the status subresource."""
        report = self.obs.status.validation
        if report is None or report.job is None:
            return None
        job = self.observed_jobs.get(report.job)
        if job is None or job.phase != "validate" or not job.uid:
            return None
        return job.uid

    def _derive_validated(self) -> None:
        report = self.obs.status.validation
        policy = self.obs.spec.validation
        unreported = report is None or report.job != self.job_name or report.finished_at is None
        if self.obs.spec.phase == "validate" and unreported:
            state = self._job_state()
            ended = state in ("Succeeded", "Failed", "Deleted")
            reason = reasons.JOB_FAILED if ended else reasons.VALIDATION_RUNNING
            message = (
                f"validate Job {self.job_name} ended without a report"
                if ended
                else f"validate Job {self.job_name} has not reported yet"
            )
            if state in ("Failed", "Deleted") and self.job_name is not None:
                job = self.observed_jobs.get(self.job_name)
                message = failed_job_message("validate", self.job_name, state, job)
            self._condition(reasons.VALIDATED, "False", reason, message)
            return
        verdict = validation_verdict(report, self.epoch, policy, self._validation_issuer())
        self._condition(
            reasons.VALIDATED,
            "True" if verdict.passed else "False",
            verdict.reason,
            verdict.message,
        )

    # -- doing ---------------------------------------------------------------------------------

    def _apply_mode(self, mode: Mode) -> bool:
        """Patches ConfigMap and workloads as needed; True when the app runs in `mode`."""
        app, cm = self.obs.spec.app, self.obs.config_map
        old = self.obs.status.mode
        changed_at = old.changed_at if old.desired == mode else None
        if cm.value != mode or cm.owner != self.me:
            claim = cm.owner != self.me
            self.actions.append(
                ApplyMode(app.config_map_ref.name, app.key, mode, cm.value, claim=claim)
            )
            changed_at = self.obs.now  # precise: rollback time is measured from it
        since = (self.epoch or self.now) if mode in DUAL_WRITING_MODES else None
        existing = [w for w in self.obs.workloads if w.exists]
        unstamped = tuple(w.ref for w in existing if w.stamped_mode != mode)
        if unstamped:
            self.actions.append(StampWorkloads(mode, unstamped))
        rolled = not unstamped and all(w.rollout_complete for w in existing)
        applied_at = old.applied_at if old.applied == mode and old.desired == mode else None
        if rolled and applied_at is None:
            applied_at = self.obs.now
            if existing and changed_at is not None:
                took = (applied_at - changed_at).total_seconds()
                names = ", ".join(f"{w.ref.kind} {w.ref.name}" for w in existing)
                self._event(
                    "Normal",
                    reasons.MODE_APPLIED,
                    f"every pod of {names} runs {mode}, {took:.2f} s after the ConfigMap changed",
                )
        self.mode = ModeStatus(
            desired=mode,
            config_map=mode,
            applied=mode if rolled else self.mode.applied,
            changed_at=changed_at,
            # once every pod ran the mode it stays acknowledged: a pod that turns unready
            # later (a slow probe under load) does not make it unapplied, nor announced twice
            applied_at=applied_at if rolled or old.applied == mode else None,
            dual_write_since=since,
        )
        return rolled

    def _delete_jobs(self, jobs: Iterable[ObservedJob]) -> None:
        names = tuple(sorted(j.name for j in jobs))
        if not names:
            return
        self.actions.append(DeleteJobs(names))
        self.jobs = [
            r.model_copy(update={"state": "Deleted", "finished_at": self.now})
            if r.name in names
            else r
            for r in self.jobs
        ]
        self._event("Normal", reasons.EVENT_JOBS_DELETED, f"deleted Jobs {', '.join(names)}")

    def _job_to_create(self) -> bool:
        if self.job_name is None or self.job_name in self.observed_jobs:
            return False
        record = self._record(self.job_name)
        return record is None or record.state in _ACTIVE

    def _job_state(self) -> JobState | None:
        if self.job_name is None:
            return None
        job = self.observed_jobs.get(self.job_name)
        if job is not None:
            return job.state
        record = self._record(self.job_name)
        return None if record is None else record.state

    def _run_job(self) -> None:
        kind, name = self.rule.job_kind, self.job_name
        assert kind is not None
        assert name is not None
        done_condition = self.rule.done_condition
        if self._job_to_create():
            claim = self.obs.claim
            node = claim.node_name if claim is not None and claim.read_write_once else None
            if self.job_service_account == self.job_account:
                self.actions.append(EnsureJobAccess(self.job_account))
            self.actions.append(
                CreateJob(
                    kind,
                    name,
                    self.obs.spec.phase,
                    self.phase_generation,
                    node,
                    image=self.job_image,
                    service_account=self.job_service_account,
                )
            )
            fresh = JobRecord(phase=self.obs.spec.phase, name=name, state="Pending")
            self.jobs = [r for r in self.jobs if r.name != name] + [fresh]
            self._event("Normal", reasons.EVENT_JOB_CREATED, f"created {kind} Job {name}")
            self._progressing("Pending", reasons.JOB_PENDING, f"{kind} Job {name} pending")
            return
        state = self._job_state()
        waits = self._outbox_wait(name)
        if state == "Running" and waits is not None:
            self._progressing("Running", reasons.OUTBOX_BEHIND, f"{kind} Job {name} {waits}")
        elif state in _ACTIVE:
            pending = state == "Pending"
            self._progressing(
                "Pending" if pending else "Running",
                reasons.JOB_PENDING if pending else reasons.JOB_RUNNING,
                f"{kind} Job {name} {'pending' if pending else 'running'}",
            )
        elif self.obs.spec.phase == "validate":
            self._finish_validation()
        elif state == "Succeeded":
            self._done(reasons.JOB_SUCCEEDED, f"{kind} Job {name} succeeded")
        else:
            message = failed_job_message(kind, name, state, self.observed_jobs.get(name))
            self._condition(done_condition, "False", reasons.JOB_FAILED, message)
            self._set_state("Failed", reasons.JOB_FAILED, message)

    def _outbox_wait(self, job: str) -> str | None:
        """What the running Job said it waits for in the app's outbox, if anything."""
        outbox = self.obs.status.outbox
        if outbox is None or outbox.job != job or not outbox.waiting:
            return None
        return outbox.waiting

    def _finish_validation(self) -> None:
        validated = find_condition(self.conditions, reasons.VALIDATED)
        assert validated is not None  # _derive_validated ran
        if validated.status == "True":
            self._done(reasons.VALIDATION_PASSED, validated.message)
        else:
            self._set_state("Failed", validated.reason, validated.message)

    # -- status bookkeeping --------------------------------------------------------------------

    def _initialize_conditions(self) -> None:
        for type_ in reasons.CONDITION_TYPES:
            if find_condition(self.conditions, type_) is None:
                self._condition(type_, "False", reasons.NOT_STARTED, "")

    def _refresh_job_records(self) -> None:
        """Copies observed Job states into status.jobs; an active record whose Job vanished
        (deleted by someone, or by TTL) is marked Deleted unless it is the current Job."""
        refreshed = []
        for record in self.jobs:
            job = self.observed_jobs.get(record.name)
            if job is not None:
                record = record.model_copy(update=_record_update(job))
            elif record.state in _ACTIVE and record.name != self.job_name:
                record = record.model_copy(update={"state": "Deleted", "finished_at": self.now})
            refreshed.append(record)
        known = {r.name for r in refreshed}
        current = self.observed_jobs.get(self.job_name or "")
        if current is not None and current.name not in known:
            record = JobRecord(phase=current.phase, name=current.name, state=current.state)
            refreshed.append(record.model_copy(update=_record_update(current)))
        self.jobs = refreshed

    def _record(self, name: str) -> JobRecord | None:
        return next((r for r in self.jobs if r.name == name), None)

    def _leave_other_phases(self) -> None:
        phase = self.obs.spec.phase
        for type_, kept_in in (
            (reasons.READS_SWITCHED, "switch"),
            (reasons.ROLLED_BACK, "rollback"),
        ):
            condition = find_condition(self.conditions, type_)
            if phase != kept_in and condition is not None and condition.status == "True":
                self._condition(type_, "False", reasons.PHASE_CHANGED, f"phase is now {phase}")

    def _condition(
        self, type_: ConditionType, status: ConditionStatus, reason: str, message: str
    ) -> None:
        self.conditions = set_condition(
            self.conditions,
            type_,
            status,
            reason,
            message,
            now=self.now,
            generation=self.obs.generation,
        )

    def _set_state(self, state: State, reason: str, message: str) -> None:
        # status.message and history messages are bounded (maxLength 1024) by the CRD.
        self.state, self.ready_reason, self.message = state, reason, message[:1024]

    def _progressing(self, state: State, reason: str, message: str) -> None:
        self._condition(self.rule.done_condition, "False", reason, message)
        self._set_state(state, reason, message)

    def _waiting_for_rollout(self) -> None:
        waiting = [
            f"{w.ref.kind} {w.ref.name}"
            for w in self.obs.workloads
            if w.exists and (w.stamped_mode != self.mode.desired or not w.rollout_complete)
        ]
        self._progressing(
            "Running",
            reasons.WAITING_FOR_ROLLOUT,
            f"mode {self.mode.desired} written; waiting for rollout of {', '.join(waiting)}",
        )

    def _done(self, reason: str, message: str) -> None:
        self._condition(self.rule.done_condition, "True", reason, message)
        self._set_state("Succeeded", reasons.PHASE_COMPLETE, message)

    def _block(self, reason: str, message: str) -> None:
        self._set_state("Blocked", reason, message)
        self.blocked = Block(reason, message)

    def _event(self, type_: EventType, reason: str, message: str) -> None:
        self.events.append(EmitEvent(type_, reason, message))

    def _finish(self) -> list[Action]:
        old, obs = self.obs.status, self.obs
        ready: ConditionStatus = "True" if self.state == "Succeeded" else "False"
        self._condition(reasons.READY, ready, self.ready_reason, self.message)
        history = list(old.history)
        changed = (old.phase, old.state, _ready_reason(old)) != (
            obs.spec.phase,
            self.state,
            self.ready_reason,
        )
        if changed:
            history.append(
                HistoryEntry(
                    phase=obs.spec.phase, at=self.now, result=self.state, message=self.message
                )
            )
            self._transition_events()
        if old.mode.config_map != self.mode.config_map and self.mode.config_map is not None:
            # The mode the status last recorded; on the first claim, what the ConfigMap held.
            before = old.mode.config_map or obs.config_map.value
            change = (
                f"{before} (unchanged, now managed)"
                if before == self.mode.config_map
                else f"{before or 'unset'} -> {self.mode.config_map}"
            )
            self._event(
                "Normal",
                reasons.EVENT_MODE_CHANGED,
                f"ConfigMap {obs.spec.app.config_map_ref.name} {obs.spec.app.key}: {change}",
            )
        new = old.model_copy(
            update={
                "observed_generation": obs.generation,
                "phase": obs.spec.phase,
                "phase_generation": self.phase_generation,
                "state": self.state,
                "message": self.message,
                "mode": self.mode,
                "conditions": self.conditions,
                "jobs": self.jobs[-MAX_JOB_RECORDS:],
                "history": history[-MAX_HISTORY:],
            }
        )
        patch = status_patch(old, new)
        actions = list(self.actions)
        if patch:
            actions.append(SetStatus(patch))
        actions.extend(self.events)
        if self.blocked is not None:
            actions.append(self.blocked)
        return actions

    def _transition_events(self) -> None:
        old, phase = self.obs.status, self.obs.spec.phase
        if old.phase != phase:
            was = f" (was {old.phase})" if old.phase else ""
            self._event("Normal", reasons.EVENT_PHASE_STARTED, f"phase {phase} started{was}")
        if self.state in ("Blocked", "Failed") or self.ready_reason == reasons.OUTBOX_BEHIND:
            self._event("Warning", self.ready_reason, self.message)
        elif self.state == "Succeeded":
            self._event("Normal", reasons.EVENT_PHASE_SUCCEEDED, f"phase {phase}: {self.message}")


def _ready_reason(status: DataMigrationStatus) -> str | None:
    ready = find_condition(status.conditions, reasons.READY)
    return None if ready is None else ready.reason


def _record_update(job: ObservedJob) -> dict[str, object]:
    return {
        "state": job.state,
        "started_at": whole_seconds(job.started_at) if job.started_at else None,
        "finished_at": whole_seconds(job.finished_at) if job.finished_at else None,
        "message": job.message[:1024],
    }
