"""The DataMigration status: what `kubectl describe` shows. Jobs write progress and validation;
the operator writes everything else."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field

from datamigration_operator.api.model_base import StatusModel, Timestamp
from datamigration_operator.api.phases import JobState, Mode, Phase, State
from datamigration_operator.api.reasons import ConditionStatus, ConditionType

MAX_JOB_RECORDS: Final = 20
MAX_HISTORY: Final = 20
MAX_SAMPLES: Final = 10
MAX_FAILED_KEYS: Final = 100
MAX_SWITCH_STEP_RECORDS: Final = 10
REASON_PATTERN: Final = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(StatusModel):
    """A Kubernetes-style condition."""

    type: ConditionType
    """Migrated, DualWriteReady, Validated, ReadsSwitched, RolledBack, RollbackReady or
    Ready."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: str = Field(pattern=REASON_PATTERN, max_length=1024)
    """CamelCase reason constant."""
    message: str = Field(default="", max_length=32_768)
    """Human-readable detail."""
    last_transition_time: Timestamp
    """When status last changed."""
    observed_generation: int | None = Field(default=None, ge=0)
    """metadata.generation this condition was computed from."""


class ModeStatus(StatusModel):
    """The migration mode: wanted, written to the ConfigMap, and in effect in the app."""

    desired: Mode | None = None
    """Mode the current phase drives."""
    config_map: str | None = Field(default=None, max_length=253)
    """Value of the ConfigMap key as last written or observed."""
    applied: Mode | None = None
    """Mode in effect: the ConfigMap holds it and every listed workload rolled out with it."""
    changed_at: Timestamp | None = None
    """When the operator wrote `desired` to the ConfigMap (sub-second precision)."""
    applied_at: Timestamp | None = None
    """When every listed workload had rolled out with `desired`: each app pod runs it (the
    rollout acknowledgement). appliedAt - changedAt is how long a mode change, a rollback
    included, took to reach the app."""
    dual_write_since: Timestamp | None = None
    """Start of the current dual-write epoch (the mode became dual_write after sqlite_only);
    switch accepts only validations that finished after it."""


class Checkpoint(StatusModel):
    """Where a killed copy or sync Job resumes: the last flushed batch."""

    table: str | None = Field(default=None, max_length=128)
    """Table in progress."""
    last_key: int | str | None = Field(default=None)
    """Primary key of the last row of the last flushed batch."""
    tables_done: list[Annotated[str, Field(max_length=128)]] = Field(
        default_factory=list, max_length=32
    )
    """Tables finished completely."""


class Progress(StatusModel):
    """Progress of the running copy or sync Job."""

    job: str | None = Field(default=None, max_length=63)
    """Job reporting this progress."""
    table: str | None = Field(default=None, max_length=128)
    """Table being copied."""
    rows_total: int | None = Field(default=None, ge=0)
    """Rows to process in all tables."""
    rows_done: int | None = Field(default=None, ge=0)
    """Rows processed."""
    percent: int | None = Field(default=None, ge=0, le=100)
    """rowsDone / rowsTotal in percent."""
    rows_per_second: float | None = Field(default=None, ge=0)
    """Recent throughput."""
    eta: Timestamp | None = None
    """Estimated completion time."""
    checkpoint: Checkpoint | None = None
    """Resume position."""
    updated_at: Timestamp | None = None
    """When the Job last reported."""
    failed: int | None = Field(default=None, ge=0)
    """Objects that kept failing after every retry (the Job fails when there are any)."""
    failed_keys: list[Annotated[str, Field(max_length=512)]] = Field(
        default_factory=list, max_length=MAX_FAILED_KEYS
    )
    """The first 100 failed objects as table/key: message."""
    report_ref: str | None = Field(default=None, max_length=253)
    """ConfigMap listing every failed object."""


class ValidationSample(StatusModel):
    """One difference found by validation."""

    table: str = Field(max_length=128)
    """Table of the record."""
    key: str = Field(max_length=256)
    """Primary key of the record."""
    problem: Literal["missing", "extra", "mismatched", "danglingReference", "wrongReference"]
    """missing in Weaviate, extra in Weaviate, content differs, a cross-reference to an object
    not in Weaviate, or one that disagrees with the foreign key."""
    detail: str = Field(default="", max_length=1024)
    """What differs (field names, never values of secrets)."""


ReadKind = Literal["byId", "byReference", "bm25", "nearVector"]
READ_KINDS: Final[tuple[ReadKind, ...]] = ("byId", "byReference", "bm25", "nearVector")


