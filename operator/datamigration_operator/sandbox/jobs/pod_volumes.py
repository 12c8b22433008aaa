"""Local folders that back a pod's volumes, and the mount table of each container.

persistentVolumeClaim -> the claim's shared folder; configMap / secret -> files materialized in a
per-pod folder (one file per key, like the kubelet's projection); emptyDir -> a per-pod folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from datamigration_operator.sandbox.jobs.env_resolution import SourceLookup
from datamigration_operator.sandbox.jobs.mount_paths import Mount, MountTable


class VolumeMountError(Exception):
    """A volume cannot be set up yet (the kubelet's FailedMount); the pod stays Pending."""


def materialize_volumes(
    pod: Mapping[str, Any],
    lookup: SourceLookup,
    pod_dir: Path,
    claim_dir: Callable[[str], Path],
) -> dict[str, Path]:
    """Volume name -> local folder, with configMap/secret contents written out."""
    folders: dict[str, Path] = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = str(volume.get("name", ""))
        if "persistentVolumeClaim" in volume:
            folders[name] = claim_dir(str(volume["persistentVolumeClaim"].get("claimName", "")))
        elif "emptyDir" in volume:
            folder = pod_dir / "volumes" / name
            folder.mkdir(parents=True, exist_ok=True)
            folders[name] = folder
        elif "configMap" in volume or "secret" in volume:
            folders[name] = _project(volume, lookup, pod_dir / "volumes" / name)
        else:
            kinds = sorted(k for k in volume if k != "name")
            raise VolumeMountError(f'sandbox: volume "{name}" has an unsupported type {kinds}')
    return folders


def _project(volume: Mapping[str, Any], lookup: SourceLookup, folder: Path) -> Path:
    name = str(volume.get("name", ""))
    if "configMap" in volume:
        kind, source, source_name = (
            "ConfigMap",
            volume["configMap"],
            volume["configMap"].get("name"),
        )
    else:
        kind, source, source_name = "Secret", volume["secret"], volume["secret"].get("secretName")
    values = lookup(kind, str(source_name))
    folder.mkdir(parents=True, exist_ok=True)
    if values is None:
        if source.get("optional"):
            return folder
        raise VolumeMountError(
            f'MountVolume.SetUp failed for volume "{name}" : '
            f'{kind.lower()} "{source_name}" not found'
        )
    default_mode = int(source.get("defaultMode", 0o644))
    items = source.get("items")
    files: list[tuple[str, str, int]] = []
    if items:
        for item in items:
            key = str(item.get("key", ""))
            if key not in values:
                if source.get("optional"):
                    continue
                raise VolumeMountError(
                    f'MountVolume.SetUp failed for volume "{name}" : '
                    f"{kind.lower()} references non-existent config key: {key}"
                )
            files.append(
                (str(item.get("path", key)), values[key], int(item.get("mode", default_mode)))
            )
    else:
        files = [(key, value, default_mode) for key, value in values.items()]
    for relative, content, mode in files:
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.chmod(0o600)
        target.write_text(content, encoding="utf-8")
        os.chmod(target, mode)
    return folder


def container_mounts(container: Mapping[str, Any], volumes: Mapping[str, Path]) -> MountTable:
    mounts: list[Mount] = []
    for mount in container.get("volumeMounts") or []:
        volume = str(mount.get("name", ""))
        if volume not in volumes:
            raise VolumeMountError(f'sandbox: volumeMount "{volume}" names no volume of the pod')
        local = volumes[volume]
        sub_path = str(mount.get("subPath") or "")
        if sub_path:
            local = local / sub_path
        mounts.append(Mount(str(mount.get("mountPath", "")), local))
    return MountTable(mounts)
