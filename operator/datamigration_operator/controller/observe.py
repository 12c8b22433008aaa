"""Reads a DataMigration and everything around it into the planner's Observation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast, get_args

from datamigration_operator.api.job_contract import CONTAINER_NAME, JOB_UID_LABEL
from datamigration_operator.api.names import (
    ANNOTATION_CONFIGMAP_ORIGINAL,
    ANNOTATION_JOB_GENERATION,
    LABEL_DATAMIGRATION,
    LABEL_MANAGED_BY,
    LABEL_PHASE,
    OPERATOR_NAME,
    owner_id,
    read_percent_key,
)
from datamigration_operator.api.phases import JobState, Phase
from datamigration_operator.api.quantities import quantity_bytes
from datamigration_operator.api.resource import DataMigration
from datamigration_operator.api.spec import SecretKeyRef, WorkloadRef
from datamigration_operator.builders.configmap import read_mode
from datamigration_operator.builders.workloads import (
    pod_selector,
    pods_in_other_modes,
    rollout_complete,
    stamped_mode,
)
from datamigration_operator.kube.client import KubeClient, Object
from datamigration_operator.kube.errors import KubeApiError
from datamigration_operator.kube.resources import (
    CONFIGMAPS,
    DATAMIGRATIONS,
    JOBS,
    PODS,
    PVCS,
    SECRETS,
    WORKLOADS,
)
from datamigration_operator.reconcile.inputs import endpoint_key
from datamigration_operator.reconcile.observed import (
    JobPolicy,
    Observation,
    ObservedClaim,
    ObservedConfigMap,
    ObservedJob,
    ObservedWorkload,
    OtherMigration,
)

_READ_WRITE_ONCE = frozenset({"ReadWriteOnce", "ReadWriteOncePod"})
# The label the Job controller puts on its pods (with the Job's name; uid when we know it).
_JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
# What the kubelet keeps of a termination message.
_MAX_TERMINATION_MESSAGE = 4096


@dataclass(frozen=True)
class World:
    """An Observation plus what the executor needs beyond the planner's view."""

    datamigration: DataMigration
    observation: Observation
    config_map_version: str | None
    """resourceVersion of the ConfigMap as observed: the mode patch is conditional on it."""


def job_selector(datamigration: str) -> str:
    return f"{LABEL_MANAGED_BY}={OPERATOR_NAME},{LABEL_DATAMIGRATION}={datamigration}"


async def read_datamigration(client: KubeClient, namespace: str, name: str) -> Object | None:
    return await client.get(DATAMIGRATIONS, namespace, name)


async def observe(
    client: KubeClient, dm: DataMigration, now: datetime, policy: JobPolicy | None = None
) -> World:
    """Everything the planner needs about `dm`; the reads run concurrently. `policy`: the
    operator's Job image and ServiceAccount settings."""
    ns, spec = dm.metadata.namespace, dm.spec
    secret_refs = [
        ref for ref in (spec.target.api_key_secret_ref, spec.target.tls.ca_secret_ref) if ref
    ]
    config_map, jobs, claim, workloads, secrets, others = await asyncio.gather(
        client.get(CONFIGMAPS, ns, spec.app.config_map_ref.name),
        client.list(JOBS, ns, label_selector=job_selector(dm.metadata.name)),
        _observe_claim(client, ns, spec.source.claim_name),
        asyncio.gather(*(_observe_workload(client, ns, ref) for ref in spec.app.workloads)),
        _observe_secrets(client, ns, secret_refs),
        _observe_other_migrations(client, dm),
    )
    owned = [
        job
        for job in (observed_job(obj) for obj in jobs if _owned_by(obj, dm.metadata.uid))
        if job is not None
    ]
    observation = Observation(
        name=dm.metadata.name,
        namespace=ns,
        generation=dm.metadata.generation,
        spec=spec,
        status=dm.status,
        now=now,
        config_map=_config_map(config_map, spec.app.key),
        jobs=tuple(await _with_failure_reasons(client, ns, owned)),
        workloads=tuple(workloads),
        claim=claim,
        secrets=secrets,
        job_policy=policy or JobPolicy(),
        created_at=dm.metadata.creation_timestamp,
        other_migrations=others,
    )
    version = None if config_map is None else config_map["metadata"].get("resourceVersion")
    return World(dm, observation, version)