class ReadLatency(StatusModel):
    """Latency of one read kind on one store in one run; the latencies are unset when every
    request failed."""

    requests: int = Field(ge=0)
    """Requests made."""
    errors: int = Field(default=0, ge=0)
    """Requests that failed."""
    error_rate: float = Field(default=0.0, ge=0, le=1)
    """errors / requests."""
    p50_ms: float | None = Field(default=None, ge=0)
    """Median latency in milliseconds."""
    p99_ms: float | None = Field(default=None, ge=0)
    """99th-percentile latency in milliseconds."""
    mean_ms: float | None = Field(default=None, ge=0)
    """Mean latency in milliseconds."""


class ReadComparison(StatusModel):
    """One read kind on both stores in one run."""

    weaviate: ReadLatency
    """The app's declared read against Weaviate."""
    sqlite: ReadLatency | None = None
    """The equivalent query on the validate Job's SQLite snapshot; unset when skipped (note)."""


class ReadKindPerformance(StatusModel):
    """One read kind: requests one after another, then `concurrency` at once."""

    kind: ReadKind
    """byId, byReference, bm25 or nearVector."""
    sequential: ReadComparison
    """One request at a time."""
    concurrent: ReadComparison
    """readProbe.concurrency requests in flight."""
    note: str | None = Field(default=None, max_length=256)
    """How the SQLite side was measured, or why it was skipped."""


class ReadPerformance(StatusModel):
    """The validate Job's read-performance probe (spec.validation.readProbe)."""

    requests: int = Field(ge=0)
    """Requests asked per kind, store and run (each run's figures say how many were made)."""
    concurrency: int = Field(ge=1)
    """Requests in flight in the concurrent runs."""
    seconds: float = Field(ge=0)
    """How long the probe took."""
    kinds: list[ReadKindPerformance] = Field(default_factory=list, max_length=len(READ_KINDS))
    """Each read kind the migrated tables support."""
    error: str | None = Field(default=None, max_length=256)
    """Why the probe measured nothing (SQLite could not be read); unset when it ran."""


class ValidationReport(StatusModel):
    """Result of the latest validate Job."""

    job: str | None = Field(default=None, max_length=63)
    """Validate Job that wrote this report."""
    job_uid: str | None = Field(default=None, max_length=128)
    """uid of that Job (from its pod's downward API): switch accepts a report only from the
    validate Job the operator created, whose uid this must be."""
    started_at: Timestamp | None = None
    """When the validation started."""
    finished_at: Timestamp | None = None
    """When it finished; unset while running."""
    checked: int = Field(default=0, ge=0)
    """Records compared."""
    missing: int = Field(default=0, ge=0)
    """Records in SQLite but not in Weaviate."""
    extra: int = Field(default=0, ge=0)
    """Objects in Weaviate without a SQLite record."""
    mismatched: int = Field(default=0, ge=0)
    """Records whose content hashes differ."""
    dangling_references: int = Field(default=0, ge=0)
    """Cross-references whose target object is not in Weaviate."""
    wrong_references: int = Field(default=0, ge=0)
    """Cross-references that disagree with the SQLite foreign key: another object, set where
    it is NULL, or not set where it names a row."""
    passed: bool | None = None
    """The Job's verdict; the operator re-checks it against spec.validation.maxMismatches."""
    samples: list[ValidationSample] = Field(default_factory=list, max_length=MAX_SAMPLES)
    """Up to 10 differences."""
    report_ref: str | None = Field(default=None, max_length=253)
    """ConfigMap holding the full report."""
    reason: str | None = Field(default=None, pattern=REASON_PATTERN, max_length=128)
    """Why the validation could not conclude (OutboxNotDraining); unset when it did."""
    message: str | None = Field(default=None, max_length=1024)
    """What stopped it: outbox depth, oldest entry age and drain lease holder."""
    outbox_mark: int | None = Field(default=None, ge=0)
    """High-water mark of the app's dual-write outbox when the snapshot was taken; unset
    when the app's database has no outbox."""
    outbox_drained: bool | None = None
    """The drain had passed outboxMark before the verdict: every write committed before the
    snapshot was in Weaviate. switch needs it."""
    read_performance: ReadPerformance | None = None
    """Latency and error rate of the app's reads on Weaviate and on SQLite (the read probe);
    unset when the probe is disabled or the validation did not conclude."""

    @property
    def differences(self) -> int:
        return (
            self.missing
            + self.extra
            + self.mismatched
            + self.dangling_references
            + self.wrong_references
        )


