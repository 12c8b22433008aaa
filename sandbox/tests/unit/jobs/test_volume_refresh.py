"""configMap/secret volumes follow their sources while a pod runs; subPath copies do not."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from datamigration_sandbox.jobs.pod_volumes import (
    container_mounts,
    materialize_volumes,
    refresh_projected_volumes,
)

POD = {
    "spec": {
        "volumes": [
            {"name": "cfg", "configMap": {"name": "app"}},
            {"name": "key", "secret": {"secretName": "creds", "defaultMode": 0o400}},
            {"name": "scratch", "emptyDir": {}},
        ]
    }
}


class Sources:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str], dict[str, str]] = {
            ("ConfigMap", "app"): {"migration_mode": "sqlite_only"},
            ("Secret", "creds"): {"token": "s3cret"},
        }

    def __call__(self, kind: str, name: str) -> Mapping[str, str] | None:
        return self.values.get((kind, name))


def test_refresh_rewrites_only_changed_volumes(tmp_path: Path) -> None:
    sources = Sources()
    folders = materialize_volumes(POD, sources, tmp_path, lambda c: tmp_path / c)
    secret_data = os.readlink(folders["key"] / "..data")

    sources.values[("ConfigMap", "app")] = {"migration_mode": "dual_write"}
    changed = refresh_projected_volumes(POD, sources, tmp_path)

    assert changed == ["cfg"]
    assert (folders["cfg"] / "migration_mode").read_text() == "dual_write"
    assert os.readlink(folders["key"] / "..data") == secret_data
    assert (folders["key"] / "token").stat().st_mode & 0o777 == 0o400


def test_a_vanished_source_keeps_the_last_content(tmp_path: Path) -> None:
    sources = Sources()
    folders = materialize_volumes(POD, sources, tmp_path, lambda c: tmp_path / c)

    del sources.values[("ConfigMap", "app")]

    assert refresh_projected_volumes(POD, sources, tmp_path) == []
    assert (folders["cfg"] / "migration_mode").read_text() == "sqlite_only"


def test_optional_source_appearing_later_is_projected(tmp_path: Path) -> None:
    pod = {"spec": {"volumes": [{"name": "cfg", "configMap": {"name": "late", "optional": True}}]}}
    sources = Sources()
    folders = materialize_volumes(pod, sources, tmp_path, lambda c: tmp_path / c)
    assert list(folders["cfg"].iterdir()) == []

    sources.values[("ConfigMap", "late")] = {"a": "1"}

    assert refresh_projected_volumes(pod, sources, tmp_path) == ["cfg"]
    assert (folders["cfg"] / "a").read_text() == "1"


def test_subpath_into_a_projected_volume_is_a_frozen_copy(tmp_path: Path) -> None:
    sources = Sources()
    folders = materialize_volumes(POD, sources, tmp_path, lambda c: tmp_path / c)
    container = {
        "volumeMounts": [
            {"name": "cfg", "mountPath": "/etc/app"},
            {"name": "cfg", "mountPath": "/etc/mode", "subPath": "migration_mode"},
            {"name": "scratch", "mountPath": "/tmp/sub", "subPath": "inner"},
        ]
    }
    table = container_mounts(container, folders, tmp_path / "volume-subpaths")

    sources.values[("ConfigMap", "app")] = {"migration_mode": "dual_write"}
    refresh_projected_volumes(POD, sources, tmp_path)

    assert Path(table.rewrite("/etc/app/migration_mode")).read_text() == "dual_write"
    assert Path(table.rewrite("/etc/mode")).read_text() == "sqlite_only"
    # A subPath into a plain folder stays a live path into it.
    assert table.rewrite("/tmp/sub") == str(folders["scratch"] / "inner")
