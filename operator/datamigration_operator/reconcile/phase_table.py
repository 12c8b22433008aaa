"""What each phase drives: the ConfigMap mode, the Job it launches, the condition that ends it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from datamigration_operator.api import reasons
from datamigration_operator.api.job_contract import JOB_KIND_BY_PHASE
from datamigration_operator.api.phases import JobKind, Mode, Phase
from datamigration_operator.api.reasons import ConditionType


@dataclass(frozen=True)
class PhaseRule:
    phase: Phase
    mode: Mode
    job_kind: JobKind | None
    done_condition: ConditionType


PHASE_TABLE: Final[dict[Phase, PhaseRule]] = {
    # migrate leaves the app on SQLite; writing sqlite_only explicitly claims the ConfigMap key
    # early, so a second DataMigration on the same app is refused before any data moves.
    "migrate": PhaseRule("migrate", "sqlite_only", JOB_KIND_BY_PHASE["migrate"], reasons.MIGRATED),
    "dual-write": PhaseRule(
        "dual-write", "dual_write", JOB_KIND_BY_PHASE["dual-write"], reasons.DUAL_WRITE_READY
    ),
    "validate": PhaseRule(
        "validate", "dual_write", JOB_KIND_BY_PHASE["validate"], reasons.VALIDATED
    ),
    "switch": PhaseRule("switch", "weaviate_primary", None, reasons.READS_SWITCHED),
    "rollback": PhaseRule("rollback", "sqlite_only", None, reasons.ROLLED_BACK),
}
