"""Properties of the planner over arbitrary observed states."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datamigration_operator.api.durations import parse_duration
from datamigration_operator.api.phases import MODES, PHASES
from datamigration_operator.api.reasons import CONDITION_TYPES
from datamigration_operator.api.spec import WorkloadRef
from datamigration_operator.api.status import (
    DataMigrationStatus,
    JobRecord,
    ModeStatus,
    ValidationReport,
)
from datamigration_operator.reconcile.actions import (
    MUTATING,
    ApplyMode,
    Block,
    CreateJob,
    DeleteJobs,
    SetStatus,
    StampWorkloads,
)
from datamigration_operator.reconcile.conditions import set_condition
from datamigration_operator.reconcile.job_names import job_name
from datamigration_operator.reconcile.observed import (
    Observation,
    ObservedConfigMap,
    ObservedJob,
    ObservedWorkload,
)
from datamigration_operator.reconcile.planner import current_phase_generation, plan
from datamigration_operator.reconcile.validation import validation_issuer, validation_verdict
from tests.unit.reconcile.scenario import ME, NAME, NOW, apply, observation

WEB = WorkloadRef(kind="Deployment", name="web")
offsets = st.integers(min_value=-3 * 3600, max_value=0).map(lambda s: NOW + timedelta(seconds=s))


@st.composite
def statuses(draw: st.DrawFn, phase_generation: int) -> DataMigrationStatus:
    conditions: list[Any] = []
    for type_ in draw(st.lists(st.sampled_from(CONDITION_TYPES), unique=True)):
        conditions = set_condition(
            conditions,
            type_,
            draw(st.sampled_from(["True", "False"])),
            "Seeded",
            "",
            now=draw(offsets),
            generation=1,
        )
    finished = draw(st.none() | offsets)
    report = draw(
        st.none()
        | st.builds(
            ValidationReport,
            job=st.sampled_from([None, "shop-validate-old", *_job_names(phase_generation)]),
            finished_at=st.just(finished),
            checked=st.integers(0, 10),
            missing=st.integers(0, 2),
            mismatched=st.integers(0, 2),
        )
    )
    records = [
        JobRecord(phase=p, name=job_name(NAME, p, phase_generation, 0), state=s)
        for p, s in draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["migrate", "dual-write", "validate"]),
                    st.sampled_from(["Pending", "Running", "Succeeded", "Failed", "Deleted"]),
                ),
                unique_by=lambda t: t[0],
                max_size=3,
            )
        )
    ]
    return DataMigrationStatus(
        observed_generation=draw(st.none() | st.integers(1, phase_generation)),
        phase=draw(st.none() | st.sampled_from(PHASES)),
        phase_generation=draw(st.none() | st.just(phase_generation)),
        mode=ModeStatus(
            config_map=draw(st.none() | st.sampled_from(MODES)),
            dual_write_since=draw(st.none() | offsets),
        ),
        conditions=conditions,
        validation=report,
        jobs=records,
    )


def _job_names(generation: int) -> list[str]:
    return [job_name(NAME, p, generation, 0) for p in ("migrate", "dual-write", "validate")]


@st.composite
def observations(draw: st.DrawFn) -> Observation:
    generation = draw(st.integers(1, 4))
    phase = draw(st.sampled_from(PHASES))
    with_web = draw(st.booleans())
    spec: dict[str, Any] = {
        "validation": {
            "maxAge": draw(st.sampled_from(["30m", "1h", "2h"])),
            "maxMismatches": draw(st.integers(0, 2)),
        }
    }
    if with_web:
        spec["app"] = {
            "configMapRef": {"name": "shop-config"},
            "workloads": [{"kind": "Deployment", "name": "web"}],
        }
    workloads = (
        (
            ObservedWorkload(
                ref=WEB,
                exists=draw(st.booleans()),
                stamped_mode=draw(st.none() | st.sampled_from(MODES)),
                rollout_complete=draw(st.booleans()),
            ),
        )
        if with_web
        else ()
    )
    config_map = ObservedConfigMap(
        exists=draw(st.booleans() | st.just(True)),
        value=draw(st.none() | st.sampled_from([*MODES, "bogus"])),
        owner=draw(st.sampled_from([None, ME, ME, "apps/other"])),
    )
    jobs = tuple(
        ObservedJob(name, p, state, generation)
        for name, p, state in draw(
            st.lists(
                st.tuples(
                    st.sampled_from(_job_names(generation)),
                    st.sampled_from(["migrate", "dual-write", "validate"]),
                    st.sampled_from(["Pending", "Running", "Succeeded", "Failed"]),
                ),
                unique_by=lambda t: t[0],
                max_size=3,
            )
        )
    )
    obs = observation(
        phase,
        generation=generation,
        status=draw(statuses(generation)),
        config_map=config_map,
        jobs=jobs,
        workloads=workloads,
        **spec,
    )
    if draw(st.booleans()):
        obs = dataclasses.replace(obs, secrets={})
    return obs


def _fresh_passing_validation(obs: Observation) -> bool:
    report = obs.status.validation
    epoch, policy = obs.status.mode.dual_write_since, obs.spec.validation
    verdict = validation_verdict(report, epoch, policy, validation_issuer(obs))
    if not verdict.passed or report is None or report.finished_at is None:
        return False
    return obs.now - report.finished_at <= parse_duration(obs.spec.validation.max_age)


def _wants_weaviate_primary(obs: Observation) -> bool:
    for action in plan(obs):
        if isinstance(action, (ApplyMode, StampWorkloads)) and action.mode == "weaviate_primary":
            return True
        if isinstance(action, SetStatus):
            mode = action.patch.get("mode") or {}
            if mode.get("desired") == "weaviate_primary":
                return True
    return False


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(observations())
def test_weaviate_primary_is_never_desired_without_a_fresh_passing_validation(
    obs: Observation,
) -> None:
    already_switched = obs.config_map.value == "weaviate_primary" and obs.config_map.owner == ME
    if obs.status.mode.desired == "weaviate_primary" or already_switched:
        return  # the switch already happened; keeping it is not a new decision
    if _wants_weaviate_primary(obs):
        assert obs.spec.phase == "switch"
        assert _fresh_passing_validation(obs)


@SETTINGS
@given(observations())
def test_rollback_applies_sqlite_only_first_and_never_starts_a_job(obs: Observation) -> None:
    obs = dataclasses.replace(obs, spec=obs.spec.model_copy(update={"phase": "rollback"}))
    actions = plan(obs)
    assert not any(isinstance(a, CreateJob) for a in actions)
    changes = [a for a in actions if isinstance(a, (ApplyMode, StampWorkloads, DeleteJobs))]
    cm = obs.config_map
    can_touch = (
        cm.exists and cm.owner in (None, ME) and (cm.value in (None, *MODES) or cm.owner == ME)
    )
    if can_touch and (cm.value != "sqlite_only" or cm.owner != ME):
        claim = cm.owner != ME
        assert actions[0] == ApplyMode(
            "shop-config", "migration_mode", "sqlite_only", cm.value, claim=claim
        )
    elif changes:
        assert not any(isinstance(a, ApplyMode) for a in actions)
    active = {j.name for j in obs.jobs if j.active}
    deleted = {n for a in actions if isinstance(a, DeleteJobs) for n in a.names}
    assert deleted == active


@SETTINGS
@given(observations())
def test_planning_again_after_the_actions_took_effect_has_nothing_left_to_do(
    obs: Observation,
) -> None:
    after = apply(obs, plan(obs))  # stamped workloads are still rolling out
    leftover = [a for a in plan(after) if isinstance(a, MUTATING)]
    assert leftover == []


@SETTINGS
@given(observations())
def test_planning_settles_within_three_rounds_when_rollouts_finish(obs: Observation) -> None:
    for _ in range(3):
        obs = apply(obs, plan(obs), rollouts_finish=True)
    assert [a for a in plan(obs) if isinstance(a, MUTATING)] == []


@SETTINGS
@given(observations())
def test_blocked_plans_change_nothing_but_status(obs: Observation) -> None:
    actions = plan(obs)
    if obs.spec.phase != "rollback" and any(isinstance(a, Block) for a in actions):
        assert not any(
            isinstance(a, (ApplyMode, StampWorkloads, CreateJob, DeleteJobs)) for a in actions
        )
        assert isinstance(actions[-1], Block)


@SETTINGS
@given(observations())
def test_at_most_one_job_per_phase_run(obs: Observation) -> None:
    creates = [a for a in plan(obs) if isinstance(a, CreateJob)]
    assert len(creates) <= 1
    for create in creates:
        assert create.generation == current_phase_generation(obs)
        assert create.name not in {j.name for j in obs.jobs}
