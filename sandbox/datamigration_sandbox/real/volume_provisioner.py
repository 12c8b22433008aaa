"""A small local volume provisioner: a hostPath PersistentVolume for every pending claim that
names no volume, pre-bound to the claim (claimRef), so the real PV controller of the controller
manager binds the pair. The process kubelet then mounts the claim as that folder.

Claims of any storage class are served (the PV carries the claim's class). Released volumes this
provisioner made are deleted with their folders (a reclaim policy of Delete in effect; the
controller manager's hostPath deleter only handles /tmp paths behind a flag).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from datamigration_sandbox.real.api_client import ApiClient, ApiStatusError

_log = logging.getLogger(__name__)

PROVISIONED_BY = "sandbox.gremlins.ai/provisioned-by"
PROVISIONER = "process-kubelet-hostpath"


def persistent_volume(claim: dict[str, Any], root: Path) -> dict[str, Any]:
    meta, spec = claim["metadata"], claim.get("spec") or {}
    name = f"pvc-{meta['uid']}"
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    volume: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "labels": {PROVISIONED_BY: PROVISIONER},
            "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
        },
        "spec": {
            "capacity": {"storage": storage},
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": spec.get("storageClassName") or "",
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "hostPath": {"path": str(root / name), "type": "DirectoryOrCreate"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
        },
    }
    return volume


async def provision_once(api: ApiClient, root: Path) -> list[str]:
    """Create volumes for pending claims, delete released ones we made; the volumes created."""
    created: list[str] = []
    claims = await api.get("/api/v1/persistentvolumeclaims")
    volumes = await api.get(
        "/api/v1/persistentvolumes", labelSelector=f"{PROVISIONED_BY}={PROVISIONER}"
    )
    existing = {v["metadata"]["name"] for v in volumes.get("items") or []}
    for claim in claims.get("items") or []:
        spec, status = claim.get("spec") or {}, claim.get("status") or {}
        if spec.get("volumeName") or status.get("phase", "Pending") != "Pending":
            continue
        if claim["metadata"].get("deletionTimestamp"):
            continue
        volume = persistent_volume(claim, root)
        if volume["metadata"]["name"] in existing:
            continue
        os.makedirs(volume["spec"]["hostPath"]["path"], exist_ok=True)
        try:
            await api.create("/api/v1/persistentvolumes", volume)
        except ApiStatusError as exc:
            if exc.code != 409:
                raise
        created.append(volume["metadata"]["name"])
    for volume in volumes.get("items") or []:
        if (volume.get("status") or {}).get("phase") == "Released":
            name = volume["metadata"]["name"]
            try:
                await api.delete(f"/api/v1/persistentvolumes/{name}")
            except ApiStatusError as exc:
                if exc.code != 404:
                    raise
            shutil.rmtree(root / name, ignore_errors=True)
    return created


async def run_provisioner(api: ApiClient, root: Path, period: float = 1.0) -> None:
    while True:
        try:
            for name in await provision_once(api, root):
                _log.info("provisioned %s", name)
        except (ApiStatusError, OSError, TimeoutError) as exc:
            _log.warning("provisioner: %s", exc)
        await asyncio.sleep(period)
