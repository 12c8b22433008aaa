"""The Job manifest of a copy, sync or validate run, per DESIGN.md's Job contract."""

from __future__ import annotations

import posixpath
from typing import Any, Final

from datamigration_operator.api import job_contract as contract
from datamigration_operator.api.job_contract import AnalysisWindow
from datamigration_operator.api.names import (
    ANNOTATION_JOB_GENERATION,
    ANNOTATION_JOB_RERUN,
    LABEL_JOB_KIND,
    LABEL_PHASE,
)
from datamigration_operator.api.phases import JobKind, Phase
from datamigration_operator.api.resource import DataMigration
from datamigration_operator.api.spec import ResourceAmounts
from datamigration_operator.builders.job_backup import (
    backup_location,
    backup_mount,
    backup_volume,
    job_backup,
)
from datamigration_operator.builders.ownership import controller_reference, managed_labels

# A uid from the nonroot range of distroless images; any non-zero uid passes "restricted".
RUN_AS_USER: Final = 65532
_SOURCE_VOLUME: Final = "source"
_SCRATCH_VOLUME: Final = "scratch"
_CA_VOLUME: Final = "weaviate-ca"


def build_job(
    dm: DataMigration,
    *,
    kind: JobKind,
    name: str,
    phase: Phase,
    generation: int,
    image: str,
    service_account: str,
    node_name: str | None = None,
    scratch_size_limit: str | None = None,
    analysis: AnalysisWindow | None = None,
) -> dict[str, Any]:
    """A batch/v1 Job running `image` as `service_account` (the planner chose both: the
    builder reads no policy); `node_name` pins it next to the pod holding a ReadWriteOnce
    claim."""
    template = dm.spec.job_template
    labels = {**managed_labels(dm.metadata.name), LABEL_PHASE: phase, LABEL_JOB_KIND: kind}
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",  # podFailurePolicy requires it
        "serviceAccountName": service_account,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(dm, kind, name, image, analysis)],
        "volumes": _volumes(dm, kind, scratch_size_limit),
    }
    if node_name is not None:
        pod_spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": [node_name]}
                            ]
                        }
                    ]
                }
            }
        }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": dm.metadata.namespace,
            "labels": labels,
            "annotations": {
                ANNOTATION_JOB_GENERATION: str(generation),
                ANNOTATION_JOB_RERUN: str(dm.spec.rerun),
            },
            "ownerReferences": [controller_reference(dm)],
        },
        "spec": {
            "backoffLimit": template.backoff_limit,
            "activeDeadlineSeconds": template.active_deadline_seconds,
            "ttlSecondsAfterFinished": template.ttl_seconds_after_finished,
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {
                            "containerName": contract.CONTAINER_NAME,
                            "operator": "In",
                            "values": [contract.NON_RETRYABLE_EXIT_CODE],
                        },
                    },
                    # An evicted or preempted pod is not the Job's fault: retry without
                    # spending backoffLimit.
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
                ]
            },
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def job_config(
    dm: DataMigration, kind: JobKind, name: str, analysis: AnalysisWindow | None = None
) -> contract.JobConfig:
    spec = dm.spec
    tls = spec.target.tls
    return contract.JobConfig(
        kind=kind,
        job_name=name,
        datamigration=contract.MigrationRef(
            namespace=dm.metadata.namespace, name=dm.metadata.name, uid=dm.metadata.uid
        ),
        source=contract.JobSource(
            path=posixpath.join(contract.SOURCE_MOUNT_PATH, spec.source.path),
            snapshot=spec.source.snapshot,
            scratch_dir=contract.SCRATCH_MOUNT_PATH,
        ),
        target=contract.JobTarget(
            http=spec.target.http,
            grpc=spec.target.grpc,
            tls=tls.enabled,
            ca_file=(
                posixpath.join(contract.CA_MOUNT_PATH, contract.CA_FILE_NAME)
                if tls.ca_secret_ref is not None
                else None
            ),
            api_key_env=(
                contract.API_KEY_ENV if spec.target.api_key_secret_ref is not None else None
            ),
        ),
        collections=spec.collections,
        discover=spec.discover,
        batch_size=spec.job_template.batch_size,
        concurrency=spec.job_template.concurrency,
        objects_per_second=spec.job_template.objects_per_second,
        max_mismatches=spec.validation.max_mismatches,
        recheck_delay=spec.validation.recheck_delay,
        drain_timeout=spec.validation.drain_timeout,
        read_probe=(
            spec.validation.read_probe
            if kind == "validate" and spec.validation.read_probe.enabled
            else None
        ),
        # only a copy drops, and only the copy of the rerun the spec names
        recreate_rerun=(
            spec.rerun if kind == "copy" and spec.recreate_on_rerun == spec.rerun else None
        ),
        analysis=analysis,
        backup=job_backup(backup_location(dm, kind)),
    )


