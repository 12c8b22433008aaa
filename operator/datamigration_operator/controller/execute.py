"""Carries out the planner's actions in order; the first failure stops the rest (the next
reconcile observes again and plans what is left)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datamigration_operator.api.names import API_VERSION, KIND, owner_id
from datamigration_operator.builders.configmap import mode_patch, release_patch
from datamigration_operator.builders.job import build_job
from datamigration_operator.builders.job_access import build_job_access
from datamigration_operator.builders.workloads import stamp_patch
from datamigration_operator.controller.observe import World
from datamigration_operator.kube.client import KubeClient
from datamigration_operator.kube.errors import RETRY_DELAY, KubeApiError
from datamigration_operator.kube.events import EventRecorder, InvolvedObject
from datamigration_operator.kube.resources import (
    CONFIGMAPS,
    DATAMIGRATIONS,
    JOB_ACCESS,
    JOBS,
    WORKLOADS,
)
from datamigration_operator.reconcile.actions import (
    Action,
    ApplyMode,
    Block,
    CreateJob,
    DeleteJobs,
    EmitEvent,
    EnsureJobAccess,
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
    target: World | InvolvedObject,
    actions: Sequence[Action],
) -> None:
    """`target`: the observed World; or, for a DataMigration whose spec the model refused,
    only the object, which is enough for the one thing planned for it: status and events."""
    for action in actions:
        await execute_one(client, recorder, target, action)


async def _create_job(client: KubeClient, namespace: str, body: dict[str, Any]) -> None:
    try:
        await client.create(JOBS, namespace, body)
    except KubeApiError as exc:
        if not exc.already_exists:
            raise


async def _ensure_owned(client: KubeClient, namespace: str, uid: str, body: dict[str, Any]) -> None:
    """Create `body`; one that exists must be ours (controlled by this DataMigration). One of
    a deleted DataMigration of the same name (old uid) is waited out until garbage collection
    removes it; one someone else made is never adopted: its rules would not be ours."""
    kind, name = body["kind"], body["metadata"]["name"]
    resource = JOB_ACCESS[kind]
    try:
        await client.create(resource, namespace, body)
        return
    except KubeApiError as exc:
        if not exc.already_exists:
            raise
    existing = await client.get(resource, namespace, name)
    refs = [] if existing is None else existing["metadata"].get("ownerReferences") or []
    if any(ref.get("uid") == uid and ref.get("controller") for ref in refs):
        return
    raise KubeApiError(
        409,
        "NotOwned",
        f"{kind} {namespace}/{name} exists but is not controlled by this DataMigration "
        "(garbage collection of an earlier one with the same name, or someone else's); "
        "its Jobs wait",
        retry_after=RETRY_DELAY,
    )


async def execute_one(
    client: KubeClient,
    recorder: EventRecorder,
    target: World | InvolvedObject,
    action: Action,
) -> None:
    subject = target if isinstance(target, InvolvedObject) else involved(target)
    if isinstance(action, SetStatus):
        await client.merge_patch(
            DATAMIGRATIONS,
            subject.namespace,
            subject.name,
            {"status": dict(action.patch)},
            subresource="status",
        )
        return
    if isinstance(action, EmitEvent):
        await recorder.record(subject, action.type, action.reason, action.message)
        return
    if isinstance(action, Block):
        return  # nothing to change: a timer or an event re-plans
    if isinstance(target, InvolvedObject):
        raise TypeError(f"{type(action).__name__} needs the observed DataMigration")
    world = target
    dm = world.datamigration
    ns, name = dm.metadata.namespace, dm.metadata.name
    if isinstance(action, ApplyMode):
        share = (
            None if action.read_share_key is None else (action.read_share_key, action.read_share)
        )
        patch: dict[str, Any] = mode_patch(
            action.key,
            action.mode,
            action.previous,
            owner_id(ns, name),
            claim=action.claim,
            read_share=share,
        )
        if world.config_map_version:
            # Optimistic concurrency: if the ConfigMap changed since we looked (another
            # DataMigration claimed it, someone edited the key), the API answers 409.
            patch["metadata"]["resourceVersion"] = world.config_map_version
        await client.merge_patch(CONFIGMAPS, ns, action.config_map, patch)
    elif isinstance(action, StampWorkloads):
        for ref in action.workloads:
            await client.merge_patch(WORKLOADS[ref.kind], ns, ref.name, stamp_patch(action.mode))
    elif isinstance(action, EnsureJobAccess):
        for obj in build_job_access(dm, action.name):
            await _ensure_owned(client, ns, dm.metadata.uid, obj)
    elif isinstance(action, CreateJob):
        job = build_job(
            dm,
            kind=action.kind,
            name=action.name,
            phase=action.phase,
            generation=action.generation,
            image=action.image,
            service_account=action.service_account,
            node_name=action.node_name,
            scratch_size_limit=action.scratch_size_limit,
            analysis=action.analysis,
        )
        await _create_job(client, ns, job)
    elif isinstance(action, DeleteJobs):
        for job_name in action.names:
            await client.delete(JOBS, ns, job_name, propagation="Background")
    elif isinstance(action, ReleaseConfigMap):
        release = release_patch(
            action.key,
            restore=action.restore,
            value=action.value,
            read_share_key=action.read_share_key,
        )
        if world.config_map_version:  # someone else may have claimed it since we looked
            release["metadata"]["resourceVersion"] = world.config_map_version
        await client.merge_patch(CONFIGMAPS, ns, action.config_map, release)
