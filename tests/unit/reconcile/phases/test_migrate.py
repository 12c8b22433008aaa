"""phases/migrate.py: the copy Job, with the app left on SQLite."""

from __future__ import annotations

import dataclasses

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