async def _observe_other_migrations(
    client: KubeClient, dm: DataMigration
) -> tuple[OtherMigration, ...]:
    """Every other DataMigration the operator may list: cluster-wide, or (a namespaced
    install, 403 on the cluster-wide list) those of this namespace."""
    try:
        objects = await client.list_all_namespaces(DATAMIGRATIONS)
    except KubeApiError as error:
        if error.code != 403:
            raise
        objects = await client.list(DATAMIGRATIONS, dm.metadata.namespace)
    me = owner_id(dm.metadata.namespace, dm.metadata.name)
    others = [_other_migration(obj) for obj in objects]
    return tuple(other for other in others if other is not None and other.owner != me)


def _other_migration(obj: Object) -> OtherMigration | None:
    """None for one being deleted (its claim goes with it) or one without a usable target."""
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    if meta.get("deletionTimestamp"):
        return None
    http = (spec.get("target") or {}).get("http") or {}
    mappings = [c for c in spec.get("collections") or [] if isinstance(c, dict)]
    collections = [c.get("collection") for c in mappings]
    if not isinstance(http.get("host"), str) or not isinstance(http.get("port"), int):
        return None
    created = meta.get("creationTimestamp")
    return OtherMigration(
        owner=owner_id(meta.get("namespace", ""), meta.get("name", "")),
        created_at=datetime.fromisoformat(created) if isinstance(created, str) else None,
        endpoint=endpoint_key(http["host"], http["port"]),
        collections=frozenset(c.lower() for c in collections if isinstance(c, str)),
        started=bool((obj.get("status") or {}).get("jobs")),
    )


def _config_map(obj: Object | None, key: str) -> ObservedConfigMap:
    if obj is None:
        return ObservedConfigMap(exists=False)
    value, owner = read_mode(obj, key)
    annotations = obj["metadata"].get("annotations") or {}
    original = annotations.get(ANNOTATION_CONFIGMAP_ORIGINAL)
    share, _ = read_mode(obj, read_percent_key(key))
    return ObservedConfigMap(
        exists=True,
        value=value,
        owner=owner,
        original=original if isinstance(original, str) else None,
        read_share=share,
    )


def _owned_by(obj: Object, uid: str) -> bool:
    """A Job of an earlier DataMigration with the same name is not ours (GC removes it)."""
    refs = obj["metadata"].get("ownerReferences") or []
    return not uid or any(ref.get("uid") == uid for ref in refs)


def observed_job(obj: Object) -> ObservedJob | None:
    """The planner's view of a batch/v1 Job; None for a Job without our phase label."""
    meta = obj["metadata"]
    phase = (meta.get("labels") or {}).get(LABEL_PHASE)
    if phase not in get_args(Phase):
        return None
    annotations = meta.get("annotations") or {}
    try:
        generation = int(annotations.get(ANNOTATION_JOB_GENERATION, "0"))
    except ValueError:
        generation = 0
    status = obj.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    failed, complete = conditions.get("Failed"), conditions.get("Complete")
    state: JobState
    message = ""
    finished = status.get("completionTime")
    if meta.get("deletionTimestamp"):
        state = "Deleted"
    elif failed is not None and failed.get("status") == "True":
        state = "Failed"
        message = str(failed.get("message") or failed.get("reason") or "")
        finished = failed.get("lastTransitionTime")
    elif complete is not None and complete.get("status") == "True":
        state = "Succeeded"
    elif status.get("active"):
        state = "Running"
    else:
        state = "Pending"
    return ObservedJob(
        name=meta["name"],
        phase=cast(Phase, phase),
        state=state,
        generation=generation,
        message=message,
        started_at=_timestamp(status.get("startTime")),
        finished_at=_timestamp(finished),
        uid=str(meta.get("uid") or ""),
    )


async def _with_failure_reasons(
    client: KubeClient, namespace: str, jobs: list[ObservedJob]
) -> list[ObservedJob]:
    """Failed Jobs with their pods' termination message (one pod list per failed Job; a Job
    whose pods are gone, by TTL or by hand, keeps only its condition's message)."""
    failed = [job for job in jobs if job.state == "Failed"]
    if not failed:
        return jobs
    pods = await asyncio.gather(
        *(client.list(PODS, namespace, label_selector=_pods_of(job)) for job in failed)
    )
    said = {job.name: termination_message(found) for job, found in zip(failed, pods, strict=True)}
    return [
        replace(job, termination_message=said[job.name]) if said.get(job.name) else job
        for job in jobs
    ]


