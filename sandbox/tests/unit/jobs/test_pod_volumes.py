"""Volumes become local folders; configMap/secret volumes become files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from datamigration_sandbox.jobs.pod_volumes import (
    VolumeMountError,
    container_mounts,
    materialize_volumes,
)


def lookup(kind: str, name: str) -> Mapping[str, str] | None:
    return {("ConfigMap", "app"): {"migration_mode": "dual_write", "other": "x"}}.get((kind, name))


def test_volumes_map_to_claim_pod_and_projected_folders(tmp_path: Path) -> None:
    pod = {
        "spec": {
            "volumes": [
                {"name": "db", "persistentVolumeClaim": {"claimName": "source"}},
                {"name": "scratch", "emptyDir": {}},
                {
                    "name": "cfg",
                    "configMap": {
                        "name": "app",
                        "items": [{"key": "migration_mode", "path": "mode"}],
                    },
                },
            ]
        }
    }

    folders = materialize_volumes(pod, lookup, tmp_path / "pod", lambda c: tmp_path / "pvcs" / c)

    assert folders["db"] == tmp_path / "pvcs" / "source"
    assert folders["scratch"].is_dir()
    assert (folders["cfg"] / "mode").read_text() == "dual_write"
    assert not (folders["cfg"] / "other").exists()
    container = {
        "volumeMounts": [
            {"name": "db", "mountPath": "/data"},
            {"name": "cfg", "mountPath": "/etc/mode", "subPath": "mode"},
        ]
    }
    table = container_mounts(container, folders)
    assert table.rewrite("/etc/mode") == str(folders["cfg"] / "mode")


def test_missing_config_map_is_a_mount_failure(tmp_path: Path) -> None:
    pod = {"spec": {"volumes": [{"name": "cfg", "configMap": {"name": "absent"}}]}}

    with pytest.raises(VolumeMountError) as caught:
        materialize_volumes(pod, lookup, tmp_path, lambda c: tmp_path / c)

    assert (
        str(caught.value)
        == 'MountVolume.SetUp failed for volume "cfg" : configmap "absent" not found'
    )


def test_optional_missing_config_map_is_an_empty_folder(tmp_path: Path) -> None:
    pod = {
        "spec": {"volumes": [{"name": "cfg", "configMap": {"name": "absent", "optional": True}}]}
    }

    folders = materialize_volumes(pod, lookup, tmp_path, lambda c: tmp_path / c)

    assert list(folders["cfg"].iterdir()) == []


def test_unsupported_volume_type_is_reported(tmp_path: Path) -> None:
    pod = {"spec": {"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}}

    with pytest.raises(VolumeMountError, match=r"unsupported type \['hostPath'\]"):
        materialize_volumes(pod, lookup, tmp_path, lambda c: tmp_path / c)


def test_mount_of_an_undeclared_volume_is_reported() -> None:
    with pytest.raises(VolumeMountError, match="names no volume"):
        container_mounts({"volumeMounts": [{"name": "x", "mountPath": "/x"}]}, {})


def test_a_missing_sub_path_of_a_claim_is_created_with_the_mode_of_the_claims_root(
    tmp_path: Path,
) -> None:
    """As the kubelet: the folder exists before the container starts, one mount of the claim
    read-only and a subPath of it beside (the copy Job's source and backup mounts)."""
    claim = tmp_path / "pvcs" / "data"
    claim.mkdir(parents=True)
    claim.chmod(0o2775)
    (claim / "app.db").write_bytes(b"db")
    container = {
        "volumeMounts": [
            {"name": "db", "mountPath": "/source", "readOnly": True},
            {"name": "db", "mountPath": "/backup", "subPath": ".datamigration/backups/chat"},
        ]
    }

    table = container_mounts(container, {"db": claim})

    backup = claim / ".datamigration" / "backups" / "chat"
    assert table.rewrite("/backup/x.sqlite") == str(backup / "x.sqlite")
    assert table.rewrite("/source/app.db") == str(claim / "app.db")
    assert backup.is_dir()
    assert [
        oct(p.stat().st_mode & 0o7777) for p in (backup, backup.parent, backup.parent.parent)
    ] == [oct(0o2775)] * 3
    container_mounts(container, {"db": claim})  # a second start finds it there
    assert backup.is_dir()
