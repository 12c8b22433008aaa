"""The copy Job's backup: the consistent snapshot the copy reads, kept on a claim before a row
moves.

The snapshot (SQLite online-backup API, in scratch space) is copied into the backup folder as
`<job>-<taken at, UTC>.sqlite` while its SHA-256 is computed, fsynced, renamed into place, then
read back: only when the file's checksum matches is its manifest marked complete and are this
DataMigration's older backups beyond `retain` deleted (see backup_retention). The claim is often
the app's own: a backup that would leave less than 5% of it (64 MiB at least) free is refused,
and a failed one is removed at once. A failure at any step fails the copy before it writes to
Weaviate (BackupError, exit 42: the folder's permissions or free space are for a person to
fix); nothing already kept is deleted then.
"""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from datamigration_operator.api.status import BackupStatus, TableRows
from datamigration_operator.migration.runs.backup_manifest import (
    BACKUP_SUFFIX,
    MANIFEST_SUFFIX,
    PARTIAL_SUFFIX,
    BackupManifest,
    fsync_folder,
    manifests_in,
    write_manifest,
)
from datamigration_operator.migration.runs.backup_retention import BackupEntry, kept, retired
from datamigration_operator.migration.source.reflection import quote_identifier
from datamigration_operator.migration.source.snapshot import (
    backup_to,
    open_read_only,
    open_snapshot,
)
from datamigration_operator.migration.source.sqlite_source import SqliteSource

CHUNK: Final = 1 << 20
MIN_FREE_LEFT: Final = 64 << 20


class BackupError(RuntimeError):
    """The backup could not be written or verified; the message names the folder and why."""


@dataclass(frozen=True)
class BackupSettings:
    directory: Path
    """The folder as this process sees it."""
    claim_name: str
    path: str
    """The folder relative to its claim's root (what status.backup shows)."""
    retain: int
    owner: str
    """namespace/name of the DataMigration."""
    job: str


def keep_backup(
    source: SqliteSource, tables: Sequence[str], settings: BackupSettings, *, scratch_dir: Path
) -> BackupStatus:
    """Keeps the source's snapshot (or, reading the live file, a snapshot taken for it)."""
    snapshot = source.snapshot_path
    taken_here: Path | None = None
    if snapshot is None:
        live = open_read_only(source.path)
        try:
            snapshot = taken_here = backup_to(live, scratch_dir)
        finally:
            live.close()
    try:
        return write_backup(snapshot, tables, settings)
    finally:
        if taken_here is not None:
            taken_here.unlink(missing_ok=True)


def write_backup(snapshot: Path, tables: Sequence[str], settings: BackupSettings) -> BackupStatus:
    folder = settings.directory
    where = f"{settings.claim_name}:{settings.path}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        check_room(folder, snapshot.stat().st_size, where)
        # when the snapshot was written; the manifest keeps sub-second precision for ordering
        taken_at = datetime.fromtimestamp(snapshot.stat().st_mtime, UTC)
        rows = table_rows(snapshot, tables)
        name = free_name(folder, settings.job, taken_at)
        manifest = BackupManifest(
            datamigration=settings.owner,
            job=settings.job,
            file=name,
            taken_at=taken_at,
            tables=rows,
        )
        write_manifest(folder, manifest)  # first: a pod killed from here on leaves a claimed file
        try:
            digest, size = _write_verified(snapshot, folder / name, where)
        except BaseException:
            # what was written is not a backup and takes the app's space: gone at once
            delete_backup(folder, name)
            raise
        write_manifest(
            folder,
            manifest.model_copy(update={"complete": True, "size_bytes": size, "sha256": digest}),
        )
        entries = [_entry(m) for m in manifests_in(folder)]
        for old in retired(entries, owner=settings.owner, newest=name, retain=settings.retain):
            delete_backup(folder, old.name)
        retained = kept(
            [_entry(m) for m in manifests_in(folder)],
            owner=settings.owner,
            newest=name,
            retain=settings.retain,
        )
    except OSError as error:
        raise BackupError(_os_failure(error, where, folder)) from None
    return BackupStatus(
        job=settings.job,
        claim=settings.claim_name,
        path=posixpath.join(settings.path, name),
        size_bytes=size,
        sha256=digest,
        taken_at=taken_at.replace(microsecond=0),
        tables=rows,
        retained=retained,
    )


