"""The path migrate, dual-write, validate and switch share: inputs, gate, mode, then the
phase's own work. Each phase fills in the steps that differ (its file says what)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Final

from datamigration_operator.api import reasons
from datamigration_operator.api.phases import DUAL_WRITING_MODES, Mode
from datamigration_operator.api.reasons import ConditionType
from datamigration_operator.reconcile.conditions import is_true
from datamigration_operator.reconcile.draft import Draft
from datamigration_operator.reconcile.inputs import (
    Problem,
    collection_problem,
    config_map_problem,
    workload_problem,
)
from datamigration_operator.reconcile.phases.base import GateInputs, PhaseHandler
from datamigration_operator.reconcile.rollback_readiness import (
    planned_readiness,
    record_rollback_readiness,
)
from datamigration_operator.reconcile.validation import validation_issuer

# These say where spec.phase is, not what work was done: they drop when another phase begins.
_HELD_ONLY_IN_THEIR_PHASE: Final[tuple[ConditionType, ...]] = (
    reasons.READS_SWITCHED,
    reasons.ROLLED_BACK,
)


class ForwardPhase(PhaseHandler):
    def reconcile(self, draft: Draft) -> None:
        self._advance(draft)
        if self.mode in DUAL_WRITING_MODES:  # dual-write, validate, switch: what switch needs
            record_rollback_readiness(draft)

    def _advance(self, draft: Draft) -> None:
        problem = self.input_problem(draft)
        if problem is not None:
            draft.block(*problem)
            return
        self._leave_other_phases(draft)
        self.before_gate(draft)
        if not self.passed_gate_already(draft):
            obs = draft.obs
            closed = self.gate(
                GateInputs(
                    draft.conditions,
                    obs.status.validation,
                    draft.epoch,
                    obs.spec.validation,
                    draft.now,
                    validation_issuer(obs),
                    planned_readiness(draft) if self.mode in DUAL_WRITING_MODES else None,
                )
            )
            if closed is not None:
                draft.block(closed.reason, closed.message)
                return
        mode, read_percent = self.read_target(draft)
        applied = draft.apply_mode(mode, read_percent)
        draft.delete_jobs(j for j in draft.obs.jobs if j.active and j.name != draft.job_name)
        if applied:
            self.proceed(draft)
        else:
            draft.waiting_for_rollout()

    def input_problem(self, draft: Draft) -> Problem | None:
        return (
            collection_problem(draft.obs, draft.me)
            or config_map_problem(draft.obs, draft.me)
            or workload_problem(draft.obs)
        )

    def read_target(self, draft: Draft) -> tuple[Mode, int]:
        """The mode to apply and a gradual switch's read share (0: none); by default the
        phase's mode."""
        return self.mode, 0

    def before_gate(self, draft: Draft) -> None:
        """Bring the conditions the gate reads up to date."""

    def passed_gate_already(self, draft: Draft) -> bool:
        return False

    @abstractmethod
    def proceed(self, draft: Draft) -> None:
        """The gate is open and the app runs in this phase's mode: the phase's own work."""

    def _leave_other_phases(self, draft: Draft) -> None:
        phase = draft.obs.spec.phase
        for type_ in _HELD_ONLY_IN_THEIR_PHASE:
            if type_ != self.done_condition and is_true(draft.conditions, type_):
                draft.condition(type_, "False", reasons.PHASE_CHANGED, f"phase is now {phase}")
