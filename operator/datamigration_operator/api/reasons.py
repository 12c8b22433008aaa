"""Condition types, condition reasons and event reasons: the vocabulary of `kubectl describe`."""

from __future__ import annotations

from typing import Final, Literal

ConditionType = Literal[
    "Migrated",
    "DualWriteReady",
    "Validated",
    "ReadsSwitched",
    "RolledBack",
    "RollbackReady",
    "Ready",
]
ConditionStatus = Literal["True", "False", "Unknown"]
EventType = Literal["Normal", "Warning"]

MIGRATED: Final[ConditionType] = "Migrated"
DUAL_WRITE_READY: Final[ConditionType] = "DualWriteReady"
VALIDATED: Final[ConditionType] = "Validated"
READS_SWITCHED: Final[ConditionType] = "ReadsSwitched"
ROLLED_BACK: Final[ConditionType] = "RolledBack"
# The way back is known to work (reconcile.rollback_readiness); switch needs it.
ROLLBACK_READY: Final[ConditionType] = "RollbackReady"
READY: Final[ConditionType] = "Ready"
CONDITION_TYPES: Final[tuple[ConditionType, ...]] = (
    MIGRATED,
    DUAL_WRITE_READY,
    VALIDATED,
    READS_SWITCHED,
    ROLLED_BACK,
    ROLLBACK_READY,
    READY,
)

# Condition reasons (CamelCase, as Kubernetes expects).
NOT_STARTED: Final = "NotStarted"
JOB_PENDING: Final = "JobPending"
JOB_RUNNING: Final = "JobRunning"
JOB_SUCCEEDED: Final = "JobSucceeded"
JOB_FAILED: Final = "JobFailed"
WAITING_FOR_ROLLOUT: Final = "WaitingForRollout"
MODE_APPLIED: Final = "ModeApplied"
PHASE_COMPLETE: Final = "PhaseComplete"
PHASE_CHANGED: Final = "PhaseChanged"
ROLLING_BACK: Final = "RollingBack"
ROLLED_BACK_REASON: Final = "RolledBack"
VALIDATION_RUNNING: Final = "ValidationRunning"
VALIDATION_PASSED: Final = "ValidationPassed"
VALIDATION_MISMATCH: Final = "ValidationMismatch"
# status.validation does not carry the uid of the validate Job the operator created for it:
# someone else wrote it (or the Job is gone), so it proves nothing.
VALIDATION_NOT_FROM_ITS_JOB: Final = "ValidationNotFromItsJob"
# The validate Job could not conclude: the app's dual-write outbox did not drain in time.
OUTBOX_NOT_DRAINING: Final = "OutboxNotDraining"
# The validate Job waits for the app's outbox to drain (status.outbox says how far behind).
OUTBOX_BEHIND: Final = "OutboxBehind"

# RollbackReady (reconcile.rollback_readiness): True, Unknown (a part the operator cannot
# observe), or False with the first part that fails; switch is Blocked with the False reason.
ROLLBACK_PATH_READY: Final = "RollbackPathReady"
ROLLBACK_PATH_UNOBSERVED: Final = "RollbackPathUnobserved"
# No sync or validate Job looked at the app's outbox in this dual-write epoch, recently enough.
OUTBOX_NOT_OBSERVED: Final = "OutboxNotObserved"
# No app process holds the outbox drain lease: dual writes would pile up in the outbox.
DRAINER_NOT_RUNNING: Final = "DrainerNotRunning"
# The drain is alive but its oldest waiting entry is older than spec.rollback.maxOutboxLag.
OUTBOX_LAGGING: Final = "OutboxLagging"
# No app write (drain lease heartbeat) landed in spec.source's file since dual-write began.
SOURCE_NOT_CURRENT: Final = "SourceNotCurrent"
# The app ConfigMap lacks our record of the key's value before the migration.
PREVIOUS_MODE_NOT_RECORDED: Final = "PreviousModeNotRecorded"
# The last mode change has not reached every pod of spec.app.workloads yet.
MODE_PROPAGATION_PENDING: Final = "ModePropagationPending"
# The last mode change took longer than spec.rollback.maxPropagation to reach every pod.
MODE_PROPAGATION_SLOW: Final = "ModePropagationSlow"
# The gradual read switch (spec.switch.steps): a step holds its share, then its analysis judges.
SWITCH_STEP_PAUSED: Final = "SwitchStepPaused"
SWITCH_ANALYSIS_RUNNING: Final = "SwitchAnalysisRunning"
# A step's analysis measured a mismatch, error or latency over its threshold: reads went back
# to SQLite (dual_write, share 0) by themselves.
SWITCH_ANALYSIS_FAILED: Final = "SwitchAnalysisFailed"
# A step's analysis saw fewer than minSamples compared reads before its timeout.
SWITCH_ANALYSIS_INCONCLUSIVE: Final = "SwitchAnalysisInconclusive"

# Reasons a phase is Blocked: gates, then inputs the operator cannot act on.
MIGRATION_REQUIRED: Final = "MigrationRequired"
DUAL_WRITE_REQUIRED: Final = "DualWriteRequired"
VALIDATION_REQUIRED: Final = "ValidationRequired"
VALIDATION_STALE: Final = "ValidationStale"
OUTBOX_NOT_DRAINED: Final = "OutboxNotDrained"
CONFIGMAP_NOT_FOUND: Final = "ConfigMapNotFound"
CONFIGMAP_OWNED_BY_OTHER: Final = "ConfigMapOwnedByOther"
CONFIGMAP_UNKNOWN_MODE: Final = "ConfigMapUnknownMode"
# A target collection (same Weaviate endpoint) belongs to another, older DataMigration.
COLLECTION_OWNED_BY_OTHER: Final = "CollectionOwnedByOther"
WORKLOAD_NOT_FOUND: Final = "WorkloadNotFound"
SECRET_NOT_FOUND: Final = "SecretNotFound"
CLAIM_NOT_FOUND: Final = "ClaimNotFound"
# spec.jobTemplate asks for an image or ServiceAccount the operator was not started to allow.
JOB_IMAGE_NOT_ALLOWED: Final = "JobImageNotAllowed"
JOB_SERVICE_ACCOUNT_NOT_ALLOWED: Final = "JobServiceAccountNotAllowed"

# Event reasons beyond the condition reasons above (Warning events reuse the Blocked reasons).
EVENT_PHASE_STARTED: Final = "PhaseStarted"
EVENT_PHASE_SUCCEEDED: Final = "PhaseSucceeded"
EVENT_MODE_CHANGED: Final = "ModeChanged"
EVENT_JOB_CREATED: Final = "JobCreated"
EVENT_JOBS_DELETED: Final = "JobsDeleted"
EVENT_CONFIGMAP_RELEASED: Final = "ConfigMapReleased"
EVENT_JOB_FAILED: Final = JOB_FAILED
EVENT_VALIDATION_FAILED: Final = VALIDATION_MISMATCH
EVENT_SWITCH_STEP: Final = "SwitchStep"
