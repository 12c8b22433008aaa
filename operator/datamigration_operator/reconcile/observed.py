"""What the handlers observe before planning: the DataMigration and the objects around it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from datamigration_operator.api.phases import JobState, Phase
from datamigration_operator.api.spec import DataMigrationSpec, WorkloadRef
from datamigration_operator.api.status import DataMigrationStatus


@dataclass(frozen=True)
class ObservedJob:
    """A Job owned by this DataMigration (found by our labels)."""

    name: str
    phase: Phase
    state: JobState
    generation: int
    """metadata.generation of the DataMigration when the Job was created (its annotation)."""
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    uid: str = ""
    """metadata.uid: a validation report counts only when it carries its validate Job's."""
    termination_message: str = ""
    """Of a failed Job: what its last failed pod's container said at exit (the Job writes its
    final error to its terminationMessagePath; else the kubelet keeps the tail of the log)."""

    @property
    def active(self) -> bool:
        return self.state in ("Pending", "Running")


@dataclass(frozen=True)
class ObservedConfigMap:
    """The app's ConfigMap; `value` is None when the key is absent, `owner` is our owner
    annotation (None when no DataMigration claimed the key yet)."""

    exists: bool
    value: str | None = None
    owner: str | None = None
    original: str | None = None
    """The key's value before the owner claimed it ("" when it was absent; None: unknown)."""
    read_share: str | None = None
    """The gradual switch's share key (`<key>_read_percent`); None when absent."""


@dataclass(frozen=True)
class ObservedWorkload:
    ref: WorkloadRef
    exists: bool
    stamped_mode: str | None = None
    """Mode in the pod template annotation."""
    rollout_complete: bool = False
    """Every replica runs the current pod template, and no pod of an older one is left
    (terminating ones included)."""
    pods_in_other_modes: tuple[str, ...] = ()
    """Pods left of an older template (terminating): what a complete rollout still waits for."""


@dataclass(frozen=True)
class ObservedClaim:
    """The source PersistentVolumeClaim."""

    read_write_once: bool
    node_name: str | None = None
    """Node of the running pod that mounts the claim, if any."""
    capacity: int | None = None
    """Bytes the claim holds (status.capacity, else its request): what bounds the source."""


@dataclass(frozen=True)
class JobPolicy:
    """What the operator was started to allow in spec.jobTemplate: its own image (the
    default) and the per-migration ServiceAccount always; anything else only when listed."""

    default_image: str = ""
    allowed_images: frozenset[str] = frozenset()
    allowed_service_accounts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OtherMigration:
    """Another DataMigration the operator sees, by what could collide with this one: the
    Weaviate endpoint and the collections it writes."""

    owner: str
    """`<namespace>/<name>`: its id namespace."""
    created_at: datetime | None
    endpoint: str
    """`host:port` of its Weaviate REST endpoint, lower-cased."""
    collections: frozenset[str]
    """Its target collections, lower-cased (Weaviate compares class names so)."""
    started: bool = False
    """It has created a Job (status.jobs): it may have written to its collections."""


@dataclass(frozen=True)
class Observation:
    """Everything the planner decides from; `now` makes time explicit for tests."""

    name: str
    namespace: str
    generation: int
    spec: DataMigrationSpec
    status: DataMigrationStatus
    now: datetime
    config_map: ObservedConfigMap
    jobs: tuple[ObservedJob, ...] = ()
    workloads: tuple[ObservedWorkload, ...] = ()
    claim: ObservedClaim | None = None
    """None when the claim does not exist."""
    secrets: Mapping[str, frozenset[str] | None] = field(default_factory=dict)
    """Referenced Secrets that exist, with their keys; None for one the operator may not
    read (not granted by default), which is then not checked."""
    job_policy: JobPolicy = JobPolicy()
    """The operator's settings for Job images and ServiceAccounts."""
    created_at: datetime | None = None
    """This DataMigration's metadata.creationTimestamp: of two claiming one collection, the
    older keeps it."""
    other_migrations: tuple[OtherMigration, ...] = ()
    """Every other DataMigration the operator may list (not being deleted)."""
