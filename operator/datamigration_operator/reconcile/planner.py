"""The planner: observed state -> the ordered actions that move it toward spec.phase.

Level-based and deterministic: planning again after the actions took effect yields no change,
which makes crash recovery "observe and plan again". Status changes and events are derived from
the difference between the current and the planned status, so neither repeats.

The phase's handler (reconcile/phases) decides what to do; the planner keeps what every phase
shares: the conditions, the Job records, Ready, history and the transition events.
"""

from __future__ import annotations

from datamigration_operator.api import reasons
from datamigration_operator.api.model_base import whole_seconds
from datamigration_operator.api.reasons import ConditionStatus
from datamigration_operator.api.status import (
    MAX_HISTORY,
    MAX_JOB_RECORDS,
    DataMigrationStatus,
    HistoryEntry,
    JobRecord,
)
from datamigration_operator.reconcile.actions import Action, SetStatus
from datamigration_operator.reconcile.conditions import find_condition, stamp_generation
from datamigration_operator.reconcile.draft import ACTIVE, Draft
from datamigration_operator.reconcile.job_names import job_name
from datamigration_operator.reconcile.observed import Observation, ObservedJob
from datamigration_operator.reconcile.phases import PHASES, PhaseHandler
from datamigration_operator.reconcile.status_patch import status_patch


def plan(observation: Observation) -> list[Action]:
    """The actions to execute in order; empty (or just Block) when nothing is left to do."""
    handler, draft = begin(observation)
    handler.reconcile(draft)
    return finish(draft)


def begin(observation: Observation) -> tuple[PhaseHandler, Draft]:
    """The handler of spec.phase and the draft it writes into: every condition present, the
    Job records up to date with the observed Jobs."""
    obs = observation
    handler = PHASES[obs.spec.phase]
    generation = current_phase_generation(obs)
    draft = Draft(
        obs,
        done_condition=handler.done_condition,
        phase_generation=generation,
        job_name=(
            job_name(obs.name, obs.spec.phase, generation, obs.spec.rerun)
            if handler.job_kind is not None
            else None
        ),
    )
    _initialize_conditions(draft)
    _refresh_job_records(draft)
    return handler, draft


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


def _initialize_conditions(draft: Draft) -> None:
    for type_ in reasons.CONDITION_TYPES:
        if find_condition(draft.conditions, type_) is None:
            draft.condition(type_, "False", reasons.NOT_STARTED, "")


def _refresh_job_records(draft: Draft) -> None:
    """Copies observed Job states into status.jobs; an active record whose Job vanished
    (deleted by someone, or by TTL) is marked Deleted unless it is the current Job."""
    refreshed = []
    for record in draft.jobs:
        job = draft.observed_jobs.get(record.name)
        if job is not None:
            record = record.model_copy(update=_record_update(job))
        elif record.state in ACTIVE and record.name != draft.job_name:
            record = record.model_copy(update={"state": "Deleted", "finished_at": draft.now})
        refreshed.append(record)
    known = {r.name for r in refreshed}
    current = draft.observed_jobs.get(draft.job_name or "")
    if current is not None and current.name not in known:
        record = JobRecord(phase=current.phase, name=current.name, state=current.state)
        refreshed.append(record.model_copy(update=_record_update(current)))
    draft.jobs = refreshed


def finish(draft: Draft) -> list[Action]:
    """Ready, history and transition events from the draft, then the actions: the phase's,
    the status patch, the events, and Block last."""
    old, obs = draft.obs.status, draft.obs
    ready: ConditionStatus = "True" if draft.state == "Succeeded" else "False"
    draft.condition(reasons.READY, ready, draft.ready_reason, draft.message)
    history = list(old.history)
    changed = (old.phase, old.state, _ready_reason(old)) != (
        obs.spec.phase,
        draft.state,
        draft.ready_reason,
    )
    if changed:
        history.append(
            HistoryEntry(
                phase=obs.spec.phase, at=draft.now, result=draft.state, message=draft.message
            )
        )
        _transition_events(draft)
    if old.mode.config_map != draft.mode.config_map and draft.mode.config_map is not None:
        # The mode the status last recorded; on the first claim, what the ConfigMap held.
        before = old.mode.config_map or obs.config_map.value
        change = (
            f"{before} (unchanged, now managed)"
            if before == draft.mode.config_map
            else f"{before or 'unset'} -> {draft.mode.config_map}"
        )
        draft.event(
            "Normal",
            reasons.EVENT_MODE_CHANGED,
            f"ConfigMap {obs.spec.app.config_map_ref.name} {obs.spec.app.key}: {change}",
        )
    new = old.model_copy(
        update={
            "observed_generation": obs.generation,
            "phase": obs.spec.phase,
            "phase_generation": draft.phase_generation,
            "state": draft.state,
            "message": draft.message,
            "mode": draft.mode,
            "conditions": stamp_generation(draft.conditions, obs.generation),
            "jobs": draft.jobs[-MAX_JOB_RECORDS:],
            "switch": draft.switch,
            "history": history[-MAX_HISTORY:],
        }
    )
    patch = status_patch(old, new)
    actions = list(draft.actions)
    if patch:
        actions.append(SetStatus(patch))
    actions.extend(draft.events)
    if draft.blocked is not None:
        actions.append(draft.blocked)
    return actions


def _transition_events(draft: Draft) -> None:
    old, phase = draft.obs.status, draft.obs.spec.phase
    if old.phase != phase:
        was = f" (was {old.phase})" if old.phase else ""
        draft.event("Normal", reasons.EVENT_PHASE_STARTED, f"phase {phase} started{was}")
    if draft.state in ("Blocked", "Failed") or draft.ready_reason == reasons.OUTBOX_BEHIND:
        draft.event("Warning", draft.ready_reason, draft.message)
    elif draft.state == "Succeeded":
        draft.event("Normal", reasons.EVENT_PHASE_SUCCEEDED, f"phase {phase}: {draft.message}")


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