class OutboxStatus(StatusModel):
    """The app's dual-write outbox as a Job last saw it in the app's database (the operator
    cannot read that file; the copy, sync and validate Jobs can)."""

    job: str | None = Field(default=None, max_length=63)
    """Job that looked."""
    depth: int = Field(default=0, ge=0)
    """Entries waiting to be drained to Weaviate."""
    oldest_age_seconds: float = Field(default=0.0, ge=0)
    """Age of the oldest waiting entry."""
    high_water_mark: int = Field(default=0, ge=0)
    """Highest entry id ever written."""
    lease_holder: str | None = Field(default=None, max_length=253)
    """App process holding the drain lease; unset when nobody drains."""
    lease_expires_at: Timestamp | None = None
    """When the drain lease expires unless renewed, live or not (its holder renews it every
    ttl/4 and sets it to the stop time on a clean stop): the last heartbeat an app process
    wrote into this file. Unset when no process ever took the lease."""
    waiting: str | None = Field(default=None, max_length=1024)
    """What the Job waits for while the outbox is behind; unset when it does not wait."""
    observed_at: Timestamp | None = None
    """When the Job looked."""


class DroppedCollection(StatusModel):
    """One collection a recreate drops, with what it held."""

    name: str = Field(max_length=128)
    """Weaviate collection."""
    objects: int = Field(default=0, ge=0)
    """Objects it held when the copy dropped it."""


class Recreation(StatusModel):
    """spec.recreateOnRerun as the copy carried it out: written before anything is dropped,
    so a retried Job of the same rerun resumes instead of dropping again."""

    rerun: int = Field(ge=0)
    """The spec.rerun whose copy dropped and recreated the collections."""
    job: str | None = Field(default=None, max_length=63)
    """The copy Job."""
    state: Literal["Dropping", "Dropped"]
    """Dropping: announced, the drop may be under way (a retry drops what is left);
    Dropped: done, the copy writes into the new collections."""
    collections: list[DroppedCollection] = Field(default_factory=list, max_length=64)
    """What is (or was) dropped."""
    at: Timestamp | None = None
    """When the state was recorded."""


class TableRows(StatusModel):
    """Rows of one migrated table in a backup."""

    table: str = Field(max_length=128)
    """SQLite table."""
    rows: int = Field(ge=0)
    """Rows it holds in the backup (the snapshot the copy read)."""


class BackupStatus(StatusModel):
    """The SQLite backup the copy Job kept before it migrated (written by that Job)."""

    job: str | None = Field(default=None, max_length=63)
    """Copy Job that took it."""
    claim: str = Field(max_length=253)
    """PersistentVolumeClaim holding it."""
    path: str = Field(max_length=2048)
    """The file, relative to the root of that claim."""
    size_bytes: int = Field(ge=0)
    """Size of the file."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", max_length=64)
    """SHA-256 of the file, checked against the file on the claim after it was written."""
    taken_at: Timestamp
    """When the snapshot was taken: the backup holds the database as it was then."""
    tables: list[TableRows] = Field(default_factory=list, max_length=32)
    """Rows per migrated table in the backup (`dmctl backup verify` compares them)."""
    retained: list[Annotated[str, Field(max_length=255)]] = Field(
        default_factory=list, max_length=100
    )
    """File names of this DataMigration's backups kept in that folder, newest first."""


class JobRecord(StatusModel):
    """A Job this DataMigration launched."""

    phase: Phase
    """Phase it ran for."""
    name: str = Field(max_length=63)
    """Job name."""
    state: JobState
    """Pending, Running, Succeeded, Failed, or Deleted (by rollback or supersession)."""
    started_at: Timestamp | None = None
    """Job start."""
    finished_at: Timestamp | None = None
    """Job completion."""
    message: str = Field(default="", max_length=1024)
    """Failure reason, if any."""


class HistoryEntry(StatusModel):
    """A state change of the DataMigration."""

    phase: Phase
    """Phase at the time."""
    at: Timestamp
    """When."""
    result: State
    """State entered."""
    message: str = Field(default="", max_length=1024)
    """Why."""


class ReadAnalysis(StatusModel):
    """What the app's dual-write library counted while a switch step's share was in effect:
    the figures a step's analysis is judged on."""

    compared: int = Field(default=0, ge=0)
    """Shadow reads compared (the same read answered by both stores)."""
    mismatched: int = Field(default=0, ge=0)
    """Compared reads whose rows differ."""
    weaviate_reads: int = Field(default=0, ge=0)
    """Reads sent to Weaviate (answering or shadow)."""
    weaviate_errors: int = Field(default=0, ge=0)
    """Of those, reads that failed or timed out."""
    latency_p99_ms: float | None = Field(default=None, ge=0)
    """99th percentile of Weaviate read latency (upper bound of its histogram bucket)."""
    dropped: int = Field(default=0, ge=0)
    """Shadow reads not run because the app's shadow queue was full."""
    pods: int = Field(default=0, ge=0)
    """App processes that reported."""

    @property
    def mismatch_percent(self) -> float:
        return 100.0 * self.mismatched / self.compared if self.compared else 0.0

    @property
    def error_percent(self) -> float:
        return 100.0 * self.weaviate_errors / self.weaviate_reads if self.weaviate_reads else 0.0


