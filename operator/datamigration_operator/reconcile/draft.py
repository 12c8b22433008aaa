"""The status a plan writes, while the planner and the current phase build it: conditions,
Job records, mode and state, and the actions and events so far. Phases decide what to write
(reconcile/phases); the planner begins and finishes the draft (reconcile/planner.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from datamigration_operator.api import reasons
from datamigration_operator.api.model_base import whole_seconds
from datamigration_operator.api.names import owner_id, read_percent_key
from datamigration_operator.api.phases import DUAL_WRITING_MODES, JobState, Mode, State
from datamigration_operator.api.reasons import ConditionStatus, ConditionType, EventType
from datamigration_operator.api.status import Condition, JobRecord, ModeStatus
from datamigration_operator.reconcile.actions import (
    Action,
    ApplyMode,
    Block,
    DeleteJobs,
    EmitEvent,
    StampWorkloads,
)
from datamigration_operator.reconcile.conditions import set_condition
from datamigration_operator.reconcile.job_names import job_account_name
from datamigration_operator.reconcile.observed import Observation, ObservedJob
from datamigration_operator.reconcile.switch_steps import Walk

ACTIVE: Final[frozenset[JobState]] = frozenset({"Pending", "Running"})


@dataclass
class Draft:
    obs: Observation
    done_condition: ConditionType
    """The condition that says the current phase is complete."""
    phase_generation: int
    job_name: str | None
    """The current phase's Job (None: the phase runs none)."""
    actions: list[Action] = field(default_factory=list)
    events: list[EmitEvent] = field(default_factory=list)
    blocked: Block | None = None

    def __post_init__(self) -> None:
        obs = self.obs
        self.now = whole_seconds(obs.now)
        self.me = owner_id(obs.namespace, obs.name)
        self.conditions: list[Condition] = list(obs.status.conditions)
        self.jobs: list[JobRecord] = list(obs.status.jobs)
        # The dual-write epoch follows the ConfigMap: none while the app is not writing to both
        # stores; "now" when it is but status lost the start (a crash before the status write),
        # which is later than the truth and so only ever stricter.
        dual = obs.config_map.value in DUAL_WRITING_MODES
        self.epoch = (obs.status.mode.dual_write_since or self.now) if dual else None
        self.mode: ModeStatus = obs.status.mode.model_copy(update={"dual_write_since": self.epoch})
        self.switch = obs.status.switch
        """status.switch as the plan leaves it (the gradual switch's walk)."""
        self.switch_walk: Walk | None = None
        """The walk switch planned before applying its mode (phases/gradual_switch.py)."""
        self.state: State = "Running"
        self.message = ""
        self.ready_reason = reasons.NOT_STARTED
        self.observed_jobs = {j.name: j for j in obs.jobs}
        template = obs.spec.job_template
        self.job_account = job_account_name(obs.name)
        self.job_image = template.image or obs.job_policy.default_image
        self.job_service_account = template.service_account_name or self.job_account

    # -- conditions and state ------------------------------------------------------------------

    def condition(
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

    def set_state(self, state: State, reason: str, message: str) -> None:
        # status.message and history messages are bounded (maxLength 1024) by the CRD.
        self.state, self.ready_reason, self.message = state, reason, message[:1024]

    def progressing(self, state: State, reason: str, message: str) -> None:
        self.condition(self.done_condition, "False", reason, message)
        self.set_state(state, reason, message)

    def waiting_for_rollout(self) -> None:
        waiting = [
            f"{w.ref.kind} {w.ref.name}"
            + (
                f" (pods of the old mode left: {', '.join(w.pods_in_other_modes)})"
                if w.pods_in_other_modes
                else ""
            )
            for w in self.obs.workloads
            if w.exists and (w.stamped_mode != self.mode.desired or not w.rollout_complete)
        ]
        self.progressing(
            "Running",
            reasons.WAITING_FOR_ROLLOUT,
            f"mode {self.mode.desired} written; waiting for rollout of {', '.join(waiting)}",
        )

    def done(self, reason: str, message: str) -> None:
        self.condition(self.done_condition, "True", reason, message)
        self.set_state("Succeeded", reasons.PHASE_COMPLETE, message)

    def block(self, reason: str, message: str) -> None:
        self.set_state("Blocked", reason, message)
        self.blocked = Block(reason, message)

    def event(self, type_: EventType, reason: str, message: str) -> None:
        self.events.append(EmitEvent(type_, reason, message))

    # -- the app's mode ------------------------------------------------------------------------

    def apply_mode(self, mode: Mode, read_percent: int = 0) -> bool:
        """Patches ConfigMap and workloads as needed; True when the app runs in `mode`.

        `read_percent` is a gradual switch's share of reads from Weaviate (1..99, on
        dual_write): it goes into `<key>_read_percent` in the same patch; any other value
        removes that key, so no phase but switch leaves a share behind. A share alone does
        not roll the workloads: the app re-reads the file (the step's analysis counts only
        reads made under its share)."""
        app, cm = self.obs.spec.app, self.obs.config_map
        old = self.obs.status.mode
        changed_at = old.changed_at if old.desired == mode else None
        share = str(read_percent) if 0 < read_percent < 100 else None
        share_stale = cm.read_share != share
        if cm.value != mode or cm.owner != self.me or share_stale:
            claim = cm.owner != self.me
            self.actions.append(
                ApplyMode(
                    app.config_map_ref.name,
                    app.key,
                    mode,
                    cm.value,
                    claim=claim,
                    read_share_key=read_percent_key(app.key) if share_stale else None,
                    read_share=share,
                )
            )
        if cm.value != mode or cm.owner != self.me:
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
                self.event(
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

    # -- Jobs ----------------------------------------------------------------------------------

    def delete_jobs(self, jobs: Iterable[ObservedJob]) -> None:
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
        self.event("Normal", reasons.EVENT_JOBS_DELETED, f"deleted Jobs {', '.join(names)}")

    def record(self, name: str) -> JobRecord | None:
        return next((r for r in self.jobs if r.name == name), None)

    def job_to_create(self) -> bool:
        """The current phase's Job is neither observed nor recorded as ended."""
        if self.job_name is None or self.job_name in self.observed_jobs:
            return False
        record = self.record(self.job_name)
        return record is None or record.state in ACTIVE

    def job_state(self) -> JobState | None:
        if self.job_name is None:
            return None
        job = self.observed_jobs.get(self.job_name)
        if job is not None:
            return job.state
        record = self.record(self.job_name)
        return None if record is None else record.state
