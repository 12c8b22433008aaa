"""What the operator hands a copy/sync/validate Job, shared with the Job side (`dmctl job`)."""

from __future__ import annotations

from typing import Final

from datamigration_operator.api.model_base import SpecModel
from datamigration_operator.api.phases import JobKind, Phase
from datamigration_operator.api.spec import (
    CollectionMapping,
    DiscoverSpec,
    Endpoint,
    ReadProbeSpec,
)

# The Job's configuration arrives as JSON (JobConfig) in this environment variable.
CONFIG_ENV: Final = "DATAMIGRATION_JOB_CONFIG"
# The Weaviate API key arrives only through this secretKeyRef variable, never in the config.
API_KEY_ENV: Final = "WEAVIATE_API_KEY"
# Exit code for failures a retry cannot fix (bad mapping, unknown table, objects that keep
# failing); podFailurePolicy turns it into an immediate Job failure.
NON_RETRYABLE_EXIT_CODE: Final = 42
# The Job's own uid, from the downward API (the label the API server sets on a Job's pods):
# the validate Job signs status.validation with it, and switch accepts no other report.
JOB_UID_ENV: Final = "DATAMIGRATION_JOB_UID"
JOB_UID_LABEL: Final = "batch.kubernetes.io/controller-uid"
CONTAINER_NAME: Final = "job"
# Where the container writes its final error (its terminationMessagePath, standard in Kubernetes):
# the kubelet puts the file in the pod's status.containerStatuses[].state.terminated.message and
# the operator shows it in status.message and a Warning event. The Job learns the path from this
# variable (set to the same value), so a runtime that maps paths (the sandbox) can map it too.
TERMINATION_MESSAGE_PATH: Final = "/dev/termination-log"
TERMINATION_LOG_ENV: Final = "DATAMIGRATION_TERMINATION_LOG"
SOURCE_MOUNT_PATH: Final = "/var/lib/datamigration/source"
SCRATCH_MOUNT_PATH: Final = "/var/lib/datamigration/scratch"
BACKUP_MOUNT_PATH: Final = "/var/lib/datamigration/backup"
CA_MOUNT_PATH: Final = "/var/run/datamigration/ca"
CA_FILE_NAME: Final = "ca.crt"

JOB_KIND_BY_PHASE: Final[dict[Phase, JobKind]] = {
    "migrate": "copy",
    "dual-write": "sync",
    "validate": "validate",
}


class MigrationRef(SpecModel):
    """The DataMigration a Job reports to (status subresource)."""

    namespace: str
    name: str
    uid: str


class JobSource(SpecModel):
    """The SQLite file as the Job sees it."""

    path: str
    """Absolute path inside the container (under SOURCE_MOUNT_PATH, read-only)."""
    snapshot: bool
    """Read from an online-backup snapshot written under scratch_dir."""
    scratch_dir: str
    """Writable directory for the snapshot."""


class JobBackup(SpecModel):
    """Where the copy Job keeps its backup (spec.backup, resolved by the operator)."""

    directory: str
    """Absolute path inside the container (BACKUP_MOUNT_PATH, the folder mounted read-write)."""
    claim_name: str
    """The claim holding that folder, for status.backup."""
    path: str
    """The folder relative to the root of that claim, for status.backup."""
    retain: int
    """This DataMigration's backups kept there, the new one included."""


class JobTarget(SpecModel):
    """Weaviate as the Job reaches it."""

    http: Endpoint
    grpc: Endpoint
    tls: bool
    ca_file: str | None = None
    """PEM bundle to trust, mounted from spec.target.tls.caSecretRef."""
    api_key_env: str | None = None
    """Environment variable holding the API key, when one is configured."""


class AnalysisWindow(SpecModel):
    """What a switch step's analysis Job judges: the app's read-analysis windows of one step."""

    step: int
    read_percent: int
    since_epoch: float
    """Count windows that began at or after this (epoch seconds): the step's start."""
    min_samples: int
    timeout: str
    """Duration to wait for min_samples compared shadow reads."""


class JobConfig(SpecModel):
    """Everything a Job needs besides secrets."""

    kind: JobKind
    job_name: str
    datamigration: MigrationRef
    source: JobSource
    target: JobTarget
    collections: list[CollectionMapping]
    discover: DiscoverSpec = DiscoverSpec()
    """spec.discover: the Job derives the rest of the mapping from its snapshot."""
    batch_size: int
    concurrency: int
    objects_per_second: int
    max_mismatches: int
    recheck_delay: str
    drain_timeout: str = "2m"
    read_probe: ReadProbeSpec | None = None
    """validate: the read-performance probe to run after the diff; unset: none."""
    recreate_rerun: int | None = None
    """Set on the copy of the rerun spec.recreateOnRerun names: drop and recreate the owned
    collections first, unless status.recreated shows this rerun's drop done."""
    analysis: AnalysisWindow | None = None
    """Only for an analyze Job."""
    backup: JobBackup | None = None
    """Set for a copy Job when spec.backup is enabled."""
