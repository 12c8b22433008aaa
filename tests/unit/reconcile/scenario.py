"""Observed states for planner tests, and a pure simulator that applies planned actions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from datamigration_operator.api.names import owner_id
from datamigration_operator.api.phases import Phase
from datamigration_operator.api.resource import DataMigration
from datamigration_operator.api.spec import DataMigrationSpec
from datamigration_operator.api.status import DataMigrationStatus
from datamigration_operator.reconcile.actions import (
    Action,
    ApplyMode,
    CreateJob,
    DeleteJobs,
    SetStatus,
    StampWorkloads,
)
from datamigration_operator.reconcile.observed import (
    Observation,
    ObservedClaim,
    ObservedConfigMap,
    ObservedJob,
    ObservedWorkload,
)
from datamigration_operator.reconcile.status_patch import apply_merge_patch

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
NAME, NAMESPACE = "shop", "apps"
ME = owner_id(NAMESPACE, NAME)


def spec_dict(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "phase": "migrate",
        "source": {"claimName": "shop-data", "path": "db/shop.sqlite"},
        "target": {
            "http": {"host": "weaviate.weaviate.svc", "port": 8080},
            "grpc": {"host": "weaviate.weaviate.svc", "port": 50051},
            "apiKeySecretRef": {"name": "weaviate-auth", "key": "api-key"},
        },
        "collections": [
            {"table": "customers", "collection": "Customer"},
            {
                "table": "orders",
                "collection": "Order",
                "references": [{"column": "customer_id", "targetTable": "customers"}],
                "vectorColumn": "embedding",
            },
        ],
        "app": {"configMapRef": {"name": "shop-config"}},
    }
    spec.update(overrides)
    return spec


def manifest(**spec_overrides: Any) -> dict[str, Any]:
    return {
        "apiVersion": "migrations.gremlins.ai/v1alpha1",
        "kind": "DataMigration",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "uid": "u-1", "generation": 1},
        "spec": spec_dict(**spec_overrides),
    }


def datamigration(**spec_overrides: Any) -> DataMigration:
    return DataMigration.from_object(manifest(**spec_overrides))


def observation(
    phase: Phase = "migrate",
    *,
    generation: int = 1,
    status: DataMigrationStatus | None = None,
    config_map: ObservedConfigMap | None = None,
    jobs: tuple[ObservedJob, ...] = (),
    workloads: tuple[ObservedWorkload, ...] = (),
    now: datetime = NOW,
    **spec_overrides: Any,
) -> Observation:
    spec = DataMigrationSpec.model_validate(spec_dict(phase=phase, **spec_overrides))
    return Observation(
        name=NAME,
        namespace=NAMESPACE,
        generation=generation,
        spec=spec,
        status=status or DataMigrationStatus(),
        now=now,
        config_map=config_map or ObservedConfigMap(exists=True),
        jobs=jobs,
        workloads=workloads,
        claim=ObservedClaim(read_write_once=False),
        secrets={"weaviate-auth": frozenset({"api-key"})},
    )


def apply(obs: Observation, actions: list[Action], *, rollouts_finish: bool = False) -> Observation:
    """What the cluster looks like after the handlers executed `actions`."""
    config_map, jobs = obs.config_map, {j.name: j for j in obs.jobs}
    workloads = {w.ref: w for w in obs.workloads}
    status = obs.status
    for action in actions:
        if isinstance(action, ApplyMode):
            # the claim records the key's value before it (builders.configmap.mode_patch)
            original = (action.previous or "") if action.claim else config_map.original
            share = config_map.read_share if action.read_share_key is None else action.read_share
            config_map = ObservedConfigMap(
                exists=True, value=action.mode, owner=ME, original=original, read_share=share
            )
        elif isinstance(action, StampWorkloads):
            for ref in action.workloads:
                workloads[ref] = dataclasses.replace(
                    workloads[ref], stamped_mode=action.mode, rollout_complete=rollouts_finish
                )
        elif isinstance(action, CreateJob):
            jobs.setdefault(
                action.name,
                ObservedJob(
                    action.name,
                    action.phase,
                    "Pending",
                    action.generation,
                    uid=job_uid(action.name),
                ),
            )
        elif isinstance(action, DeleteJobs):
            for name in action.names:
                jobs.pop(name, None)
        elif isinstance(action, SetStatus):
            dumped = status.model_dump(mode="json", by_alias=True, exclude_none=True)
            status = DataMigrationStatus.model_validate(
                apply_merge_patch(dumped, dict(action.patch))
            )
    return dataclasses.replace(
        obs,
        config_map=config_map,
        jobs=tuple(jobs.values()),
        workloads=tuple(workloads.values()),
        status=status,
    )


def job_uid(name: str) -> str:
    """The uid the simulated API server gives the Job `name`."""
    return f"uid-of-{name}"


def with_job_state(obs: Observation, name: str, state: str, message: str = "") -> Observation:
    jobs = tuple(
        dataclasses.replace(j, state=state, message=message) if j.name == name else j
        for j in obs.jobs
    )
    return dataclasses.replace(obs, jobs=jobs)


def later(obs: Observation, seconds: float) -> Observation:
    return dataclasses.replace(obs, now=obs.now + timedelta(seconds=seconds))
