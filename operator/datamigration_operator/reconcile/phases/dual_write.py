"""dual-write: the app writes to both stores, then the sync Job (a full diff with repair)
closes the window between the copy's snapshot and the first dual write.

Gate: Migrated=True (a copy Job still running when spec.phase moved here counts once it
succeeds). Complete (DualWriteReady=True) when dual_write is applied and the sync succeeded."""

from __future__ import annotations

from datamigration_operator.api import reasons
from datamigration_operator.api.job_contract import JOB_KIND_BY_PHASE
from datamigration_operator.reconcile.conditions import is_true
from datamigration_operator.reconcile.draft import Draft
from datamigration_operator.reconcile.phases.base import GateClosed, GateInputs
from datamigration_operator.reconcile.phases.jobs import JobPhase, credit_late_job
from datamigration_operator.reconcile.phases.migrate import MIGRATE


class DualWrite(JobPhase):
    phase = "dual-write"
    mode = "dual_write"
    job_kind = JOB_KIND_BY_PHASE["dual-write"]
    done_condition = reasons.DUAL_WRITE_READY

    def before_gate(self, draft: Draft) -> None:
        credit_late_job(draft, MIGRATE)

    def gate(self, inputs: GateInputs) -> GateClosed | None:
        if not is_true(inputs.conditions, reasons.MIGRATED):
            return GateClosed(
                reasons.MIGRATION_REQUIRED,
                "dual-write needs Migrated=True: let the copy Job of phase migrate succeed first",
            )
        return None

    def late_success_counts(self, draft: Draft) -> bool:
        # The sync closes the window only if the app was writing to both stores while it ran.
        return draft.obs.status.mode.applied == self.mode


DUAL_WRITE = DualWrite()
