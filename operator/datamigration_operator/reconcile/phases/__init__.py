"""One file per phase: its mode, gate, Job and completion. PHASES maps spec.phase to it."""

from __future__ import annotations

from typing import Final

from datamigration_operator.api.phases import Phase
from datamigration_operator.reconcile.phases.base import GateClosed, GateInputs, PhaseHandler
from datamigration_operator.reconcile.phases.dual_write import DUAL_WRITE
from datamigration_operator.reconcile.phases.migrate import MIGRATE
from datamigration_operator.reconcile.phases.rollback import ROLLBACK
from datamigration_operator.reconcile.phases.switch import SWITCH
from datamigration_operator.reconcile.phases.validate import VALIDATE

PHASES: Final[dict[Phase, PhaseHandler]] = {
    handler.phase: handler for handler in (MIGRATE, DUAL_WRITE, VALIDATE, SWITCH, ROLLBACK)
}

__all__ = ["PHASES", "GateClosed", "GateInputs", "PhaseHandler"]
