"""phases/rollback.py: sqlite_only first, every Job stopped, never a gate."""

from __future__ import annotations

from datamigration_operator.reconcile.actions import ApplyMode, Block, DeleteJobs
from datamigration_operator.reconcile.observed import ObservedConfigMap, ObservedJob
from datamigration_operator.reconcile.phases.rollback import ROLLBACK
from tests.unit.reconcile.phases.drafts import at, condition, draft, with_conditions
from tests.unit.reconcile.phases.gate_inputs import NOW, POLICY, check_gate

SYNC = ObservedJob("shop-dual-write-1", "dual-write", "Running", 1)


def test_rollback_never_waits() -> None:
    assert check_gate("rollback", [], None, None, POLICY, NOW, issuer_uid=None) is None


def test_rollback_resets_what_the_stores_diverging_invalidates_but_keeps_migrated() -> None:
    obs = with_conditions(at("rollback"), Migrated="True", DualWriteReady="True", Validated="True")
    result = draft(obs)
    ROLLBACK.reconcile(result)
    assert condition(result, "Migrated") == ("True", "Seeded")
    for type_ in ("DualWriteReady", "Validated", "ReadsSwitched"):
        assert condition(result, type_) == ("False", "RolledBack")
    assert (result.state, condition(result, "RolledBack")) == ("Succeeded", ("True", "ModeApplied"))


def test_rollback_stops_the_jobs_even_when_the_configmap_is_not_ours() -> None:
    theirs = ObservedConfigMap(exists=True, value="dual_write", owner="apps/other")
    result = draft(at("rollback", config_map=theirs, jobs=(SYNC,)))
    ROLLBACK.reconcile(result)
    assert not [a for a in result.actions if isinstance(a, ApplyMode)]
    assert [a for a in result.actions if isinstance(a, DeleteJobs)] == [DeleteJobs((SYNC.name,))]
    assert isinstance(result.blocked, Block)
    assert result.state == "Blocked"
