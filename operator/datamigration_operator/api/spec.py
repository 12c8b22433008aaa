"""The DataMigration spec: what to migrate, where to, which app to switch, how to run Jobs."""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Final, Literal, Self

from pydantic import Field, JsonValue, model_validator

from datamigration_operator.api.durations import Duration
from datamigration_operator.api.model_base import DnsSubdomain, SpecModel
from datamigration_operator.api.names import (
    DEFAULT_CONFIGMAP_KEY,
    READ_PERCENT_KEY_SUFFIX,
    fold_sql_name,
)
from datamigration_operator.api.phases import INITIAL_PHASE, Phase

# Any name SQLite accepts (spaces, dashes, quotes, unicode, keywords; the queries quote it),
# except a NUL, which no SQLite API passes through.
SQL_IDENTIFIER_PATTERN: Final = r"^[^\x00]+$"
COLLECTION_PATTERN: Final = r"^[A-Z][_0-9A-Za-z]*$"
PROPERTY_PATTERN: Final = r"^[_A-Za-z][_0-9A-Za-z]*$"
# Relative path whose segments start with a letter, digit or "_": no "..", no absolute paths.
RELATIVE_PATH_PATTERN: Final = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$"
# As above, and a segment may start with one "." (a hidden folder such as .datamigration), never
# be "." or "..".
DIRECTORY_PATTERN: Final = r"^\.?[A-Za-z0-9_][A-Za-z0-9_.-]*(/\.?[A-Za-z0-9_][A-Za-z0-9_.-]*)*$"
HOST_PATTERN: Final = r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$"
CONFIGMAP_KEY_PATTERN: Final = r"^[-._a-zA-Z0-9]+$"
QUANTITY_PATTERN: Final = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"

MAX_COLLECTIONS: Final = 32
MAX_PROPERTIES: Final = 128
MAX_REFERENCES: Final = 16
MAX_WORKLOADS: Final = 16
MAX_SWITCH_STEPS: Final = 10
MAX_BACKUPS_RETAINED: Final = 100

SqlIdentifier = Annotated[str, Field(pattern=SQL_IDENTIFIER_PATTERN, max_length=128)]
# Quantities may be written as YAML numbers (cpu: 1), so both int and string are accepted.
Quantity = int | Annotated[str, Field(pattern=QUANTITY_PATTERN, max_length=64)]
WeaviateDataType = Literal[
    "text", "int", "number", "boolean", "date", "uuid", "blob", "text[]", "int[]", "number[]"
]


def _map_list(*keys: str) -> dict[str, JsonValue]:
    """A list the API server merges and de-duplicates by these keys (server-side apply too)."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


class SourceSpec(SpecModel):
    """The SQLite database to read, on a PersistentVolumeClaim the Job mounts read-only."""

    claim_name: DnsSubdomain
    """PersistentVolumeClaim holding the SQLite file (same namespace)."""
    path: str = Field(pattern=RELATIVE_PATH_PATTERN, max_length=1024)
    """Path of the SQLite file relative to the root of the claim, e.g. data/app.db."""
    snapshot: bool = True
    """Copy from a consistent snapshot taken with SQLite's online-backup API."""


class BackupSpec(SpecModel):
    """The SQLite backup the copy Job keeps before it migrates: its consistent snapshot, written
    to a claim, checksummed, and pruned to the newest `retain` of this DataMigration."""

    enabled: bool = True
    """Keep a backup; false copies without one."""
    claim_name: DnsSubdomain | None = None
    """PersistentVolumeClaim to write it to (same namespace); defaults to spec.source.claimName
    (the source itself stays mounted read-only; the backup folder is a separate mount)."""
    path: str | None = Field(default=None, pattern=DIRECTORY_PATTERN, max_length=1024)
    """Folder relative to the root of that claim; defaults to .datamigration/backups/<name>.
    The Job runs as uid 65532: the folder must be writable by it (a missing folder is
    created with the mode of the claim's root)."""
    retain: int = Field(default=3, ge=1, le=MAX_BACKUPS_RETAINED)
    """Backups of this DataMigration kept there: once a new one is written and its checksum
    verified, the older ones beyond this count are deleted."""


class Endpoint(SpecModel):
    """A host and port."""

    host: str = Field(pattern=HOST_PATTERN, max_length=253)
    """DNS name or IPv4 address."""
    port: int = Field(ge=1, le=65535)
    """TCP port."""