class SwitchAnalysisReport(ReadAnalysis):
    """Written by a switch step's analysis Job; the operator judges it against the step's
    thresholds."""

    job: str | None = Field(default=None, max_length=63)
    """Analysis Job that wrote this report."""
    job_uid: str | None = Field(default=None, max_length=128)
    """uid of that Job: the operator accepts a report only from the Job it created."""
    step: int = Field(default=0, ge=0)
    """Step analysed (1-based)."""
    read_percent: int = Field(default=0, ge=0, le=100)
    """Share the counted reads ran under."""
    since: Timestamp | None = None
    """Counts start here: when the step's share was written."""
    finished_at: Timestamp | None = None
    """When the Job concluded."""
    reason: str | None = Field(default=None, pattern=REASON_PATTERN, max_length=128)
    """Why it could not conclude (SwitchAnalysisInconclusive); unset when it did."""
    message: str | None = Field(default=None, max_length=1024)
    """What it saw."""


SwitchStepResult = Literal["Pausing", "Analyzing", "Passed", "Failed", "Inconclusive"]


class SwitchStepStatus(ReadAnalysis):
    """One step of a gradual switch as the operator walked it."""

    step: int = Field(ge=1)
    """Step number (1-based)."""
    read_percent: int = Field(ge=0, le=100)
    """Share of reads answered from Weaviate."""
    started_at: Timestamp | None = None
    """When the share was written to the app's ConfigMap."""
    finished_at: Timestamp | None = None
    """When the step passed or failed."""
    result: SwitchStepResult = "Pausing"
    """Pausing, Analyzing, Passed, Failed or Inconclusive."""
    message: str = Field(default="", max_length=1024)
    """The verdict with its figures."""


class SwitchStatus(StatusModel):
    """The gradual read switch: where it is and how each step went."""

    phase_generation: int | None = Field(default=None, ge=0)
    """The switch this walk belongs to (with `rerun`): a new one starts from step 1."""
    rerun: int | None = Field(default=None, ge=0)
    """spec.rerun of this walk."""
    step: int | None = Field(default=None, ge=1)
    """Current step (1-based)."""
    read_percent: int = Field(default=0, ge=0, le=100)
    """Share of reads the app answers from Weaviate now."""
    steps: list[SwitchStepStatus] = Field(default_factory=list, max_length=MAX_SWITCH_STEP_RECORDS)
    """Each step reached, in order."""


class DataMigrationStatus(StatusModel):
    """Observed state of a migration."""

    observed_generation: int | None = Field(default=None, ge=0)
    """metadata.generation last reconciled."""
    phase: Phase | None = None
    """Phase last reconciled."""
    phase_generation: int | None = Field(default=None, ge=0)
    """metadata.generation at which the current phase began; with spec.rerun it names the Job."""
    state: State | None = None
    """Pending, Running, Succeeded, Failed or Blocked."""
    message: str | None = Field(default=None, max_length=1024)
    """What is happening or what blocks."""
    mode: ModeStatus = Field(default_factory=ModeStatus)
    """Migration mode."""
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=8,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Migrated, DualWriteReady, Validated, ReadsSwitched, RolledBack, RollbackReady, Ready."""
    progress: Progress | None = None
    """Written by copy and sync Jobs."""
    validation: ValidationReport | None = None
    """Written by validate Jobs."""
    outbox: OutboxStatus | None = None
    """The app's dual-write outbox as the sync or validate Job last saw it."""
    recreated: Recreation | None = None
    """The last spec.recreateOnRerun the copy carried out (Job-written)."""
    backup: BackupStatus | None = None
    """The SQLite backup the last copy Job kept before it migrated."""
    jobs: list[JobRecord] = Field(default_factory=list, max_length=MAX_JOB_RECORDS)
    """Recent Jobs, newest last."""
    switch: SwitchStatus | None = None
    """The gradual read switch (spec.switch.steps); unset when reads move at once."""
    switch_analysis: SwitchAnalysisReport | None = None
    """Written by the analysis Job of the current switch step."""
    history: list[HistoryEntry] = Field(default_factory=list, max_length=MAX_HISTORY)
    """Recent state changes, newest last."""
