"""The copy Job's mounts on the real servers: the source claim's volume mounted read-only and a
subPath of it read-write for the backup (the manifest build_job makes), admitted by the real
kube-apiserver and set up by the process kubelet, which creates the missing backup folder with
the mode of the claim's root as the kubelet does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datamigration_operator.api import job_contract
from datamigration_operator.builders.job import build_job
from tests.real.conftest import RealCluster, eventually, python_pod_spec
from tests.unit.reconcile.scenario import datamigration

# What the copy does with its mounts: read the source, write beside it in the backup folder.
COPY = """
import sys
source, backup = sys.argv[1], sys.argv[2]
open(backup, "wb").write(open(source, "rb").read())
"""


def _copy_job_mounts() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The volumes (claims only) and mounts of a copy Job with spec.backup's defaults."""
    job = build_job(
        datamigration(source={"claimName": "data", "path": "app.db"}),
        kind="copy",
        name="shop-migrate-1234abcd",
        phase="migrate",
        generation=1,
        image="unused",
        service_account="default",
    )
    pod = job["spec"]["template"]["spec"]
    volumes = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    names = {v["name"] for v in volumes}
    (container,) = pod["containers"]
    mounts = [m for m in container["volumeMounts"] if m["name"] in names]
    return volumes, mounts


def test_the_backup_folder_is_a_writable_subpath_beside_the_read_only_source(
    real_cluster: RealCluster, namespace: str
) -> None:
    core = real_cluster.core
    core.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "10Mi"}},
            },
        },
    )
    folder = real_cluster.plane.claim_folder(namespace, "data")
    folder.chmod(0o2777)
    (folder / "app.db").write_bytes(b"the app's database")
    volumes, mounts = _copy_job_mounts()
    assert {m["mountPath"] for m in mounts} == {
        job_contract.SOURCE_MOUNT_PATH,
        job_contract.BACKUP_MOUNT_PATH,
    }
    spec = python_pod_spec(
        COPY,
        f"{job_contract.SOURCE_MOUNT_PATH}/app.db",
        f"{job_contract.BACKUP_MOUNT_PATH}/backup.sqlite",
        restartPolicy="Never",
        volumes=volumes,
        container={"volumeMounts": mounts},
    )
    core.create_namespaced_pod(namespace, {"metadata": {"name": "copy"}, "spec": spec})

    def ended() -> str | None:
        phase = core.read_namespaced_pod("copy", namespace).status.phase
        return phase if phase in ("Succeeded", "Failed") else None

    assert eventually(ended, "the copy pod to end", 60) == "Succeeded"
    backups = folder / ".datamigration" / "backups" / "shop"
    assert (backups / "backup.sqlite").read_bytes() == b"the app's database"
    assert [oct(p.stat().st_mode & 0o7777) for p in (backups, backups.parent)] == [oct(0o2777)] * 2
    assert Path(folder / "app.db").read_bytes() == b"the app's database"