class SecretKeyRef(SpecModel):
    """One key of a Secret in the DataMigration's namespace."""

    name: DnsSubdomain
    """Secret name."""
    key: str = Field(pattern=CONFIGMAP_KEY_PATTERN, max_length=253)
    """Key within the Secret."""


class TlsSpec(SpecModel):
    """TLS towards Weaviate (HTTP and gRPC)."""

    enabled: bool = False
    """Use https and TLS gRPC."""
    ca_secret_ref: SecretKeyRef | None = None
    """PEM CA bundle to trust instead of the system roots."""


class TargetSpec(SpecModel):
    """The Weaviate instance to write to."""

    http: Endpoint
    """Weaviate REST endpoint (schema, readiness)."""
    grpc: Endpoint
    """Weaviate gRPC endpoint (batch writes, reads)."""
    tls: TlsSpec = Field(default_factory=TlsSpec, json_schema_extra={"default": {}})
    """TLS settings."""
    api_key_secret_ref: SecretKeyRef | None = None
    """Weaviate API key; passed to Jobs only as a secretKeyRef environment variable."""


class PropertyMapping(SpecModel):
    """One column copied into one Weaviate property."""

    column: SqlIdentifier
    """SQLite column."""
    name: str | None = Field(default=None, pattern=PROPERTY_PATTERN, max_length=128)
    """Weaviate property name; defaults to the column name when Weaviate accepts it, else to
    its words in camelCase (unit price -> unitPrice)."""
    data_type: WeaviateDataType | None = None
    """Weaviate data type; inferred from the values (and the declared type) when omitted."""
    exclude: bool = False
    """Leave this column out of Weaviate (a secret, a cache); name and dataType must be unset."""

    @model_validator(mode="after")
    def _excluded_has_no_name_or_type(self) -> Self:
        if self.exclude and (self.name is not None or self.data_type is not None):
            raise ValueError(f"column {self.column} is excluded: leave out name and dataType")
        return self


class ReferenceMapping(SpecModel):
    """A foreign-key column turned into a Weaviate cross-reference."""

    column: SqlIdentifier
    """Column holding the primary key of the referenced row."""
    target_table: SqlIdentifier
    """Table the column points to; it must be mapped in spec.collections too."""
    property: str | None = Field(default=None, pattern=PROPERTY_PATTERN, max_length=128)
    """Reference property name in Weaviate; defaults to the column name, derived as for
    properties."""


class CollectionMapping(SpecModel):
    """One SQLite table migrated into one Weaviate collection."""

    table: SqlIdentifier
    """SQLite table, as SQLite spells it (any name: Order Details, order-items, ...)."""
    collection: str = Field(pattern=COLLECTION_PATTERN, max_length=128)
    """Weaviate collection (class) name; starts with an upper-case letter (dmctl derives
    OrderDetails from Order Details)."""
    id_column: SqlIdentifier = "id"
    """Primary-key column; object ids are UUIDv5 of (migration, table, this key)."""
    properties: list[PropertyMapping] = Field(
        default_factory=list, max_length=MAX_PROPERTIES, json_schema_extra=_map_list("column")
    )
    """Overrides: every column is copied (the key too, its Weaviate name source_id when it is
    called id) except the vector column, the reference columns and those listed with exclude:
    true; a listed column gets the name and dataType given here, the others theirs by the
    naming rule and the values."""
    references: list[ReferenceMapping] = Field(
        default_factory=list, max_length=MAX_REFERENCES, json_schema_extra=_map_list("column")
    )
    """Foreign keys to turn into cross-references."""
    vector_column: SqlIdentifier | None = None
    """Column holding a precomputed embedding (float32 blob or JSON array)."""

    @model_validator(mode="after")
    def _vector_column_is_not_the_id(self) -> Self:
        if self.vector_column is not None and self.vector_column == self.id_column:
            raise ValueError("vectorColumn must differ from idColumn")
        return self


class WorkloadRef(SpecModel):
    """A workload that reads the mode and must roll to pick it up."""

    kind: Literal["Deployment", "StatefulSet"]
    """Workload kind (apps/v1)."""
    name: DnsSubdomain
    """Workload name (same namespace)."""


class ConfigMapRef(SpecModel):
    """A ConfigMap in the DataMigration's namespace."""

    name: DnsSubdomain
    """ConfigMap name."""