def _write_verified(snapshot: Path, final: Path, where: str) -> tuple[str, int]:
    """Copies, fsyncs, renames into place, then reads the file back: its SHA-256 and size."""
    partial = final.with_name(final.name + PARTIAL_SUFFIX)
    digest, size = copy_hashing(snapshot, partial)
    os.replace(partial, final)
    fsync_folder(final.parent)
    on_disk, _ = file_sha256(final)
    if on_disk != digest:
        raise BackupError(
            f"backup {where}/{final.name} read back with SHA-256 {on_disk}, not the {digest} "
            "written: the storage under the backup folder returns other bytes (removed)"
        )
    return digest, size


def room_to_leave(total: int) -> int:
    """Free space a backup must leave on its claim (often the app's own): 5%, at least 64 MiB."""
    return max(total // 20, MIN_FREE_LEFT)


def check_room(folder: Path, size: int, where: str) -> None:
    """Refuses a backup that would leave the claim (the app's writes) short of space."""
    usage = shutil.disk_usage(folder)
    leave = room_to_leave(usage.total)
    if usage.free - size < leave:
        raise BackupError(
            f"no room for the SQLite backup in {where}: it takes {size} bytes and must leave "
            f"{leave} of the claim free, {usage.free} are free; free space, lower "
            "spec.backup.retain, point spec.backup elsewhere, or set spec.backup.enabled: false"
        )


def _os_failure(error: OSError, where: str, folder: Path) -> str:
    detail = f"{error.strerror or error}: {error.filename or folder}"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "the Job runs as uid 65532, which must be able to write there"
    elif error.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "free space or lower spec.backup.retain"
    else:
        hint = "check the claim"
    return (
        f"cannot keep the SQLite backup in {where} ({detail}); {hint}, or set "
        "spec.backup.enabled: false"
    )


def _entry(manifest: BackupManifest) -> BackupEntry:
    return BackupEntry(manifest.file, manifest.datamigration, manifest.taken_at, manifest.complete)


def free_name(folder: Path, job: str, taken_at: datetime) -> str:
    """`<job>-<YYYYMMDDTHHMMSSZ>.sqlite`, with -2, -3, ... when a pod took one that second."""
    stem = f"{job}-{taken_at.strftime('%Y%m%dT%H%M%SZ')}"
    sequence = 1
    while True:
        name = stem + (f"-{sequence}" if sequence > 1 else "") + BACKUP_SUFFIX
        taken = (name, name + MANIFEST_SUFFIX, name + PARTIAL_SUFFIX)
        if not any((folder / n).exists() for n in taken):
            return name
        sequence += 1


def delete_backup(folder: Path, name: str) -> None:
    """The file, a partial copy of it, then its manifest (last: a deletion cut short is
    finished by the next run)."""
    (folder / name).unlink(missing_ok=True)
    (folder / (name + PARTIAL_SUFFIX)).unlink(missing_ok=True)
    (folder / (name + MANIFEST_SUFFIX)).unlink(missing_ok=True)
    fsync_folder(folder)


def copy_hashing(source: Path, target: Path) -> tuple[str, int]:
    """Copies `source` to a new file `target` (fsynced); its SHA-256 (hex) and size."""
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as reader, open(target, "xb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    return digest.hexdigest(), size


def file_sha256(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of the file at `path`."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as reader:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def table_rows(database: Path, tables: Sequence[str]) -> list[TableRows]:
    """Rows of each table in a private SQLite copy (nobody writes it: opened immutable)."""
    connection = open_snapshot(database)
    try:
        return [
            TableRows(
                table=table,
                rows=int(
                    connection.execute(
                        f"SELECT count(*) FROM {quote_identifier(table)}"
                    ).fetchone()[0]
                ),
            )
            for table in tables
        ]
    finally:
        connection.close()
