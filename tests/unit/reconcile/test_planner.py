"""The planner against each phase and the observed states that matter for it."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from datamigration_operator.api import reasons
from datamigration_operator.api.spec import DataMigrationSpec, WorkloadRef
from datamigration_operator.api.status import OutboxStatus, ValidationReport
from datamigration_operator.reconcile.actions import (
    MUTATING,
    Action,
    ApplyMode,
    Block,
    CreateJob,
    DeleteJobs,
    EmitEvent,
    SetStatus,
    StampWorkloads,
)
from datamigration_operator.reconcile.conditions import find_condition
from datamigration_operator.reconcile.job_names import job_name
from datamigration_operator.reconcile.observed import (
    Observation,
    ObservedClaim,
    ObservedConfigMap,
    ObservedJob,
    ObservedWorkload,
)
from datamigration_operator.reconcile.planner import plan
from tests.unit.reconcile.scenario import (
    ME,
    NAME,
    apply,
    job_uid,
    later,
    observation,
    spec_dict,
    with_job_state,
)


def of(actions: list[Action], kind: type) -> list[Any]:
    return [a for a in actions if isinstance(a, kind)]


def warnings(actions: list[Action]) -> list[EmitEvent]:
    return [e for e in of(actions, EmitEvent) if e.type == "Warning"]


def step(obs: Observation, **kwargs: Any) -> tuple[Observation, list[Action]]:
    actions = plan(obs)
    return apply(obs, actions, **kwargs), actions


def condition(obs: Observation, type_: str) -> tuple[str, str]:
    found = find_condition(obs.status.conditions, type_)  # type: ignore[arg-type]
    assert found is not None
    return found.status, found.reason


def finish_jobs(obs: Observation, state: str = "Succeeded") -> Observation:
    jobs = tuple(dataclasses.replace(j, state=state) if j.active else j for j in obs.jobs)
    return dataclasses.replace(obs, jobs=jobs)


def to_phase(obs: Observation, phase: str, **spec_changes: Any) -> Observation:
    spec = DataMigrationSpec.model_validate(
        {**obs.spec.model_dump(by_alias=True, exclude_none=True), "phase": phase, **spec_changes}
    )
    return dataclasses.replace(obs, spec=spec, generation=obs.generation + 1)


def report(obs: Observation, *, job: str | None, age: float = 60, diffs: int = 0) -> Observation:
    finished = obs.now - timedelta(seconds=age)
    validation = ValidationReport(
        job=job,
        job_uid=None if job is None else job_uid(job),
        started_at=finished - timedelta(seconds=30),
        finished_at=finished,
        checked=100,
        mismatched=diffs,
        passed=diffs == 0,
    )
    return dataclasses.replace(obs, status=obs.status.model_copy(update={"validation": validation}))


def migrated(obs: Observation | None = None) -> Observation:
    """A migration whose copy Job succeeded."""
    obs, _ = step(obs or observation("migrate"))
    obs, _ = step(finish_jobs(obs))
    assert obs.status.state == "Succeeded"
    return obs


def dual_writing() -> Observation:
    obs, _ = step(later(to_phase(migrated(), "dual-write"), 10))
    obs, _ = step(finish_jobs(obs))
    assert obs.status.state == "Succeeded"
    return obs


def validated() -> Observation:
    obs, _ = step(later(to_phase(dual_writing(), "validate"), 10))
    current = obs.jobs[-1].name
    obs = report(later(finish_jobs(obs), 60), job=current, age=5)
    obs, _ = step(obs)
    assert obs.status.state == "Succeeded"
    return obs


# -- migrate ----------------------------------------------------------------------------------


def test_migrate_claims_the_configmap_then_creates_one_copy_job() -> None:
    obs = observation("migrate")
    actions = plan(obs)
    # the claim: the value before (absent) is recorded for deletion to restore
    assert actions[0] == ApplyMode("shop-config", "migration_mode", "sqlite_only", None, claim=True)
    (create,) = of(actions, CreateJob)
    assert create.kind == "copy"
    assert create.name == job_name(NAME, "migrate", 1, 0)
    assert {e.reason for e in of(actions, EmitEvent)} >= {"PhaseStarted", "JobCreated"}
    after = apply(obs, actions)
    assert after.status.state == "Pending"
    assert condition(after, "Migrated") == ("False", "JobPending")
    assert not [a for a in plan(after) if isinstance(a, MUTATING)]


def test_migrate_succeeds_when_the_copy_job_succeeds() -> None:
    obs = migrated()
    assert condition(obs, "Migrated") == ("True", "JobSucceeded")
    assert condition(obs, "Ready") == ("True", "PhaseComplete")
    assert obs.status.mode.applied == "sqlite_only"


def test_failed_copy_job_fails_the_phase_and_rerun_starts_a_new_job() -> None:
    obs, _ = step(observation("migrate"))
    first = obs.jobs[0].name
    obs = with_job_state(obs, first, "Failed", "PodFailurePolicy: exit code 42")
    obs, actions = step(obs)
    assert obs.status.state == "Failed"
    assert "exit code 42" in (obs.status.message or "")
    assert [e.reason for e in warnings(actions)] == ["JobFailed"]
    assert condition(obs, "Migrated") == ("False", "JobFailed")
    obs, actions = step(to_phase(obs, "migrate", rerun=1))
    (create,) = of(actions, CreateJob)
    assert create.name != first
    assert obs.status.state == "Pending"


def test_job_deleted_by_someone_while_running_is_created_again_with_the_same_name() -> None:
    obs, _ = step(observation("migrate"))
    name = obs.jobs[0].name
    obs = dataclasses.replace(obs, jobs=())
    (create,) = of(plan(obs), CreateJob)
    assert create.name == name


def test_crash_between_job_creation_and_status_write_yields_one_job() -> None:
    obs = observation("migrate")
    actions = plan(obs)
    only_the_job = [a for a in actions if isinstance(a, (ApplyMode, CreateJob))]
    crashed = apply(obs, only_the_job)  # status never written
    assert not of(plan(crashed), CreateJob)
    # Even when the spec was edited meanwhile (new generation), the Job is adopted.
    edited = dataclasses.replace(crashed, generation=2)
    assert not of(plan(edited), CreateJob)


def test_readwriteonce_claim_pins_the_job_to_the_node_of_the_app_pod() -> None:
    obs = dataclasses.replace(
        observation("migrate"), claim=ObservedClaim(read_write_once=True, node_name="node-7")
    )
    (create,) = of(plan(obs), CreateJob)
    assert create.node_name == "node-7"


# -- inputs -----------------------------------------------------------------------------------


def blocked_by(obs: Observation) -> Block:
    actions = plan(obs)
    assert not of(actions, ApplyMode)
    assert not of(actions, CreateJob)
    assert not of(actions, StampWorkloads)
    assert not of(actions, DeleteJobs)
    (block,) = of(actions, Block)
    assert actions[-1] == block
    (warning,) = warnings(actions)
    assert warning.reason == block.reason
    after = apply(obs, actions)
    assert after.status.state == "Blocked"
    assert condition(after, "Ready") == ("False", block.reason)
    again = plan(after)
    assert not [a for a in again if isinstance(a, MUTATING)], "one Warning event, not one per plan"
    return block


def test_missing_configmap_blocks() -> None:
    block = blocked_by(observation("migrate", config_map=ObservedConfigMap(exists=False)))
    assert block.reason == "ConfigMapNotFound"
    assert "shop-config" in block.message


def test_configmap_owned_by_another_datamigration_blocks() -> None:
    cm = ObservedConfigMap(exists=True, value="dual_write", owner="apps/other")
    block = blocked_by(observation("migrate", config_map=cm))
    assert block.reason == "ConfigMapOwnedByOther"
    assert "apps/other" in block.message


def test_configmap_with_an_unknown_value_blocks_until_fixed() -> None:
    cm = ObservedConfigMap(exists=True, value="postgres_only")
    block = blocked_by(observation("migrate", config_map=cm))
    assert block.reason == "ConfigMapUnknownMode"
    assert "postgres_only" in block.message
    fixed = dataclasses.replace(observation("migrate"), config_map=ObservedConfigMap(exists=True))
    assert of(plan(fixed), CreateJob)


def test_missing_workload_blocks() -> None:
    missing = ObservedWorkload(ref=_web(), exists=False)
    block = blocked_by(observation("migrate", workloads=(missing,), app=_app_with_web()))
    assert block.reason == "WorkloadNotFound"
    assert "Deployment web" in block.message


def test_missing_secret_key_or_claim_blocks_before_the_job() -> None:
    obs = dataclasses.replace(observation("migrate"), secrets={})
    assert blocked_by(obs).reason == "SecretNotFound"
    obs = dataclasses.replace(observation("migrate"), secrets={"weaviate-auth": frozenset()})
    assert "has no key api-key" in blocked_by(obs).message
    obs = dataclasses.replace(observation("migrate"), claim=None)
    assert blocked_by(obs).reason == "ClaimNotFound"


def test_the_scratch_volume_is_limited_to_twice_the_claim_and_a_gibibyte() -> None:
    claim = ObservedClaim(read_write_once=False, capacity=2 * 2**30)
    planned = plan(dataclasses.replace(observation("migrate"), claim=claim))
    created = [a for a in planned if isinstance(a, CreateJob)]
    assert [a.scratch_size_limit for a in created] == ["5120Mi"]
    unknown = ObservedClaim(read_write_once=False)
    planned = plan(dataclasses.replace(observation("migrate"), claim=unknown))
    assert [a.scratch_size_limit for a in planned if isinstance(a, CreateJob)] == [None]


def test_a_secret_the_operator_may_not_read_does_not_block_the_job() -> None:
    obs = dataclasses.replace(observation("migrate"), secrets={"weaviate-auth": None})
    assert any(isinstance(action, CreateJob) for action in plan(obs))


# -- dual-write -------------------------------------------------------------------------------


def test_dual_write_before_migrated_is_blocked() -> None:
    obs, _ = step(observation("migrate"))
    assert blocked_by(to_phase(obs, "dual-write")).reason == "MigrationRequired"


def test_dual_write_requested_during_the_copy_proceeds_once_the_copy_succeeds() -> None:
    obs, _ = step(observation("migrate"))
    obs, actions = step(to_phase(obs, "dual-write"))
    assert obs.status.state == "Blocked"
    assert not of(actions, DeleteJobs), "a blocked phase leaves the copy Job running"
    obs, actions = step(finish_jobs(obs))
    assert actions[0] == ApplyMode("shop-config", "migration_mode", "dual_write", "sqlite_only")
    assert condition(obs, "Migrated") == ("True", "JobSucceeded")
    assert of(actions, CreateJob)[0].kind == "sync"


def test_validate_requested_during_the_sync_proceeds_once_the_sync_succeeds() -> None:
    obs, _ = step(later(to_phase(migrated(), "dual-write"), 10))
    obs, _ = step(to_phase(obs, "validate"))
    assert obs.status.state == "Blocked"
    obs, actions = step(finish_jobs(obs))
    assert of(actions, CreateJob)[0].kind == "validate"


def test_a_sync_from_before_a_rollback_does_not_open_validate() -> None:
    obs, _ = step(later(to_phase(dual_writing(), "rollback"), 10))
    illegal = to_phase(obs, "validate")  # the CRD refuses this jump; the operator holds too
    assert blocked_by(illegal).reason == "DualWriteRequired"


def test_dual_write_applies_the_mode_starts_the_epoch_then_syncs() -> None:
    obs = later(to_phase(migrated(), "dual-write"), 10)
    actions = plan(obs)
    assert actions[0] == ApplyMode("shop-config", "migration_mode", "dual_write", "sqlite_only")
    (create,) = of(actions, CreateJob)
    assert create.kind == "sync"
    obs = apply(obs, actions)
    assert obs.status.mode.dual_write_since == obs.now
    assert obs.status.mode.applied == "dual_write"
    obs, _ = step(finish_jobs(obs))
    assert condition(obs, "DualWriteReady") == ("True", "JobSucceeded")


def test_dual_write_waits_for_workload_rollouts_before_the_sync_job() -> None:
    web = ObservedWorkload(
        ref=_web(), exists=True, stamped_mode="sqlite_only", rollout_complete=True
    )
    obs = migrated(observation("migrate", workloads=(web,), app=_app_with_web()))
    obs = later(to_phase(obs, "dual-write"), 10)
    obs, actions = step(obs)
    assert of(actions, StampWorkloads) == [StampWorkloads("dual_write", (_web(),))]
    assert not of(actions, CreateJob)
    assert obs.status.mode.config_map == "dual_write"
    assert obs.status.mode.applied == "sqlite_only"
    assert condition(obs, "DualWriteReady") == ("False", "WaitingForRollout")
    rolled = dataclasses.replace(obs.workloads[0], rollout_complete=True)
    obs, actions = step(dataclasses.replace(obs, workloads=(rolled,)))
    assert of(actions, CreateJob)
    assert obs.status.mode.applied == "dual_write"


def test_status_times_the_configmap_flip_and_the_rollout_acknowledgement() -> None:
    web = ObservedWorkload(
        ref=_web(), exists=True, stamped_mode="sqlite_only", rollout_complete=True
    )
    obs = migrated(observation("migrate", workloads=(web,), app=_app_with_web()))
    obs, _ = step(later(to_phase(obs, "dual-write"), 10))
    obs, _ = step(
        later(
            dataclasses.replace(
                obs, workloads=(dataclasses.replace(obs.workloads[0], rollout_complete=True),)
            ),
            2,
        )
    )
    patched = later(to_phase(obs, "rollback"), 30.25)
    obs, actions = step(patched)
    assert of(actions, ApplyMode)
    assert obs.status.mode.changed_at == patched.now  # sub-second precision, not whole seconds
    assert obs.status.mode.applied_at is None
    assert obs.status.mode.applied == "dual_write"
    acked = later(
        dataclasses.replace(
            obs, workloads=(dataclasses.replace(obs.workloads[0], rollout_complete=True),)
        ),
        1.5,
    )
    obs, actions = step(acked)
    assert obs.status.mode.applied == "sqlite_only"
    assert obs.status.mode.applied_at == acked.now
    (event,) = [e for e in of(actions, EmitEvent) if e.reason == "ModeApplied"]
    assert "runs sqlite_only, 1.50 s after the ConfigMap changed" in event.message
    again, actions = step(later(obs, 5))
    assert again.status.mode.applied_at == acked.now, "the acknowledgement time stays"
    assert not [e for e in of(actions, EmitEvent) if e.reason == "ModeApplied"]
    unready = dataclasses.replace(
        again, workloads=(dataclasses.replace(again.workloads[0], rollout_complete=False),)
    )
    flapped, _ = step(later(unready, 1))  # a pod's probe fails for a moment
    back = dataclasses.replace(
        flapped, workloads=(dataclasses.replace(flapped.workloads[0], rollout_complete=True),)
    )
    settled, actions = step(later(back, 1))
    assert settled.status.mode.applied_at == acked.now
    assert not [e for e in of(actions, EmitEvent) if e.reason == "ModeApplied"], (
        "announced once per mode change"
    )


# -- validate ---------------------------------------------------------------------------------


def test_validate_before_dual_write_ready_is_blocked() -> None:
    assert blocked_by(to_phase(migrated(), "validate")).reason == "DualWriteRequired"


def test_validate_passes_only_on_its_own_report() -> None:
    obs, actions = step(later(to_phase(dual_writing(), "validate"), 10))
    (create,) = of(actions, CreateJob)
    assert create.kind == "validate"
    assert not of(actions, ApplyMode), "dual_write is already in place"
    stale = report(later(finish_jobs(obs), 60), job="someone-else", age=1)
    obs2, _ = step(stale)
    assert condition(obs2, "Validated") == ("False", "JobFailed")
    good = report(later(finish_jobs(obs), 60), job=create.name, age=1)
    obs3, actions = step(good)
    assert condition(obs3, "Validated") == ("True", "ValidationPassed")
    assert obs3.status.state == "Succeeded"


def test_validation_with_differences_fails_unless_within_max_mismatches() -> None:
    obs, actions = step(later(to_phase(dual_writing(), "validate"), 10))
    name = of(actions, CreateJob)[0].name
    bad = report(later(finish_jobs(obs, "Failed"), 60), job=name, age=1, diffs=3)
    after, actions = step(bad)
    assert after.status.state == "Failed"
    assert condition(after, "Validated") == ("False", "ValidationMismatch")
    assert "3 differences" in (after.status.message or "")
    assert [e.reason for e in warnings(actions)] == ["ValidationMismatch"]
    tolerant = to_phase(bad, "validate", validation={"maxMismatches": 3})
    after, _ = step(tolerant)
    assert condition(after, "Validated") == ("True", "ValidationPassed")


def test_validate_says_in_status_and_an_event_that_it_waits_for_the_apps_outbox() -> None:
    obs, actions = step(later(to_phase(dual_writing(), "validate"), 10))
    name = of(actions, CreateJob)[0].name
    running = dataclasses.replace(
        obs, jobs=tuple(dataclasses.replace(j, state="Running") for j in obs.jobs)
    )
    waits = "waits for the app's dual-write outbox to drain: 225 entries, the oldest 12 s old"
    outbox = OutboxStatus(job=name, depth=225, oldest_age_seconds=12, waiting=waits)
    behind = dataclasses.replace(
        running, status=running.status.model_copy(update={"outbox": outbox})
    )
    after, actions = step(behind)
    assert after.status.state == "Running"
    assert condition(after, "Validated")[1] == "OutboxBehind"
    assert waits in (after.status.message or "")
    assert [e.reason for e in warnings(actions)] == ["OutboxBehind"]
    _, again = step(after)
    assert not warnings(again), "the Warning is emitted once, not at every reconcile"
    caught_up = dataclasses.replace(
        after,
        status=after.status.model_copy(
            update={"outbox": outbox.model_copy(update={"depth": 0, "waiting": None})}
        ),
    )
    resumed, _ = step(caught_up)
    assert condition(resumed, "Validated")[1] == "JobRunning"


def test_an_inconclusive_validation_fails_the_phase_with_outbox_not_draining() -> None:
    obs, actions = step(later(to_phase(dual_writing(), "validate"), 10))
    name = of(actions, CreateJob)[0].name
    finished = later(finish_jobs(obs), 60)
    validation = ValidationReport(
        job=name,
        job_uid=job_uid(name),
        started_at=finished.now - timedelta(seconds=130),
        finished_at=finished.now - timedelta(seconds=1),
        passed=False,
        reason="OutboxNotDraining",
        message="validation did not start: waited 120 s for the app's dual-write outbox",
    )
    inconclusive = dataclasses.replace(
        finished, status=finished.status.model_copy(update={"validation": validation})
    )
    after, actions = step(inconclusive)
    assert after.status.state == "Failed"
    assert condition(after, "Validated") == ("False", "OutboxNotDraining")
    assert "waited 120 s" in (after.status.message or "")
    assert "missing" not in (after.status.message or "")
    assert [e.reason for e in warnings(actions)] == ["OutboxNotDraining"]


# -- switch -----------------------------------------------------------------------------------


def test_switch_without_a_passing_validation_is_blocked_then_proceeds_by_itself() -> None:
    obs, actions = step(later(to_phase(dual_writing(), "validate"), 10))
    name = of(actions, CreateJob)[0].name
    early = to_phase(obs, "switch")  # the validate Job is still running
    assert blocked_by(early).reason == "ValidationRequired"
    obs, _ = step(early)
    assert obs.config_map.value == "dual_write"
    passed = report(later(finish_jobs(obs), 120), job=name, age=1)
    obs, actions = step(passed)
    assert actions[0] == ApplyMode(
        "shop-config", "migration_mode", "weaviate_primary", "dual_write"
    )
    assert obs.status.state == "Succeeded"
    assert condition(obs, "ReadsSwitched") == ("True", "ModeApplied")


def test_switch_refuses_a_validation_older_than_max_age() -> None:
    obs = later(to_phase(validated(), "switch"), 3600)
    block = blocked_by(obs)
    assert block.reason == "ValidationStale"
    assert "maxAge 1h" in block.message
    fresh_enough = to_phase(obs, "switch", validation={"maxAge": "2h"})
    assert of(plan(fresh_enough), ApplyMode)


def test_switch_refuses_a_validation_from_before_the_dual_write_epoch() -> None:
    obs = validated()
    epoch = obs.status.mode.dual_write_since
    assert epoch is not None
    moved = obs.status.mode.model_copy(update={"dual_write_since": epoch + timedelta(days=1)})
    obs = dataclasses.replace(obs, status=obs.status.model_copy(update={"mode": moved}))
    obs = dataclasses.replace(to_phase(obs, "switch"), now=epoch + timedelta(days=1, minutes=5))
    block = blocked_by(obs)
    assert block.reason == "ValidationStale"
    assert "before the current dual-write epoch" in block.message


def with_outbox(obs: Observation, **look: Any) -> Observation:
    """status.outbox as the validate Job publishes it after its verdict."""
    fields: dict[str, Any] = {"job": "shop-validate", "observed_at": obs.now, **look}
    status = obs.status.model_copy(update={"outbox": OutboxStatus(**fields)})
    return dataclasses.replace(obs, status=status)


def test_a_stopped_drainer_blocks_switch_until_a_look_finds_it_draining_again() -> None:
    obs = validated()
    assert condition(obs, "RollbackReady") == ("Unknown", "RollbackPathUnobserved")
    stopped = with_outbox(obs, lease_expires_at=obs.now - timedelta(seconds=3))
    obs = to_phase(stopped, "switch")
    block = blocked_by(obs)
    assert block.reason == "DrainerNotRunning"
    assert "switch refused: rollback is not ready" in block.message
    obs, _ = step(obs)
    assert condition(obs, "RollbackReady") == ("False", "DrainerNotRunning")
    assert condition(obs, "Validated")[0] == "True"
    obs, actions = step(later(obs, 30))  # still stopped: no second Warning, nothing changes
    assert not warnings(actions)
    assert not [a for a in actions if isinstance(a, MUTATING)]
    draining = with_outbox(
        later(obs, 30), lease_holder="web-1/7/ab", lease_expires_at=obs.now + timedelta(seconds=40)
    )
    obs, actions = step(draining)
    assert of(actions, ApplyMode)
    assert obs.status.state == "Succeeded"
    # no workloads listed: what cannot be seen stays Unknown, and says so
    assert condition(obs, "RollbackReady") == ("Unknown", "RollbackPathUnobserved")


def test_rollback_readiness_is_evaluated_from_dual_write_on_and_reset_by_rollback() -> None:
    obs = migrated()
    assert condition(obs, "RollbackReady") == ("False", "NotStarted")
    obs = dual_writing()
    assert condition(obs, "RollbackReady") == ("False", "OutboxNotObserved")
    obs, _ = step(with_outbox(later(obs, 5), lease_holder="web-1/7/ab"))
    assert condition(obs, "RollbackReady") == ("Unknown", "RollbackPathUnobserved")
    obs, _ = step(to_phase(obs, "rollback"))
    assert condition(obs, "RollbackReady") == ("False", "RolledBack")


def test_switched_reads_stay_switched_when_the_validation_ages() -> None:
    obs, _ = step(to_phase(validated(), "switch"))
    assert obs.status.state == "Succeeded"
    aged = later(obs, 7200)
    assert not [a for a in plan(aged) if isinstance(a, MUTATING)]


# -- rollback ---------------------------------------------------------------------------------


def test_rollback_applies_sqlite_only_first_then_deletes_running_jobs() -> None:
    obs, actions = step(later(to_phase(dual_writing(), "validate"), 10))
    running = of(actions, CreateJob)[0].name
    obs = to_phase(obs, "rollback")
    actions = plan(obs)
    assert actions[0] == ApplyMode("shop-config", "migration_mode", "sqlite_only", "dual_write")
    assert of(actions, DeleteJobs) == [DeleteJobs((running,))]
    obs = apply(obs, actions)
    assert obs.status.state == "Succeeded"
    assert condition(obs, "RolledBack") == ("True", "ModeApplied")
    for type_ in ("DualWriteReady", "Validated", "ReadsSwitched"):
        assert condition(obs, type_) == ("False", "RolledBack")
    assert condition(obs, "Migrated")[0] == "True", "rollback -> dual-write needs no new copy"
    assert obs.status.mode.dual_write_since is None
    assert [j.state for j in obs.status.jobs if j.name == running] == ["Deleted"]


def test_rollback_never_touches_a_configmap_another_migration_owns() -> None:
    cm = ObservedConfigMap(exists=True, value="dual_write", owner="apps/other")
    job = ObservedJob("shop-validate-x", "validate", "Running", 3)
    actions = plan(observation("rollback", config_map=cm, jobs=(job,)))
    assert not of(actions, ApplyMode)
    assert of(actions, DeleteJobs) == [DeleteJobs(("shop-validate-x",))]
    assert of(actions, Block)[0].reason == "ConfigMapOwnedByOther"


def test_rollback_then_dual_write_starts_a_new_epoch_that_old_validations_do_not_pass() -> None:
    obs = validated()
    first_epoch = obs.status.mode.dual_write_since
    obs, _ = step(later(to_phase(obs, "rollback"), 60))
    obs, _ = step(later(to_phase(obs, "dual-write"), 60))
    assert obs.status.mode.dual_write_since is not None
    assert first_epoch is not None
    assert obs.status.mode.dual_write_since > first_epoch
    obs, _ = step(finish_jobs(obs))
    obs, _ = step(later(to_phase(obs, "validate"), 1))
    assert condition(obs, "Validated")[0] == "False"
    assert blocked_by(to_phase(obs, "switch")).reason == "ValidationStale"


# -- a full walk ------------------------------------------------------------------------------


def test_full_walk_drives_the_configmap_through_every_mode() -> None:
    obs = validated()
    modes = [obs.config_map.value]
    for phase in ("switch", "rollback", "migrate"):
        obs, _ = step(later(to_phase(obs, phase), 30))
        obs, _ = step(finish_jobs(obs))
        modes.append(obs.config_map.value)
        assert obs.status.state == "Succeeded", obs.status.message
        assert obs.status.phase == phase
    assert modes == ["dual_write", "weaviate_primary", "sqlite_only", "sqlite_only"]
    assert condition(obs, "RolledBack") == ("False", "PhaseChanged")
    assert len(obs.status.history) <= 20
    assert [h.result for h in obs.status.history][-2:] == ["Pending", "Succeeded"]


def test_changing_phase_deletes_the_superseded_running_job() -> None:
    obs, actions = step(later(to_phase(dual_writing(), "validate"), 10))
    running = of(actions, CreateJob)[0].name
    actions = plan(to_phase(obs, "dual-write"))
    assert of(actions, DeleteJobs) == [DeleteJobs((running,))]
    assert of(actions, CreateJob)[0].kind == "sync"


def test_status_patch_leaves_job_owned_fields_alone() -> None:
    obs = report(observation("migrate"), job="x")
    for action in plan(obs):
        if isinstance(action, SetStatus):
            assert "validation" not in action.patch
            assert "progress" not in action.patch


def _web() -> WorkloadRef:
    return WorkloadRef(kind="Deployment", name="web")


def _app_with_web() -> dict[str, Any]:
    return {**spec_dict()["app"], "workloads": [{"kind": "Deployment", "name": "web"}]}


def test_observed_owner_is_this_datamigration() -> None:
    assert ME == "apps/shop"


def test_every_condition_carries_the_generation_it_was_reconciled_for() -> None:
    """Migrated and Validated do not change when dual-write begins, yet a reconcile of the new
    generation confirmed them: none keeps the older observedGeneration (kubectl wait, Argo CD),
    and each keeps the time it last changed."""
    before = validated()
    migrated_at = find_condition(before.status.conditions, "Migrated").last_transition_time  # type: ignore[union-attr]
    obs, _ = step(later(to_phase(before, "dual-write"), 10))
    assert {c.type: c.observed_generation for c in obs.status.conditions} == dict.fromkeys(
        reasons.CONDITION_TYPES,
        obs.generation,
    )
    migrated_now = find_condition(obs.status.conditions, "Migrated")
    assert migrated_now is not None
    assert (migrated_now.status, migrated_now.last_transition_time) == ("True", migrated_at)
    # and planning again for the same generation writes nothing
    assert not of(plan(obs), SetStatus)
