"""Who the Jobs run as and what they run, and whose validation report counts (issue 11, items
3 and 6): the per-migration ServiceAccount, the operator's allow-lists, the Job-uid binding."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from datamigration_operator.api.status import ValidationReport
from datamigration_operator.reconcile.actions import (
    Action,
    ApplyMode,
    Block,
    CreateJob,
    EmitEvent,
    EnsureJobAccess,
)
from datamigration_operator.reconcile.conditions import find_condition
from datamigration_operator.reconcile.job_names import job_account_name
from datamigration_operator.reconcile.observed import JobPolicy, Observation
from datamigration_operator.reconcile.planner import plan
from tests.unit.reconcile.scenario import NAME, apply, job_uid, later, observation
from tests.unit.reconcile.test_planner import dual_writing, finish_jobs, to_phase

IMAGE = "ghcr.io/gremlins-ai/datamigration-operator:0.1.0"
POLICY = JobPolicy(default_image=IMAGE)


def of(actions: list[Action], kind: type) -> list[Any]:
    return [a for a in actions if isinstance(a, kind)]


def with_policy(obs: Observation, policy: JobPolicy = POLICY) -> Observation:
    return dataclasses.replace(obs, job_policy=policy)


def test_the_first_job_runs_the_operators_image_as_the_per_migration_account() -> None:
    actions = plan(with_policy(observation("migrate")))
    account = job_account_name(NAME)
    ensure, create = of(actions, EnsureJobAccess), of(actions, CreateJob)
    assert ensure == [EnsureJobAccess(account)]
    assert actions.index(ensure[0]) < actions.index(create[0])  # the account exists first
    assert (create[0].image, create[0].service_account) == (IMAGE, account)


def test_no_access_objects_again_once_the_job_exists() -> None:
    obs = with_policy(observation("migrate"))
    after = apply(obs, plan(obs))
    assert not of(plan(after), EnsureJobAccess)


def _blocked(obs: Observation, reason: str) -> str:
    actions = plan(obs)
    assert not of(actions, CreateJob)
    assert not of(actions, EnsureJobAccess)
    (block,) = of(actions, Block)
    assert block.reason == reason
    warnings = [e for e in of(actions, EmitEvent) if e.type == "Warning"]
    assert [w.reason for w in warnings] == [reason]
    return block.message


def test_an_image_the_operator_was_not_started_to_allow_blocks_the_phase() -> None:
    obs = with_policy(observation("migrate", jobTemplate={"image": "attacker.example/x:latest"}))
    message = _blocked(obs, "JobImageNotAllowed")
    assert "attacker.example/x:latest" in message
    assert "--allowed-job-images" in message
    allowed = JobPolicy(
        default_image=IMAGE, allowed_images=frozenset({"attacker.example/x:latest"})
    )
    (create,) = of(plan(with_policy(obs, allowed)), CreateJob)
    assert create.image == "attacker.example/x:latest"
    # naming the operator's own image is always fine
    same = with_policy(observation("migrate", jobTemplate={"image": IMAGE}))
    assert of(plan(same), CreateJob)


def test_a_service_account_the_operator_was_not_started_to_allow_blocks_the_phase() -> None:
    obs = with_policy(observation("migrate", jobTemplate={"serviceAccountName": "powerful-sa"}))
    message = _blocked(obs, "JobServiceAccountNotAllowed")
    assert "powerful-sa" in message
    assert "--allowed-job-service-accounts" in message
    allowed = JobPolicy(default_image=IMAGE, allowed_service_accounts=frozenset({"powerful-sa"}))
    actions = plan(with_policy(obs, allowed))
    (create,) = of(actions, CreateJob)
    assert create.service_account == "powerful-sa"
    assert not of(actions, EnsureJobAccess)  # the admin's account: not ours to create
    own = job_account_name(NAME)
    named = with_policy(observation("migrate", jobTemplate={"serviceAccountName": own}))
    assert of(plan(named), CreateJob)[0].service_account == own


def _validated_report(obs: Observation, name: str, uid: str | None) -> Observation:
    finished = obs.now - timedelta(seconds=5)
    validation = ValidationReport(
        job=name,
        job_uid=uid,
        started_at=finished - timedelta(seconds=30),
        finished_at=finished,
        checked=100,
        passed=True,
    )
    return dataclasses.replace(obs, status=obs.status.model_copy(update={"validation": validation}))


def _validate_phase() -> tuple[Observation, str]:
    obs = later(to_phase(dual_writing(), "validate"), 10)
    actions = plan(obs)
    (create,) = of(actions, CreateJob)
    return later(finish_jobs(apply(obs, actions)), 60), create.name


def test_a_passing_report_without_its_jobs_uid_fails_validate_and_keeps_switch_closed() -> None:
    obs, name = _validate_phase()
    forged = _validated_report(obs, name, uid="not-the-jobs-uid")
    actions = plan(forged)
    after = apply(forged, actions)
    validated = find_condition(after.status.conditions, "Validated")
    assert validated is not None
    assert (validated.status, validated.reason) == ("False", "ValidationNotFromItsJob")
    assert after.status.state == "Failed"
    switch = later(to_phase(after, "switch"), 5)
    actions = plan(switch)
    assert not of(actions, ApplyMode)
    (block,) = of(actions, Block)
    assert block.reason == "ValidationNotFromItsJob"
    # the same report from the Job itself opens the gate
    genuine = _validated_report(switch, name, uid=job_uid(name))
    assert of(plan(genuine), ApplyMode)[0].mode == "weaviate_primary"


def test_a_report_naming_a_job_that_is_not_a_validate_job_of_ours_counts_for_nothing() -> None:
    obs, name = _validate_phase()
    copy_job = next(j for j in obs.jobs if j.phase == "migrate")
    switch = later(to_phase(obs, "switch"), 5)
    for report in (
        _validated_report(switch, copy_job.name, uid=copy_job.uid),  # another kind of Job
        _validated_report(switch, "someone-elses-validate", uid="x"),  # no such Job
    ):
        (block,) = of(plan(report), Block)
        assert block.reason == "ValidationNotFromItsJob"
    gone = dataclasses.replace(
        _validated_report(switch, name, uid=job_uid(name)),
        jobs=tuple(j for j in switch.jobs if j.name != name),
    )
    (block,) = of(plan(gone), Block)  # the Job is gone: nothing vouches for the report
    assert block.reason == "ValidationNotFromItsJob"
