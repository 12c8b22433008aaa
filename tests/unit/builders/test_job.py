"""The Job manifest honours DESIGN.md's Job contract."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from datamigration_operator.api import job_contract
from datamigration_operator.api.job_contract import JobConfig
from datamigration_operator.builders.job import build_job
from tests.unit.reconcile.scenario import datamigration

IMAGE = "ghcr.io/gremlins/datamigration-operator:0.1.0"


ACCOUNT = "shop-job-0123abcd"


def job(
    node: str | None = None, image: str = IMAGE, account: str = ACCOUNT, **spec: Any
) -> dict[str, Any]:
    return build_job(
        datamigration(**spec),
        kind="copy",
        name="shop-migrate-1234abcd",
        phase="migrate",
        generation=1,
        image=image,
        service_account=account,
        node_name=node,
    )


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    (only,) = manifest["spec"]["template"]["spec"]["containers"]
    return only


def test_kubernetes_client_deserializes_it_as_a_v1_job() -> None:
    api = client.ApiClient()
    parsed = api._ApiClient__deserialize(job(node="n1"), "V1Job")  # type: ignore[attr-defined]
    assert isinstance(parsed, client.V1Job)
    assert parsed.spec.pod_failure_policy.rules[0].action == "FailJob"
    assert api.sanitize_for_serialization(parsed) == job(node="n1")


def test_identity_labels_and_controller_owner() -> None:
    meta = job()["metadata"]
    assert meta["name"] == "shop-migrate-1234abcd"
    assert meta["namespace"] == "apps"
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "datamigration-operator"
    assert meta["labels"]["migrations.gremlins.ai/datamigration"] == "shop"
    assert meta["annotations"]["migrations.gremlins.ai/generation"] == "1"
    (owner,) = meta["ownerReferences"]
    assert owner == {
        "apiVersion": "migrations.gremlins.ai/v1alpha1",
        "kind": "DataMigration",
        "name": "shop",
        "uid": "u-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    pod_labels = job()["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["migrations.gremlins.ai/phase"] == "migrate"


def test_restricted_pod_security() -> None:
    pod = job()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container(job())["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["restartPolicy"] == "Never"


def test_limits_deadline_ttl_and_failure_policy() -> None:
    spec = job(jobTemplate={"activeDeadlineSeconds": 600, "backoffLimit": 1})["spec"]
    assert spec["activeDeadlineSeconds"] == 600
    assert spec["backoffLimit"] == 1
    assert spec["ttlSecondsAfterFinished"] == 86_400
    fail = spec["podFailurePolicy"]["rules"][0]
    assert fail["action"] == "FailJob"
    assert fail["onExitCodes"]["values"] == [job_contract.NON_RETRYABLE_EXIT_CODE]
    assert fail["onExitCodes"]["containerName"] == container(job())["name"]
    assert container(job())["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }


def test_command_image_and_config_env() -> None:
    c = container(job())
    assert c["command"] == ["dmctl", "job", "copy"]
    assert c["image"] == IMAGE
    assert container(job(image="mine:1"))["image"] == "mine:1"  # the planner chose it
    config_env = next(e for e in c["env"] if e["name"] == job_contract.CONFIG_ENV)
    config = JobConfig.model_validate_json(config_env["value"])
    assert config.kind == "copy"
    assert config.datamigration.name == "shop"
    assert config.source.path == "/var/lib/datamigration/source/db/shop.sqlite"
    assert [m.table for m in config.collections] == ["customers", "orders"]


def test_api_key_only_as_secret_key_ref() -> None:
    manifest = job()
    key_env = next(e for e in container(manifest)["env"] if e["name"] == "WEAVIATE_API_KEY")
    assert key_env == {
        "name": "WEAVIATE_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": "weaviate-auth", "key": "api-key"}},
    }
    config = json.loads(container(manifest)["env"][0]["value"])
    assert "weaviate-auth" not in json.dumps(config)
    assert "args" not in container(manifest)


def _volume(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    volumes = manifest["spec"]["template"]["spec"]["volumes"]
    found: dict[str, Any] = next(v for v in volumes if v["name"] == name)
    return found


def _mount(manifest: dict[str, Any], path: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        m for m in container(manifest)["volumeMounts"] if m["mountPath"] == path
    )
    return found


def test_source_claim_mounted_read_only() -> None:
    manifest = job(backup={"enabled": False})
    mount = _mount(manifest, job_contract.SOURCE_MOUNT_PATH)
    assert mount["readOnly"] is True
    volume = _volume(manifest, mount["name"])
    assert volume["persistentVolumeClaim"] == {"claimName": "shop-data", "readOnly": True}
    assert all(
        m["mountPath"] != job_contract.BACKUP_MOUNT_PATH
        for m in container(manifest)["volumeMounts"]
    )
    assert JobConfig.model_validate_json(container(manifest)["env"][0]["value"]).backup is None


def test_backup_on_the_source_claim_is_a_writable_subpath_beside_the_read_only_source() -> None:
    manifest = job()  # spec.backup defaults: enabled, the source claim, retain 3
    source = _mount(manifest, job_contract.SOURCE_MOUNT_PATH)
    backup = _mount(manifest, job_contract.BACKUP_MOUNT_PATH)
    assert source["readOnly"] is True
    assert "subPath" not in source
    # the same claim's volume: a volume-level readOnly would make the backup mount read-only too
    assert backup == {
        "name": source["name"],
        "mountPath": job_contract.BACKUP_MOUNT_PATH,
        "subPath": ".datamigration/backups/shop",
    }
    assert _volume(manifest, source["name"])["persistentVolumeClaim"] == {"claimName": "shop-data"}
    config = JobConfig.model_validate_json(container(manifest)["env"][0]["value"])
    assert config.backup is not None
    assert config.backup.model_dump() == {
        "directory": job_contract.BACKUP_MOUNT_PATH,
        "claim_name": "shop-data",
        "path": ".datamigration/backups/shop",
        "retain": 3,
    }


def test_backup_on_another_claim_leaves_the_source_volume_read_only() -> None:
    manifest = job(backup={"claimName": "shop-backups", "path": "nightly/shop", "retain": 5})
    source = _mount(manifest, job_contract.SOURCE_MOUNT_PATH)
    assert _volume(manifest, source["name"])["persistentVolumeClaim"]["readOnly"] is True
    backup = _mount(manifest, job_contract.BACKUP_MOUNT_PATH)
    assert backup["subPath"] == "nightly/shop"
    assert not backup.get("readOnly")
    assert _volume(manifest, backup["name"])["persistentVolumeClaim"] == {
        "claimName": "shop-backups"
    }
    config = JobConfig.model_validate_json(container(manifest)["env"][0]["value"])
    assert config.backup is not None
    assert (config.backup.claim_name, config.backup.retain) == ("shop-backups", 5)


@pytest.mark.parametrize(("kind", "phase"), [("sync", "dual-write"), ("validate", "validate")])
def test_only_the_copy_keeps_a_backup(kind: Any, phase: Any) -> None:
    manifest = build_job(
        datamigration(),
        kind=kind,
        name=f"shop-{phase}-1234abcd",
        phase=phase,
        generation=1,
        image=IMAGE,
        service_account=ACCOUNT,
    )
    mounts = container(manifest)["volumeMounts"]
    assert all(m["mountPath"] != job_contract.BACKUP_MOUNT_PATH for m in mounts)
    source = _mount(manifest, job_contract.SOURCE_MOUNT_PATH)
    assert _volume(manifest, source["name"])["persistentVolumeClaim"]["readOnly"] is True


@pytest.mark.parametrize("node", [None, "node-3"])
def test_node_affinity_only_for_a_readwriteonce_claim(node: str | None) -> None:
    pod = job(node=node)["spec"]["template"]["spec"]
    if node is None:
        assert "affinity" not in pod
    else:
        term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        (match,) = term["nodeSelectorTerms"][0]["matchFields"]
        assert match == {"key": "metadata.name", "operator": "In", "values": ["node-3"]}


def test_ca_bundle_is_mounted_from_its_secret() -> None:
    manifest = job(
        target={
            "http": {"host": "w", "port": 443},
            "grpc": {"host": "w", "port": 50051},
            "tls": {"enabled": True, "caSecretRef": {"name": "weaviate-ca", "key": "ca.pem"}},
        }
    )
    volume = next(v for v in manifest["spec"]["template"]["spec"]["volumes"] if "secret" in v)
    assert volume["secret"]["secretName"] == "weaviate-ca"
    config = JobConfig.model_validate_json(container(manifest)["env"][0]["value"])
    assert config.target.tls is True
    assert config.target.ca_file == "/var/run/datamigration/ca/ca.crt"
    assert config.target.api_key_env is None


def test_runs_as_the_account_the_planner_chose_and_learns_its_own_uid() -> None:
    manifest = job(account="other-sa", jobTemplate={"serviceAccountName": "ignored-by-builder"})
    assert manifest["spec"]["template"]["spec"]["serviceAccountName"] == "other-sa"
    uid_env = next(e for e in container(manifest)["env"] if e["name"] == job_contract.JOB_UID_ENV)
    assert uid_env == {
        "name": "DATAMIGRATION_JOB_UID",
        "valueFrom": {
            "fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/controller-uid']"}
        },
    }


def test_the_final_error_goes_to_the_termination_message_the_job_finds_by_its_variable() -> None:
    spec = container(job())
    assert spec["terminationMessagePath"] == "/dev/termination-log"
    assert spec["terminationMessagePolicy"] == "FallbackToLogsOnError"
    (variable,) = [e for e in spec["env"] if e["name"] == job_contract.TERMINATION_LOG_ENV]
    assert variable["value"] == spec["terminationMessagePath"]


def test_the_scratch_volume_gets_the_size_limit_it_is_given() -> None:
    def scratch(manifest: dict[str, Any]) -> dict[str, Any]:
        volumes = manifest["spec"]["template"]["spec"]["volumes"]
        found: dict[str, Any] = next(v for v in volumes if v["name"] == "scratch")["emptyDir"]
        return found

    limited = build_job(
        datamigration(),
        kind="copy",
        name="shop-migrate-1234abcd",
        phase="migrate",
        generation=1,
        image=IMAGE,
        service_account=ACCOUNT,
        scratch_size_limit="5120Mi",
    )
    assert scratch(limited) == {"sizeLimit": "5120Mi"}
    assert scratch(job()) == {}


def _config(manifest: dict[str, Any]) -> JobConfig:
    env = next(e for e in container(manifest)["env"] if e["name"] == job_contract.CONFIG_ENV)
    return JobConfig.model_validate_json(env["value"])


def test_discover_reaches_the_job_and_only_the_named_reruns_copy_recreates() -> None:
    discovering = _config(job(discover={"tables": "all", "references": "fromForeignKeys"}))
    assert (discovering.discover.tables, discovering.discover.references) == (
        "all",
        "fromForeignKeys",
    )
    assert _config(job()).recreate_rerun is None
    assert _config(job(rerun=2, recreateOnRerun=2)).recreate_rerun == 2
    assert _config(job(rerun=3, recreateOnRerun=2)).recreate_rerun is None  # a later rerun
    sync = build_job(
        datamigration(phase="dual-write", rerun=2, recreateOnRerun=2),
        kind="sync",
        name="shop-dual-write-1234abcd",
        phase="dual-write",
        generation=1,
        image=IMAGE,
        service_account=ACCOUNT,
        node_name=None,
    )
    assert _config(sync).recreate_rerun is None  # only a copy ever drops