def _pods_of(job: ObservedJob) -> str:
    if job.uid:  # exact: not a pod of an earlier Job of the same name
        return f"{JOB_UID_LABEL}={job.uid}"
    return f"{_JOB_NAME_LABEL}={job.name}"


def termination_message(pods: list[Object]) -> str:
    """The termination message of the Job container that failed last ("" when none said
    anything): state.terminated, or lastState.terminated of a restarted container."""
    latest: tuple[str, str] = ("", "")
    for pod in pods:
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            if container.get("name") not in (CONTAINER_NAME, None):
                continue
            for state in (container.get("state"), container.get("lastState")):
                ended = (state or {}).get("terminated") or {}
                message = ended.get("message")
                if not message or not ended.get("exitCode"):
                    continue
                finished = str(ended.get("finishedAt") or "")
                if finished >= latest[0]:
                    latest = (finished, str(message)[:_MAX_TERMINATION_MESSAGE])
    return latest[1]


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


async def _observe_workload(
    client: KubeClient, namespace: str, ref: WorkloadRef
) -> ObservedWorkload:
    obj = await client.get(WORKLOADS[ref.kind], namespace, ref.name)
    if obj is None:
        return ObservedWorkload(ref=ref, exists=False)
    mode, complete = stamped_mode(obj), rollout_complete(obj)
    others: tuple[str, ...] = ()
    selector = pod_selector(obj)
    if complete and mode is not None and selector is not None:
        # the rollout ignores terminating pods, which may still serve the old mode
        pods = await client.list(PODS, namespace, label_selector=selector)
        others = tuple(pods_in_other_modes(mode, pods))
    return ObservedWorkload(
        ref=ref,
        exists=True,
        stamped_mode=mode,
        rollout_complete=complete and not others,
        pods_in_other_modes=others,
    )


async def _observe_claim(client: KubeClient, namespace: str, name: str) -> ObservedClaim | None:
    claim = await client.get(PVCS, namespace, name)
    if claim is None:
        return None
    spec, status = claim.get("spec") or {}, claim.get("status") or {}
    storage = (status.get("capacity") or {}).get("storage") or (
        (spec.get("resources") or {}).get("requests") or {}
    ).get("storage")
    capacity = quantity_bytes(storage) if isinstance(storage, str) else None
    if not set(spec.get("accessModes") or []) & _READ_WRITE_ONCE:
        return ObservedClaim(read_write_once=False, capacity=capacity)
    return ObservedClaim(
        read_write_once=True,
        node_name=await _node_holding(client, namespace, name),
        capacity=capacity,
    )


async def _node_holding(client: KubeClient, namespace: str, claim: str) -> str | None:
    """The node of a running app pod that mounts `claim` (our own Job pods do not count)."""
    for pod in await client.list(PODS, namespace):
        labels = pod["metadata"].get("labels") or {}
        if labels.get(LABEL_MANAGED_BY) == OPERATOR_NAME:
            continue
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        if status.get("phase") != "Running" or not spec.get("nodeName"):
            continue
        for volume in spec.get("volumes") or []:
            if (volume.get("persistentVolumeClaim") or {}).get("claimName") == claim:
                return str(spec["nodeName"])
    return None


async def _observe_secrets(
    client: KubeClient, namespace: str, refs: list[SecretKeyRef]
) -> dict[str, frozenset[str] | None]:
    """Names and keys only: values are dropped as soon as they arrive. By default the operator
    may not read Secrets (least privilege): a 403 leaves the Secret unchecked (None), and the
    Job's pod reports a missing one itself."""
    names = sorted({ref.name for ref in refs})
    found = await asyncio.gather(*(_secret(client, namespace, name) for name in names))
    keys: dict[str, frozenset[str] | None] = {}
    for name, secret in zip(names, found, strict=True):
        if secret is _UNREADABLE:
            keys[name] = None
        elif secret is not None:
            keys[name] = frozenset(secret.get("data") or {}) | frozenset(
                secret.get("stringData") or {}
            )
    return keys


_UNREADABLE: Object = {}  # a sentinel, told apart by identity: get() returns fresh dicts


async def _secret(client: KubeClient, namespace: str, name: str) -> Object | None:
    try:
        return await client.get(SECRETS, namespace, name)
    except KubeApiError as error:
        if error.code != 403:
            raise
        return _UNREADABLE