class AppSpec(SpecModel):
    """The application whose migration mode the operator drives."""

    config_map_ref: ConfigMapRef
    """The app's ConfigMap; the operator patches one key of it and nothing else."""
    key: str = Field(
        default=DEFAULT_CONFIGMAP_KEY,
        pattern=CONFIGMAP_KEY_PATTERN,
        # a gradual switch writes `<key>_read_percent` too, and a ConfigMap key has 253 at most
        max_length=253 - len(READ_PERCENT_KEY_SUFFIX),
    )
    """Key holding sqlite_only, dual_write or weaviate_primary; a gradual switch also writes
    its share of reads to the key plus `_read_percent`."""
    workloads: list[WorkloadRef] = Field(
        default_factory=list, max_length=MAX_WORKLOADS, json_schema_extra=_map_list("kind", "name")
    )
    """Workloads restarted with the mode in their pod template; the mode counts as applied
    only after their rollouts complete."""
    on_delete: Literal["restore", "keep"] = "restore"
    """When this DataMigration is deleted: restore the key to the value it held before the
    migration claimed it (and roll the workloads to it), or keep the current mode (a finished
    migration that stays on weaviate_primary). Either way the claim is released."""


class ResourceAmounts(SpecModel):
    """CPU and memory quantities."""

    cpu: Quantity | None = None
    """CPU, e.g. 500m or 1."""
    memory: Quantity | None = None
    """Memory, e.g. 256Mi."""


class JobResources(SpecModel):
    """Requests and limits of the Job's container."""

    requests: ResourceAmounts = Field(
        default_factory=lambda: ResourceAmounts(cpu="250m", memory="256Mi"),
        json_schema_extra={"default": {"cpu": "250m", "memory": "256Mi"}},
    )
    """Guaranteed resources."""
    limits: ResourceAmounts = Field(
        default_factory=lambda: ResourceAmounts(cpu="1", memory="512Mi"),
        json_schema_extra={"default": {"cpu": "1", "memory": "512Mi"}},
    )
    """Maximum resources."""


class JobTemplateSpec(SpecModel):
    """How the copy, sync and validate Jobs run."""

    image: str | None = Field(default=None, min_length=1, max_length=512)
    """Container image; defaults to the operator's own image. Another image only if the
    operator was started with it in --allowed-job-images (else the phase is Blocked)."""
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    """Image pull policy; Kubernetes' default when omitted."""
    service_account_name: DnsSubdomain | None = None
    """ServiceAccount of the Jobs; defaults to the one the operator creates for this
    DataMigration (it may patch this DataMigration's status and create ConfigMaps, nothing
    more). Another one only if the operator was started with it in
    --allowed-job-service-accounts (else the phase is Blocked)."""
    resources: JobResources = Field(default_factory=JobResources, json_schema_extra={"default": {}})
    """Container resources."""
    batch_size: int = Field(default=500, ge=1, le=10_000)
    """Objects per Weaviate batch request."""
    concurrency: int = Field(default=2, ge=1, le=64)
    """Batches in flight at once."""
    objects_per_second: int = Field(default=0, ge=0, le=1_000_000)
    """Write rate limit; 0 means unlimited."""
    active_deadline_seconds: int = Field(default=21_600, ge=60, le=604_800)
    """Hard deadline of each Job."""
    backoff_limit: int = Field(default=3, ge=0, le=20)
    """Pod retries for retryable failures."""
    ttl_seconds_after_finished: int = Field(default=86_400, ge=0, le=2_592_000)
    """How long finished Jobs are kept."""


class ReadProbeSpec(SpecModel):
    """The read-performance probe the validate Job runs after its diff. It only reads: the
    app's declared reads (by id, by reference, BM25, near-vector) on Weaviate and the same
    queries on the Job's SQLite snapshot, each kind sequentially and then with `concurrency`
    requests in flight. On by default: it takes seconds and tells, before reads move, whether
    Weaviate answers as fast as SQLite did."""

    enabled: bool = True
    """Run the probe; its figures go to status.validation.readPerformance."""
    requests: int = Field(default=200, ge=10, le=10_000)
    """Requests per read kind, store and run (sequential, concurrent); keys are sampled
    evenly over the key order of the data. A run starts no request after 5 s, so a slow
    store bounds the probe's time (the kind's note then says how many were made)."""
    concurrency: int = Field(default=4, ge=1, le=64)
    """Requests in flight at once in the concurrent run."""


