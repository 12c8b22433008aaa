"""rollback: sqlite_only first and at once, then stop every Job of this migration. Never
waits for a gate and is never blocked by a running Job; what the app wrote meanwhile is in
SQLite, so it loses nothing. Complete (RolledBack=True) when every pod runs sqlite_only."""

from __future__ import annotations

from typing import Final

from datamigration_operator.api import reasons
from datamigration_operator.api.reasons import ConditionType
from datamigration_operator.reconcile.draft import Draft
from datamigration_operator.reconcile.inputs import config_map_problem, workload_problem
from datamigration_operator.reconcile.phases.base import PhaseHandler

# What a rollback invalidates: the stores diverge from here, so dual-write, validation and
# switch start over. Migrated stays: a new dual-write epoch re-syncs the copy.
_RESET: Final[tuple[ConditionType, ...]] = (
    reasons.DUAL_WRITE_READY,
    reasons.VALIDATED,
    reasons.READS_SWITCHED,
    reasons.ROLLBACK_READY,
)


class Rollback(PhaseHandler):
    phase = "rollback"
    mode = "sqlite_only"
    done_condition = reasons.ROLLED_BACK

    def reconcile(self, draft: Draft) -> None:
        problem = config_map_problem(draft.obs, draft.me)
        # A ConfigMap that is not ours is never touched, but our Jobs stop regardless.
        applied = problem is None and draft.apply_mode(self.mode)
        draft.delete_jobs(j for j in draft.obs.jobs if j.active)
        for type_ in _RESET:
            draft.condition(
                type_, "False", reasons.ROLLED_BACK_REASON, f"rolled back to {self.mode}"
            )
        problem = problem or workload_problem(draft.obs)
        if problem is not None:
            draft.block(*problem)
        elif not applied:
            draft.waiting_for_rollout()
        else:
            draft.done(reasons.MODE_APPLIED, "rolled back: the app reads and writes SQLite only")


ROLLBACK = Rollback()
