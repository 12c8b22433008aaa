"""Carries out the planner's actions in order; the first failure stops the rest (the next
reconcile observes again and plans what is left)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datamigration_operator.api.names import API_VERSION, KIND, owner_id
from datamigration_operator.builders.configmap import mode_patch, release_patch
from datamigration_operator.builders.job import build_job
from datamigration_operator.builders.workloads import stamp_patch
from datamigration_operator.kube.client import KubeClient
from datamigration_operator.kube.errors import KubeApiError
from datamigration_operator.kube.events import EventRecorder, InvolvedObject
from datamigration_operator.kube.observe import World
from datamigration_operator.kube.resources import CONFIGMAPS, DATAMIGRATIONS, JOBS, WORKLOADS
from datamigration_operator.reconcile.actions import (
    Action,
    ApplyMode,
    Block,
    CreateJob,
    DeleteJobs,
    EmitEvent,
    ReleaseConfigMap,
    SetStatus,
    StampWorkloads,
)


def involved(world: World) -> InvolvedObject:
    meta = world.datamigration.metadata
    return InvolvedObject(API_VERSION, KIND, meta.namespace, meta.name, meta.uid)


async def execute(
    client: KubeClient,
    recorder: EventRecorder,
    world: World,
    actions: Sequence[Action],
    *,
    default_image: str,
) -> None:
    for action in actions:
        await execute_one(client, recorder, world, action, default_image=default_image)


async def execute_one(
    client: KubeClient,
    recorder: EventRecorder,
    world: World,
    action: Action,
    *,
    default_image: str,
) -> None:
    dm = world.datamigration
    ns, name = dm.metadata.namespace, dm.metadata.name
    if isinstance(action, ApplyMode):
        patch: dict[str, Any] = mode_patch(
            action.key, action.mode, action.previous, owner_id(ns, name), claim=action.claim
        )
        if world.config_map_version:
            # Optimistic concurrency: if the ConfigMap changed since we looked (another
            # DataMigration claimed it, someone edited the key), the API answers 409.
            patch["metadata"]["resourceVersion"] = world.config_map_version
        await client.merge_patch(CONFIGMAPS, ns, action.config_map, patch)
    elif isinstance(action, StampWorkloads):
        for ref in action.workloads:
            await client.merge_patch(WORKLOADS[ref.kind], ns, ref.name, stamp_patch(action.mode))
    elif isinstance(action, CreateJob):
        job = build_job(
            dm,
            kind=action.kind,
            name=action.name,
            phase=action.phase,
            generation=action.generation,
            default_image=default_image,
            node_name=action.node_name,
        )
        try:
            await client.create(JOBS, ns, job)
        except KubeApiError as exc:
            if not exc.already_exists:
                raise
    elif isinstance(action, DeleteJobs):
        for job_name in action.names:
            await client.delete(JOBS, ns, job_name, propagation="Background")
    elif isinstance(action, SetStatus):
        await client.merge_patch(
            DATAMIGRATIONS, ns, name, {"status": dict(action.patch)}, subresource="status"
        )
    elif isinstance(action, EmitEvent):
        await recorder.record(involved(world), action.type, action.reason, action.message)
    elif isinstance(action, ReleaseConfigMap):
        release = release_patch(action.key, restore=action.restore, value=action.value)
        if world.config_map_version:  # someone else may have claimed it since we looked
            release["metadata"]["resourceVersion"] = world.config_map_version
        await client.merge_patch(CONFIGMAPS, ns, action.config_map, release)
    elif isinstance(action, Block):
        pass  # nothing to change: a timer or an event re-plans
