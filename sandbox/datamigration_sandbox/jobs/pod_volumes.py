"""Local folders that back a pod's volumes, and the mount table of each container.

persistentVolumeClaim -> the claim's shared folder; configMap / secret -> a per-pod folder with
the kubelet's atomic layout (see atomic_writer), re-projected while the pod runs
(refresh_projected_volumes) so a mounted ConfigMap changes in place; emptyDir -> a per-pod folder.
A subPath into a projected volume is a copy taken when the container starts: like the kubelet's
bind mount of the resolved file, it never sees later updates.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from datamigration_sandbox.jobs.atomic_writer import (
    FileProjection,
    Payload,
    PayloadError,
    is_projected,
    validate_payload,
    write_payload,
)
from datamigration_sandbox.jobs.env_resolution import SourceLookup
from datamigration_sandbox.jobs.mount_paths import Mount, MountTable
from datamigration_sandbox.jobs.termination_message import termination_mount


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
            folder = pod_dir / "volumes" / name
            _project(folder, projection_payload(volume, lookup))
            folders[name] = folder
        else:
            kinds = sorted(k for k in volume if k != "name")
            raise VolumeMountError(f'sandbox: volume "{name}" has an unsupported type {kinds}')
    return folders


def refresh_projected_volumes(
    pod: Mapping[str, Any], lookup: SourceLookup, pod_dir: Path
) -> list[str]:
    """Re-project configMap/secret volumes of a running pod; the names of those that changed.

    As the kubelet's periodic sync: a source that disappeared or lost a key keeps the volume as
    it was (the kubelet only logs the error), unless the source is optional."""
    changed: list[str] = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if "configMap" not in volume and "secret" not in volume:
            continue
        name = str(volume.get("name", ""))
        try:
            payload = projection_payload(volume, lookup)
        except VolumeMountError:
            continue
        if _project(pod_dir / "volumes" / name, payload):
            changed.append(name)
    return changed


def _project(folder: Path, payload: Payload) -> bool:
    """An absent optional source leaves a plain empty folder until the source appears."""
    if not payload and not is_projected(folder):
        folder.mkdir(parents=True, exist_ok=True)
        return False
    return write_payload(folder, payload)


def projection_payload(volume: Mapping[str, Any], lookup: SourceLookup) -> Payload:
    """The files a configMap/secret volume shows now (path -> content and mode)."""
    name = str(volume.get("name", ""))
    if "configMap" in volume:
        kind, source = "ConfigMap", volume["configMap"]
        source_name = source.get("name")
    else:
        kind, source = "Secret", volume["secret"]
        source_name = source.get("secretName")
    values = lookup(kind, str(source_name))
    if values is None:
        if source.get("optional"):
            return {}
        raise VolumeMountError(
            f'MountVolume.SetUp failed for volume "{name}" : '
            f'{kind.lower()} "{source_name}" not found'
        )
    default_mode = int(source.get("defaultMode", 0o644))
    items = source.get("items")
    payload: dict[str, FileProjection] = {}
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
            mode = int(item.get("mode", default_mode))
            payload[str(item.get("path", key))] = FileProjection(values[key].encode(), mode)
    else:
        for key, value in values.items():
            payload[key] = FileProjection(value.encode(), default_mode)
    try:
        validate_payload(payload)
    except PayloadError as exc:
        raise VolumeMountError(f'MountVolume.SetUp failed for volume "{name}" : {exc}') from exc
    return payload


def container_mounts(
    container: Mapping[str, Any],
    volumes: Mapping[str, Path],
    subpath_dir: Path | None = None,
    termination_file: Path | None = None,
) -> MountTable:
    """The container's mount table. With `subpath_dir`, a subPath into a projected volume maps
    to a copy under `subpath_dir/<volume>/<index>` (the kubelet's volume-subpaths). With
    `termination_file`, the terminationMessagePath maps to it (emptied: see
    termination_message)."""
    mounts: list[Mount] = []
    if termination_file is not None:
        mounts.append(termination_mount(container, termination_file))
    for index, mount in enumerate(container.get("volumeMounts") or []):
        volume = str(mount.get("name", ""))
        if volume not in volumes:
            raise VolumeMountError(f'sandbox: volumeMount "{volume}" names no volume of the pod')
        local = volumes[volume]
        sub_path = str(mount.get("subPath") or "")
        if sub_path:
            if subpath_dir is not None and is_projected(local):
                local = _frozen_copy(local / sub_path, subpath_dir / volume / str(index))
            else:
                local = _sub_path(local, sub_path)
        mounts.append(Mount(str(mount.get("mountPath", "")), local))
    return MountTable(mounts)


def _sub_path(root: Path, sub_path: str) -> Path:
    """`root/sub_path`; what is missing of it is created as folders with the mode of the
    volume's root, as the kubelet does before it bind-mounts it (read-only mounts included)."""
    mode = root.stat().st_mode & 0o7777 if root.exists() else None
    target = root
    for part in Path(sub_path).parts:
        target = target / part
        if not target.exists() and mode is not None:
            target.mkdir()
            target.chmod(mode)  # not the umask's: the kubelet sets the root's mode
    return target


def _frozen_copy(source: Path, folder: Path) -> Path:
    """A copy of `source` (symlinks followed) that later projections do not touch."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    target = folder / source.name
    if source.is_dir():
        shutil.copytree(source, target)
    elif source.exists():
        shutil.copy2(source, target)
    else:  # the runtime creates a missing subPath as an empty directory
        target.mkdir()
    return target
