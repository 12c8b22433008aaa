"""migrate: the copy Job takes a consistent SQLite snapshot into Weaviate while the app stays
on SQLite. Never waits for a gate; complete (Migrated=True) when the copy Job succeeded."""

from __future__ import annotations

from datamigration_operator.api import reasons
from datamigration_operator.api.job_contract import JOB_KIND_BY_PHASE
from datamigration_operator.reconcile.phases.jobs import JobPhase


class Migrate(JobPhase):
    phase = "migrate"
    # The app stays on SQLite; writing sqlite_only explicitly claims the ConfigMap key early,
    # so a second DataMigration on the same app is refused before any data moves.
    mode = "sqlite_only"
    job_kind = JOB_KIND_BY_PHASE["migrate"]
    done_condition = reasons.MIGRATED


MIGRATE = Migrate()
