"""What the planner asks the handlers to do, in order; a failing action stops the rest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from datamigration_operator.api.job_contract import AnalysisWindow
from datamigration_operator.api.phases import JobKind, Mode, Phase
from datamigration_operator.api.reasons import EventType
from datamigration_operator.api.spec import WorkloadRef


@dataclass(frozen=True)
class ApplyMode:
    """Merge-patch the mode key of the app's ConfigMap (builders.configmap.mode_patch)."""

    config_map: str
    key: str
    mode: Mode
    previous: str | None
    claim: bool = False
    """The key was not ours yet: record `previous` as the value deletion restores."""
    read_share_key: str | None = None
    """Also set this key (`<key>_read_percent`, a gradual switch's share) to `read_share`;
    None: leave it as it is."""
    read_share: str | None = None
    """The share ("1".."99"); None removes the key (no partial share)."""


@dataclass(frozen=True)
class StampWorkloads:
    """Write the mode into these workloads' pod templates, which rolls them."""

    mode: Mode
    workloads: tuple[WorkloadRef, ...]


@dataclass(frozen=True)
class EnsureJobAccess:
    """Create the ServiceAccount, Role and RoleBinding named `name` that let this
    DataMigration's Jobs report to it and nothing more (builders.job_access); AlreadyExists
    counts as success."""

    name: str


@dataclass(frozen=True)
class CreateJob:
    """Create the phase's Job (builders.job.build_job); AlreadyExists counts as success."""

    kind: JobKind
    name: str
    phase: Phase
    generation: int
    node_name: str | None
    image: str
    service_account: str
    scratch_size_limit: str | None = None
    """sizeLimit of the Job's scratch emptyDir (snapshot and diff files)."""
    analysis: AnalysisWindow | None = None
    """What an analyze Job judges."""


@dataclass(frozen=True)
class DeleteJobs:
    """Delete these Jobs of this DataMigration with propagationPolicy Background."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class SetStatus:
    """JSON merge patch for .status (only the fields the operator owns)."""

    patch: Mapping[str, Any]


@dataclass(frozen=True)
class EmitEvent:
    type: EventType
    reason: str
    message: str


@dataclass(frozen=True)
class Block:
    """Not a change: the phase waits for a gate or an input; re-plan later (timer or event)."""

    reason: str
    message: str


@dataclass(frozen=True)
class ReleaseConfigMap:
    """Drop our annotations from the app's ConfigMap; with `restore`, set the key back to it
    (None: remove the key, which was absent before the migration)."""

    config_map: str
    key: str
    restore: bool
    value: str | None
    read_share_key: str | None = None
    """Remove this key too (a gradual switch's share), whatever `restore` says."""


Action = (
    ApplyMode
    | StampWorkloads
    | EnsureJobAccess
    | CreateJob
    | DeleteJobs
    | SetStatus
    | EmitEvent
    | Block
    | ReleaseConfigMap
)
MUTATING = (
    ApplyMode,
    StampWorkloads,
    EnsureJobAccess,
    CreateJob,
    DeleteJobs,
    SetStatus,
    EmitEvent,
    ReleaseConfigMap,
)
