"""migrate: the copy Job takes a consistent SQLite snapshot into Weaviate while the app stays
on SQLite. Never waits for a gate; complete (Migrated=True) when the copy Job succeeded."""

from __future__ import annotations

from datamigration_operator.api import reasons
from datamigration_operator.api.job_contract import JOB_KIND_BY_PHASE
from datamigration_operator.api.phases import JobState
from datamigration_operator.api.status import BackupStatus
from datamigration_operator.reconcile.draft import Draft
from datamigration_operator.reconcile.phases.jobs import JobPhase


class Migrate(JobPhase):
    phase = "migrate"
    # The app stays on SQLite; writing sqlite_only explicitly claims the ConfigMap key early,
    # so a second DataMigration on the same app is refused before any data moves.
    mode = "sqlite_only"
    job_kind = JOB_KIND_BY_PHASE["migrate"]
    done_condition = reasons.MIGRATED

    def job_ended(self, draft: Draft, state: JobState | None) -> None:
        """A copy that kept a backup says where it is (its Job wrote status.backup)."""
        backup = draft.obs.status.backup
        name = draft.job_name
        if state == "Succeeded" and backup is not None and backup.job == name:
            draft.done(reasons.JOB_SUCCEEDED, f"copy Job {name} succeeded; {backup_line(backup)}")
            return
        super().job_ended(draft, state)


def backup_line(backup: BackupStatus) -> str:
    """`SQLite backup chat-data:.datamigration/backups/x/y.sqlite (12.3 MiB, sha256 1a2b...)`."""
    mib = backup.size_bytes / (1 << 20)
    return (
        f"SQLite backup {backup.claim}:{backup.path} ({mib:.1f} MiB, "
        f"sha256 {backup.sha256[:12]}...)"
    )


MIGRATE = Migrate()
