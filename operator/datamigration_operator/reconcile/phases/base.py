"""What every phase decides: the ConfigMap mode it drives, the Job it launches, the gate it
needs, the condition that says it is complete, and how it gets there from an observation.

Which phase may follow which is not decided here: the CRD admits the transitions
(api.phases.NEXT_PHASES, from which api.admission_rules generates the CEL rule)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from datamigration_operator.api.phases import JobKind, Mode, Phase
from datamigration_operator.api.reasons import ConditionType
from datamigration_operator.api.spec import ValidationSpec
from datamigration_operator.api.status import Condition, ValidationReport
from datamigration_operator.reconcile.draft import Draft
from datamigration_operator.reconcile.rollback_readiness import Readiness


@dataclass(frozen=True)
class GateClosed:
    reason: str
    message: str


@dataclass(frozen=True)
class GateInputs:
    """What a gate may look at; pure data, so each gate is testable on its own."""

    conditions: list[Condition]
    """As the phase has them when it checks its gate (a late Job already credited)."""
    report: ValidationReport | None
    epoch: datetime | None
    """When the current dual-write epoch began (None: the app does not write to both)."""
    policy: ValidationSpec
    now: datetime
    issuer_uid: str | None
    """reconcile.validation.validation_issuer: only that Job's report counts."""
    rollback: Readiness | None = None
    """RollbackReady as the gate finds it (reconcile.rollback_readiness); None: not asked."""


class PhaseHandler(ABC):
    phase: ClassVar[Phase]
    mode: ClassVar[Mode]
    """The ConfigMap mode the phase drives."""
    job_kind: ClassVar[JobKind | None] = None
    """The Job it launches (api.job_contract.JOB_KIND_BY_PHASE), if any."""
    done_condition: ClassVar[ConditionType]
    """True once the phase is complete."""

    def gate(self, inputs: GateInputs) -> GateClosed | None:
        """None when the phase may change something; by default it never waits."""
        return None

    @abstractmethod
    def reconcile(self, draft: Draft) -> None:
        """Write into `draft` the actions, conditions and state that move toward this phase."""
