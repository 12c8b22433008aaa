"""Where a copy Job keeps its SQLite backup: spec.backup resolved, and the volume and mount
that give the Job that folder read-write while the source stays mounted read-only."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any, Final

from datamigration_operator.api import job_contract as contract
from datamigration_operator.api.phases import JobKind
from datamigration_operator.api.resource import DataMigration

DEFAULT_BACKUP_FOLDER: Final = ".datamigration/backups"
BACKUP_VOLUME: Final = "backup"


@dataclass(frozen=True)
class BackupLocation:
    claim_name: str
    path: str
    """Folder relative to the claim's root."""
    retain: int
    on_source_claim: bool


def backup_location(dm: DataMigration, kind: JobKind) -> BackupLocation | None:
    """Only the copy keeps a backup, and only when spec.backup.enabled."""
    backup = dm.spec.backup
    if kind != "copy" or not backup.enabled:
        return None
    claim = backup.claim_name or dm.spec.source.claim_name
    path = backup.path or posixpath.join(DEFAULT_BACKUP_FOLDER, dm.metadata.name)
    return BackupLocation(claim, path, backup.retain, claim == dm.spec.source.claim_name)


def job_backup(location: BackupLocation | None) -> contract.JobBackup | None:
    if location is None:
        return None
    return contract.JobBackup(
        directory=contract.BACKUP_MOUNT_PATH,
        claim_name=location.claim_name,
        path=location.path,
        retain=location.retain,
    )


def backup_mount(location: BackupLocation, source_volume: str) -> dict[str, Any]:
    """The backup folder as a subPath of its claim's volume, read-write (the kubelet creates
    a missing subPath folder with the mode of the volume's root)."""
    volume = source_volume if location.on_source_claim else BACKUP_VOLUME
    return {"name": volume, "mountPath": contract.BACKUP_MOUNT_PATH, "subPath": location.path}


def backup_volume(location: BackupLocation) -> dict[str, Any] | None:
    """A volume for a backup claim other than the source's; None when it is the source's."""
    if location.on_source_claim:
        return None
    return {
        "name": BACKUP_VOLUME,
        "persistentVolumeClaim": {"claimName": location.claim_name},
    }