class ValidationSpec(SpecModel):
    """What counts as a passing, fresh validation."""

    max_age: Duration = "1h"
    """A validation older than this no longer allows switch."""
    max_mismatches: int = Field(default=0, ge=0, le=1_000_000)
    """Differences (missing + extra + mismatched + dangling and wrong references) still
    counted as passing."""
    recheck_delay: Duration = "5s"
    """Delay between the two looks at a difference that no pending dual write explains (a
    write that never reached the app's outbox). Differences with an outbox entry pending wait
    for the drain instead."""
    drain_timeout: Duration = "2m"
    """How long the validate Job waits for the app's outbox to drain (before it starts, and
    for writes in flight at a difference); then it ends with reason OutboxNotDraining."""
    read_probe: ReadProbeSpec = Field(
        default_factory=ReadProbeSpec, json_schema_extra={"default": {}}
    )
    """Read-performance probe of the validate Job."""
    max_read_p99: Duration | None = None
    """switch is Blocked (ReadPerformanceBelowTarget) while the Weaviate p99 of any read kind,
    sequential or concurrent, is above this (e.g. 100ms). Unset: no latency gate."""
    max_read_error_rate: float | None = Field(default=None, ge=0, le=1)
    """switch is Blocked (ReadPerformanceBelowTarget) while the share of failed Weaviate reads
    of any kind is above this (0.01 = 1%). Unset: no error-rate gate."""


class DiscoverSpec(SpecModel):
    """What the Jobs find in the SQLite database themselves (against the snapshot they copy
    from), derived as `dmctl plan` derives it, instead of being listed in spec.collections."""

    tables: Literal["listed", "all"] = "listed"
    """all: every table with a usable key, as `dmctl plan` proposes it (views, virtual tables,
    the dual-write outbox and tables without a usable key are skipped); an entry in
    spec.collections overrides what it sets of its table's (collection, idColumn, vectorColumn,
    references when it lists some, the properties it lists) and keeps the discovered rest.
    listed: spec.collections only."""
    references: Literal["listed", "fromForeignKeys"] = "listed"
    """fromForeignKeys: each declared single-column foreign key to a migrated table's primary
    key becomes a reference, unless the entry lists references (or some value points to no
    row: Weaviate refuses such references; the column stays a property). listed: only the
    references spec.collections lists."""


class RollbackSpec(SpecModel):
    """What the switch gate asks of the way back (condition RollbackReady)."""

    max_propagation: Duration = "5m"
    """Goal for a mode change to reach every pod of spec.app.workloads (status.mode changedAt
    to appliedAt): a rollback takes as long. switch waits while the last change took longer.
    A mounted ConfigMap alone refreshes on the kubelet's sync (60-90 s); the operator's
    pod-template stamp restarts the pods instead."""
    max_observation_age: Duration = "15m"
    """How old the last look at the app's outbox (status.outbox, taken by the validate Job)
    may be when switch is decided; older, run validate again."""
    max_outbox_lag: Duration = "1m"
    """Oldest waiting outbox entry allowed at that look: a drain further behind is not
    keeping up."""


class StepAnalysis(SpecModel):
    """When a switch step passes: thresholds over the app's shadow reads (a sample of reads
    also run against the other store and compared) and its Weaviate reads, counted by the
    dual-write library in the app's database since the step's share was in effect."""

    max_mismatch_percent: float = Field(default=0.0, ge=0, le=100)
    """Shadow reads whose rows differ between SQLite and Weaviate, in percent of compared
    reads; more rolls the switch back."""
    max_error_percent: float = Field(default=1.0, ge=0, le=100)
    """Weaviate reads that failed or timed out, in percent of Weaviate reads."""
    max_latency_p99: Duration | None = None
    """99th percentile of Weaviate read latency (e.g. 250ms); unset: not judged."""
    min_samples: int = Field(default=100, ge=1, le=10_000_000)
    """Compared shadow reads needed before a verdict."""
    timeout: Duration = "5m"
    """How long the analysis waits for minSamples after the pause; then the step is
    Inconclusive and reads go back to SQLite, as for a failed step."""


class SwitchStep(SpecModel):
    """One step of a gradual read switch: a share of reads, a pause, an analysis."""

    read_percent: int = Field(ge=1, le=100)
    """Percent of the app's declared reads answered from Weaviate (chosen per read by a
    stable hash, so one read goes to one store); 100 ends in weaviate_primary."""
    pause: Duration = "1m"
    """How long the share holds before the analysis judges it."""
    analysis: StepAnalysis | None = None
    """Thresholds that must hold for the next step; unset: the step passes after its pause."""


class SwitchSpec(SpecModel):
    """How switch moves reads to Weaviate."""

    steps: list[SwitchStep] = Field(default_factory=list, max_length=MAX_SWITCH_STEPS)
    """Increasing read shares, the last 100; empty: every read moves at once."""

    @model_validator(mode="after")
    def _steps_climb_to_all_reads(self) -> Self:
        for problem in switch_step_problems(self.steps):
            raise ValueError(problem)
        return self