def _container(
    dm: DataMigration, kind: JobKind, name: str, image: str, analysis: AnalysisWindow | None
) -> dict[str, Any]:
    template = dm.spec.job_template
    config = job_config(dm, kind, name, analysis).model_dump_json(by_alias=True, exclude_none=True)
    env: list[dict[str, Any]] = [
        {"name": contract.CONFIG_ENV, "value": config},
        {
            "name": contract.JOB_UID_ENV,
            "valueFrom": {
                "fieldRef": {"fieldPath": f"metadata.labels['{contract.JOB_UID_LABEL}']"}
            },
        },
        {"name": contract.TERMINATION_LOG_ENV, "value": contract.TERMINATION_MESSAGE_PATH},
    ]
    secret = dm.spec.target.api_key_secret_ref
    if secret is not None:
        env.append(
            {
                "name": contract.API_KEY_ENV,
                "valueFrom": {"secretKeyRef": {"name": secret.name, "key": secret.key}},
            }
        )
    mounts: list[dict[str, Any]] = [
        {"name": _SOURCE_VOLUME, "mountPath": contract.SOURCE_MOUNT_PATH, "readOnly": True},
        {"name": _SCRATCH_VOLUME, "mountPath": contract.SCRATCH_MOUNT_PATH},
    ]
    backup = backup_location(dm, kind)
    if backup is not None:
        mounts.append(backup_mount(backup, _SOURCE_VOLUME))
    if dm.spec.target.tls.ca_secret_ref is not None:
        mounts.append({"name": _CA_VOLUME, "mountPath": contract.CA_MOUNT_PATH, "readOnly": True})
    container: dict[str, Any] = {
        "name": contract.CONTAINER_NAME,
        "image": image,
        "command": ["dmctl", "job", kind],
        "env": env,
        "resources": {
            "requests": _amounts(template.resources.requests),
            "limits": _amounts(template.resources.limits),
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": mounts,
        # The Job's final error (one line, never a secret) becomes the pod's termination
        # message; a container that dies before writing it leaves the tail of its log there.
        "terminationMessagePath": contract.TERMINATION_MESSAGE_PATH,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if template.image_pull_policy is not None:
        container["imagePullPolicy"] = template.image_pull_policy
    return container


def _volumes(
    dm: DataMigration, kind: JobKind, scratch_size_limit: str | None
) -> list[dict[str, Any]]:
    scratch: dict[str, Any] = {"sizeLimit": scratch_size_limit} if scratch_size_limit else {}
    backup = backup_location(dm, kind)
    # A volume-level readOnly makes every mount of it read-only, the backup's too: with the
    # backup on the source claim, the source's own mount alone is read-only.
    source: dict[str, Any] = {"claimName": dm.spec.source.claim_name}
    if backup is None or not backup.on_source_claim:
        source["readOnly"] = True
    volumes: list[dict[str, Any]] = [
        {"name": _SOURCE_VOLUME, "persistentVolumeClaim": source},
        # The snapshot and temporary files; the root filesystem stays read-only.
        {"name": _SCRATCH_VOLUME, "emptyDir": scratch},
    ]
    other_claim = backup_volume(backup) if backup is not None else None
    if other_claim is not None:
        volumes.append(other_claim)
    ca = dm.spec.target.tls.ca_secret_ref
    if ca is not None:
        volumes.append(
            {
                "name": _CA_VOLUME,
                "secret": {
                    "secretName": ca.name,
                    "items": [{"key": ca.key, "path": contract.CA_FILE_NAME}],
                },
            }
        )
    return volumes


def _amounts(amounts: ResourceAmounts) -> dict[str, str]:
    values = {"cpu": amounts.cpu, "memory": amounts.memory}
    return {key: str(value) for key, value in values.items() if value is not None}
