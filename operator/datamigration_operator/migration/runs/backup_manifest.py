"""The manifest beside each backup file (`<file>.json`): whose backup it is, whether it was
finished, its checksum, size and rows per table. Retention trusts only what a manifest says;
`dmctl backup verify` checks a file against it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from pydantic import Field, ValidationError

from datamigration_operator.api.model_base import StatusModel, Timestamp
from datamigration_operator.api.status import TableRows

MANIFEST_SUFFIX: Final = ".json"
BACKUP_SUFFIX: Final = ".sqlite"
PARTIAL_SUFFIX: Final = ".partial"


class BackupManifest(StatusModel):
    datamigration: str
    """namespace/name of the DataMigration whose copy Job took the backup."""
    job: str | None = None
    """The copy Job."""
    file: str
    """The backup's file name, in the manifest's folder."""
    taken_at: Timestamp
    """When the snapshot was taken."""
    complete: bool = False
    """Written, renamed into place and its checksum verified on the file."""
    size_bytes: int | None = Field(default=None, ge=0)
    sha256: str | None = None
    tables: list[TableRows] = Field(default_factory=list)
    """Rows per migrated table in the backup."""


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + MANIFEST_SUFFIX)


def read_manifest(path: Path) -> BackupManifest | None:
    """The manifest at `path`, or None when it is not one of ours (unreadable, not JSON, not a
    manifest, or naming a file outside its folder)."""
    try:
        manifest = BackupManifest.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None
    if Path(manifest.file).name != manifest.file or path.name != manifest.file + MANIFEST_SUFFIX:
        return None
    return manifest


def manifests_in(folder: Path) -> list[BackupManifest]:
    return [
        found
        for path in sorted(folder.glob(f"*{BACKUP_SUFFIX}{MANIFEST_SUFFIX}"))
        if (found := read_manifest(path)) is not None
    ]


def write_manifest(folder: Path, manifest: BackupManifest) -> None:
    """Atomically (a temporary file renamed over it) and durably (file and folder fsynced)."""
    target = folder / (manifest.file + MANIFEST_SUFFIX)
    temporary = target.with_name(target.name + PARTIAL_SUFFIX)
    with open(temporary, "wb") as out:
        out.write(manifest.model_dump_json(by_alias=True, exclude_none=True, indent=2).encode())
        out.write(b"\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, target)
    fsync_folder(folder)


def fsync_folder(folder: Path) -> None:
    """Makes renames and unlinks in `folder` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