def switch_step_problems(steps: list[SwitchStep]) -> list[str]:
    """The rules the CRD also enforces with CEL (api.admission_rules.switch_step_rules)."""
    if not steps:
        return []
    problems = []
    shares = [step.read_percent for step in steps]
    if any(later <= earlier for earlier, later in pairwise(shares)):
        problems.append(f"switch.steps readPercent must increase step by step, got {shares}")
    if shares[-1] != 100:
        problems.append(f"the last switch step must have readPercent 100, got {shares[-1]}")
    return problems


class DataMigrationSpec(SpecModel):
    """Desired state of a SQLite to Weaviate migration."""

    phase: Phase = INITIAL_PHASE
    """migrate -> dual-write -> validate -> switch; rollback from anywhere."""
    rerun: int = Field(default=0, ge=0, le=2_147_483_647)
    """Bump to run the current phase's Job again."""
    source: SourceSpec
    """Where the SQLite data lives."""
    backup: BackupSpec = Field(default_factory=BackupSpec, json_schema_extra={"default": {}})
    """The SQLite backup the copy Job keeps before it migrates."""
    target: TargetSpec
    """Where the data goes."""
    discover: DiscoverSpec = Field(default_factory=DiscoverSpec, json_schema_extra={"default": {}})
    """Tables and references the Jobs discover in the database instead of a full listing."""
    collections: list[CollectionMapping] = Field(
        default_factory=list,
        max_length=MAX_COLLECTIONS,
        json_schema_extra={**_map_list("table"), "default": []},
    )
    """Tables to migrate, each into one collection (at least one unless discover.tables is
    all, where these entries override the discovered ones)."""
    recreate_on_rerun: int | None = Field(default=None, ge=1, le=2_147_483_647)
    """When spec.rerun equals this number in phase migrate, that rerun's copy first drops and
    recreates the collections this migration owns (the Job logs them with their object counts
    and records them in status.recreated first; never another migration's collection, nor an
    unclaimed one holding objects). Once per rerun: Job retries and later reconciles of the
    same spec do not drop again. Typical use: switching an existing copy to references."""
    app: AppSpec
    """The application to switch."""
    job_template: JobTemplateSpec = Field(
        default_factory=JobTemplateSpec, json_schema_extra={"default": {}}
    )
    """Job settings."""
    validation: ValidationSpec = Field(
        default_factory=ValidationSpec, json_schema_extra={"default": {}}
    )
    """Validation policy."""
    rollback: RollbackSpec = Field(default_factory=RollbackSpec, json_schema_extra={"default": {}})
    """Rollback readiness policy."""
    switch: SwitchSpec = Field(default_factory=SwitchSpec, json_schema_extra={"default": {}})
    """Gradual read switch: steps of read share, pause and analysis."""

    @model_validator(mode="after")
    def _mapping_is_consistent(self) -> Self:
        if not self.collections and self.discover.tables != "all":
            raise ValueError("collections: list at least one table, or set discover.tables: all")
        for problem in mapping_problems(self.collections, discovered=self.discover.tables == "all"):
            raise ValueError(problem)
        return self


def mapping_problems(
    collections: list[CollectionMapping], *, discovered: bool = False
) -> list[str]:
    """The cross-field rules the CRD also enforces with CEL (see api.crd); with `discovered`
    (discover.tables: all) a reference may point to a table spec.collections does not list."""
    problems = []
    tables = [fold_sql_name(c.table) for c in collections]
    names = [c.collection for c in collections]
    for folded in sorted(_duplicates(tables)):
        spelled = ", ".join(repr(c.table) for c in collections if fold_sql_name(c.table) == folded)
        problems.append(
            f"table {spelled} is mapped more than once (SQLite ignores the case of ASCII letters)"
        )
    for name in sorted(_duplicates(names)):
        sharing = ", ".join(repr(c.table) for c in collections if c.collection == name)
        problems.append(
            f"collection {name} is used more than once (tables {sharing}); give each table "
            "its own collection"
        )
    for mapping in collections:
        for ref in mapping.references:
            if not discovered and fold_sql_name(ref.target_table) not in tables:
                problems.append(
                    f"reference {mapping.table}.{ref.column} points to table "
                    f"{ref.target_table}, which is not in spec.collections"
                )
    return problems


def _duplicates(values: list[str]) -> set[str]:
    return {v for v in values if values.count(v) > 1}
