"""phases/migrate.py: the copy Job, with the app left on SQLite."""

from __future__ import annotations

import dataclasses

from datamigration_operator.api.status import BackupStatus
from datamigration_operator.reconcile.actions import Block, CreateJob
from datamigration_operator.reconcile.observed import ObservedJob
from datamigration_operator.reconcile.phases.migrate import MIGRATE
from datamigration_operator.reconcile.planner import plan
from tests.unit.reconcile.phases.drafts import at, condition, draft
from tests.unit.reconcile.phases.gate_inputs import NOW, POLICY, check_gate


def test_migrate_never_waits() -> None:
    assert check_gate("migrate", [], None, None, POLICY, NOW, issuer_uid=None) is None


def test_migrate_claims_sqlite_only_and_launches_the_copy_job() -> None:
    obs = at("migrate")
    (create,) = [a for a in plan(obs) if isinstance(a, CreateJob)]
    assert (create.kind, create.phase) == ("copy", "migrate")
    assert MIGRATE.mode == "sqlite_only"


def test_a_copy_job_that_cannot_run_blocks_before_it_is_created() -> None:
    obs = dataclasses.replace(at("migrate"), secrets={})
    actions = plan(obs)
    assert not [a for a in actions if isinstance(a, CreateJob)]
    (block,) = [a for a in actions if isinstance(a, Block)]
    assert block.reason == "SecretNotFound"


def test_a_failed_copy_job_fails_the_phase_with_its_message_and_the_way_out() -> None:
    name = draft(at("migrate")).job_name
    assert name is not None
    failed = ObservedJob(name, "migrate", "Failed", 1, message="3 rows failed")
    result = draft(at("migrate", jobs=(failed,)))
    MIGRATE.reconcile(result)
    assert result.state == "Failed"
    assert condition(result, "Migrated") == ("False", "JobFailed")
    assert "3 rows failed; bump spec.rerun to retry" in result.message


def _backup(job: str | None) -> BackupStatus:
    return BackupStatus(
        job=job,
        claim="shop-data",
        path=".datamigration/backups/shop/shop-migrate-x-20261203T120000Z.sqlite",
        size_bytes=3 << 20,
        sha256="ab" * 32,
        taken_at=NOW,
    )


def test_the_copys_completion_names_the_backup_it_kept() -> None:
    name = draft(at("migrate")).job_name
    assert name is not None
    succeeded = ObservedJob(name, "migrate", "Succeeded", 1)
    obs = at("migrate", jobs=(succeeded,))
    obs = dataclasses.replace(obs, status=obs.status.model_copy(update={"backup": _backup(name)}))
    result = draft(obs)
    MIGRATE.reconcile(result)
    assert condition(result, "Migrated") == ("True", "JobSucceeded")
    assert result.message == (
        f"copy Job {name} succeeded; SQLite backup shop-data:.datamigration/backups/shop/"
        "shop-migrate-x-20261203T120000Z.sqlite (3.0 MiB, sha256 abababababab...)"
    )


def test_an_older_jobs_backup_is_not_claimed_for_this_copy() -> None:
    name = draft(at("migrate")).job_name
    assert name is not None
    succeeded = ObservedJob(name, "migrate", "Succeeded", 1)
    obs = at("migrate", jobs=(succeeded,))
    old = _backup("shop-migrate-older")
    obs = dataclasses.replace(obs, status=obs.status.model_copy(update={"backup": old}))
    result = draft(obs)
    MIGRATE.reconcile(result)
    assert result.message == f"copy Job {name} succeeded"
