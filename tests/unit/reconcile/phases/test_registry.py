"""phases.PHASES: one handler per spec.phase, launching the Job the Job contract names."""

from __future__ import annotations

from datamigration_operator.api.job_contract import JOB_KIND_BY_PHASE
from datamigration_operator.api.phases import PHASES as API_PHASES
from datamigration_operator.api.reasons import CONDITION_TYPES
from datamigration_operator.reconcile.phases import PHASES


def test_every_phase_has_one_handler_with_the_contracts_job_and_its_own_condition() -> None:
    assert list(PHASES) == list(API_PHASES)
    for phase, handler in PHASES.items():
        assert handler.phase == phase
        assert handler.job_kind == JOB_KIND_BY_PHASE.get(phase)
        assert handler.done_condition in CONDITION_TYPES
    assert len({h.done_condition for h in PHASES.values()}) == len(PHASES)
