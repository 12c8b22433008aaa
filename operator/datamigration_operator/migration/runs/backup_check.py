"""Checking a backup file and restoring from it (`dmctl backup verify|restore`).

A backup is sound when its SHA-256 is the one recorded (status.backup.sha256, or the manifest
beside it), SQLite's `PRAGMA integrity_check` says ok, and opened read-only it holds the rows
per table the copy recorded. Restoring uses SQLite's online-backup API: into a new file built
beside the target and renamed into place, or, with `replace`, into the existing database
(SQLite takes its locks and its -wal file stays consistent; a file renamed over a database with
a -wal beside it would be corrupted by that log).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from datamigration_operator.api.status import TableRows
from datamigration_operator.migration.runs.backup import file_sha256
from datamigration_operator.migration.runs.backup_manifest import (
    PARTIAL_SUFFIX,
    BackupManifest,
    fsync_folder,
    manifest_path,
    read_manifest,
)
from datamigration_operator.migration.source.reflection import quote_identifier


class BackupUsageError(ValueError):
    """The command cannot run as asked (a missing file, a target that exists); nothing changed."""


@dataclass
class Verification:
    file: Path
    sha256: str
    size_bytes: int
    expected_sha256: str | None
    integrity: list[str] = field(default_factory=list)
    """`PRAGMA integrity_check`'s lines: ["ok"] for a sound database."""
    rows: list[tuple[str, int, int | None]] = field(default_factory=list)
    """(table, rows expected, rows found; None when the table is missing)."""
    manifest: BackupManifest | None = None

    @property
    def problems(self) -> list[str]:
        found = []
        if self.expected_sha256 is not None and self.sha256 != self.expected_sha256:
            found.append(f"SHA-256 is {self.sha256}, expected {self.expected_sha256}")
        if self.integrity != ["ok"]:
            found.append("integrity_check: " + "; ".join(self.integrity[:5]))
        for table, expected, actual in self.rows:
            if actual is None:
                found.append(f"table {table} is missing (expected {expected} rows)")
            elif actual != expected:
                found.append(f"table {table} has {actual} rows, expected {expected}")
        return found


def read_only_uri(path: Path) -> str:
    return f"file:{quote(str(path.resolve()))}?mode=ro"


def verify_backup(
    file: Path, *, sha256: str | None = None, expected_rows: Sequence[TableRows] | None = None
) -> Verification:
    """Checks `file`; `sha256` and `expected_rows` default to the manifest beside it."""
    if not file.is_file():
        raise BackupUsageError(f"{file} is not a file")
    manifest = read_manifest(manifest_path(file))
    if manifest is not None and not manifest.complete:
        manifest = None  # its checksum was never verified: it vouches for nothing
    expected = sha256.lower() if sha256 else (manifest.sha256 if manifest else None)
    rows = expected_rows if expected_rows is not None else (manifest.tables if manifest else [])
    digest, size = file_sha256(file)
    result = Verification(file, digest, size, expected, manifest=manifest)
    try:
        connection = sqlite3.connect(read_only_uri(file), uri=True)
        try:
            result.integrity = [str(r[0]) for r in connection.execute("PRAGMA integrity_check")]
            for wanted in rows:
                result.rows.append((wanted.table, wanted.rows, _count(connection, wanted.table)))
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        result.integrity = [f"not a readable SQLite database: {error}"]
    return result


def _count(connection: sqlite3.Connection, table: str) -> int | None:
    try:
        row = connection.execute(f"SELECT count(*) FROM {quote_identifier(table)}").fetchone()
    except sqlite3.OperationalError:
        return None
    return int(row[0])


def restore_backup(file: Path, target: Path, *, replace: bool = False) -> None:
    """Copies the database in `file` to `target` with the online-backup API. Refuses an existing
    `target` unless `replace`; a new `target` appears whole or not at all."""
    if not file.is_file():
        raise BackupUsageError(f"{file} is not a file")
    if target.exists() and not replace:
        raise BackupUsageError(
            f"{target} exists; --force replaces its content (stop the app's writers first)"
        )
    if not target.parent.is_dir():
        raise BackupUsageError(f"folder {target.parent} does not exist")
    source = sqlite3.connect(read_only_uri(file), uri=True)
    try:
        if target.exists():
            _backup_into(source, target)
            return
        building = target.with_name(target.name + PARTIAL_SUFFIX)
        building.unlink(missing_ok=True)
        try:
            _backup_into(source, building)
            os.replace(building, target)
        finally:
            building.unlink(missing_ok=True)
        fsync_folder(target.parent)
    finally:
        source.close()


def _backup_into(source: sqlite3.Connection, target: Path) -> None:
    destination = sqlite3.connect(target)
    try:
        destination.execute("PRAGMA synchronous = FULL")
        source.backup(destination, pages=-1)
    finally:
        destination.close()
