"""The copy keeps its consistent snapshot as a SQLite backup before a row moves: the file is
there with the checksum and row counts status.backup reports, and retention keeps exactly the
newest `retain` backups of this DataMigration, nobody else's."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import NamedTuple

import pytest

from datamigration_operator.api.status import BackupStatus
from datamigration_operator.migration.runs import backup as backup_module
from datamigration_operator.migration.runs.backup import (
    BackupError,
    BackupSettings,
    room_to_leave,
)
from datamigration_operator.migration.runs.backup_manifest import read_manifest
from datamigration_operator.migration.runs.run import RunSettings, copy_run
from datamigration_sandbox.sample_data import SampleDatabase, sample_collections
from tests.integration.migration.conftest import (
    RecordingReporter,
    RunningWeaviate,
    settings,
)

OWNER = "chat/history"


class DiskUsage(NamedTuple):  # shutil.disk_usage's answer
    total: int
    used: int
    free: int


def backup_settings(
    folder: Path, *, retain: int = 3, job: str = "history-migrate-1a2b"
) -> BackupSettings:
    return BackupSettings(
        directory=folder,
        claim_name="chat-data",
        path=".datamigration/backups/history",
        retain=retain,
        owner=OWNER,
        job=job,
    )


def copy_with_backup(
    weaviate: RunningWeaviate, run: RunSettings, backup: BackupSettings
) -> tuple[BackupStatus, RecordingReporter, dict[str, int]]:
    """The copy; the backup it published and what Weaviate held when it did."""
    reporter = RecordingReporter()
    published: list[BackupStatus] = []
    at_backup: dict[str, int] = {}

    def on_backup(status: BackupStatus) -> None:
        published.append(status)
        at_backup["objects"] = objects_in(weaviate)
        at_backup["progressReports"] = len(reporter.progress)

    client = weaviate.client()
    try:
        result, _ = copy_run(
            dataclasses.replace(run, backup=backup), client, reporter, on_backup=on_backup
        )
    finally:
        client.close()
    assert result.failed_count == 0
    (status,) = published
    return status, reporter, at_backup


def objects_in(weaviate: RunningWeaviate) -> int:
    found = (weaviate.server.database.find(m.collection) for m in sample_collections())
    return sum(len(collection.objects) for collection in found if collection is not None)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows_in(path: Path, table: str) -> int:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
    finally:
        connection.close()


@pytest.mark.parametrize("snapshot", [True, False])
def test_the_backup_exists_after_the_copy_with_a_matching_checksum(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path, snapshot: bool
) -> None:
    folder = tmp_path / "claim" / ".datamigration" / "backups" / "history"
    scratch = tmp_path / "scratch"
    run = dataclasses.replace(settings(database, scratch), snapshot=snapshot)
    status, reporter, at_backup = copy_with_backup(weaviate, run, backup_settings(folder))

    file = folder / Path(status.path).name
    assert status.path == f".datamigration/backups/history/{file.name}"
    assert file.name.startswith("history-migrate-1a2b-")
    assert file.name.endswith("Z.sqlite")
    assert status.claim == "chat-data"
    assert status.sha256 == sha256(file)
    assert status.size_bytes == file.stat().st_size
    assert status.retained == [file.name]
    # taken before a row moved: nothing in Weaviate, no progress reported yet
    assert at_backup == {"objects": 0, "progressReports": 0}
    # a standalone, sound database holding every row the copy then read
    connection = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    connection.close()
    assert {t.table: t.rows for t in status.tables} == database.counts
    assert {t: rows_in(file, t) for t in database.counts} == database.counts
    assert reporter.progress[-1].rows_total == sum(database.counts.values())
    manifest = read_manifest(folder / (file.name + ".json"))
    assert manifest is not None
    assert (manifest.complete, manifest.sha256, manifest.datamigration) == (
        True,
        status.sha256,
        OWNER,
    )
    # no snapshot of its own left in scratch space when reading the live file
    if not snapshot:
        assert list(scratch.glob("*.sqlite")) == []


def test_retention_keeps_exactly_the_newest_backups_of_this_migration(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    run = settings(database, tmp_path / "scratch")
    # another migration's backup and a file nobody claims share the folder
    theirs = backup_settings(folder, retain=1, job="other-migrate-9z9z")
    theirs = dataclasses.replace(theirs, owner="chat/other")
    other, _, _ = copy_with_backup(weaviate, run, theirs)
    stray = folder / "by-hand.sqlite"
    stray.write_bytes(b"kept by a person")

    names = []
    for rerun in range(3):
        status, _, _ = copy_with_backup(
            weaviate, run, backup_settings(folder, retain=2, job=f"history-migrate-run{rerun}")
        )
        names.append(Path(status.path).name)
        assert status.retained == list(reversed(names))[:2]
    ours = sorted(p.name for p in folder.glob("history-*.sqlite"))
    assert ours == sorted(names[1:])
    assert (folder / Path(other.path).name).is_file()  # never another migration's
    assert stray.read_bytes() == b"kept by a person"  # never a file without a manifest
    # retain 1: exactly the newest stays, with its manifest
    last, _, _ = copy_with_backup(
        weaviate, run, backup_settings(folder, retain=1, job="history-migrate-last")
    )
    assert sorted(p.name for p in folder.glob("history-*")) == [
        Path(last.path).name,
        Path(last.path).name + ".json",
    ]
    assert last.retained == [Path(last.path).name]
    assert sha256(folder / Path(last.path).name) == last.sha256


def test_a_backup_killed_mid_write_is_cleaned_up_by_the_next_one(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    run = settings(database, tmp_path / "scratch")
    first, _, _ = copy_with_backup(weaviate, run, backup_settings(folder, job="history-migrate-a"))
    # what a pod killed while copying leaves: its manifest (not complete) and a partial file
    killed = "history-migrate-b-20260101T000000Z.sqlite"
    (folder / (killed + ".partial")).write_bytes(b"half a database")
    manifest = {
        "datamigration": OWNER,
        "job": "history-migrate-b",
        "file": killed,
        "takenAt": "2026-01-01T00:00:00Z",
    }
    (folder / (killed + ".json")).write_text(json.dumps(manifest))

    second, _, _ = copy_with_backup(weaviate, run, backup_settings(folder, job="history-migrate-c"))
    assert not (folder / (killed + ".partial")).exists()
    assert not (folder / (killed + ".json")).exists()
    assert second.retained == [Path(second.path).name, Path(first.path).name]


def test_a_backup_that_cannot_be_written_fails_the_copy_before_a_row_moves(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the backup folder should be")
    reporter = RecordingReporter()
    client = weaviate.client()
    run = dataclasses.replace(
        settings(database, tmp_path / "scratch"), backup=backup_settings(blocked / "history")
    )
    try:
        with pytest.raises(
            BackupError,
            match=r"cannot keep the SQLite backup in chat-data:\.datamigration/backups/history",
        ):
            copy_run(run, client, reporter)
    finally:
        client.close()
    assert reporter.progress == []
    assert objects_in(weaviate) == 0


def test_a_checksum_that_does_not_read_back_retires_nothing(
    weaviate: RunningWeaviate,
    database: SampleDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "backups"
    run = settings(database, tmp_path / "scratch")
    first, _, _ = copy_with_backup(
        weaviate, run, backup_settings(folder, retain=1, job="history-migrate-a")
    )

    def corrupted(path: Path) -> tuple[str, int]:  # storage returning other bytes than written
        return "0" * 64, path.stat().st_size

    monkeypatch.setattr(backup_module, "file_sha256", corrupted)
    with pytest.raises(BackupError, match="read back with SHA-256 0000"):
        copy_with_backup(weaviate, run, backup_settings(folder, retain=1, job="history-migrate-b"))
    # the verified one stays; the one that did not read back is removed with its manifest
    assert sha256(folder / Path(first.path).name) == first.sha256
    assert sorted(p.name for p in folder.iterdir()) == [
        Path(first.path).name,
        Path(first.path).name + ".json",
    ]


def test_a_full_claim_fails_the_backup_and_leaves_no_partial_file(
    weaviate: RunningWeaviate,
    database: SampleDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "backups"
    run = settings(database, tmp_path / "scratch")
    first, _, _ = copy_with_backup(weaviate, run, backup_settings(folder, job="history-migrate-a"))

    def disk_full(source: Path, target: Path) -> tuple[str, int]:
        target.write_bytes(source.read_bytes()[:4096])
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(backup_module, "copy_hashing", disk_full)
    with pytest.raises(BackupError, match=r"No space left on device.*free space or lower"):
        copy_with_backup(weaviate, run, backup_settings(folder, job="history-migrate-b"))
    assert sorted(p.name for p in folder.iterdir()) == [
        Path(first.path).name,
        Path(first.path).name + ".json",
    ]


def test_a_backup_that_would_leave_the_claim_short_of_space_is_refused_before_writing(
    weaviate: RunningWeaviate,
    database: SampleDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "backups"
    size = database.path.stat().st_size
    total = 10 << 30  # 10 GiB: 512 MiB (5%) must stay free
    free = size + room_to_leave(total) - 1

    def nearly_full(path: object) -> DiskUsage:
        return DiskUsage(total, total - free, free)

    monkeypatch.setattr(backup_module.shutil, "disk_usage", nearly_full)
    with pytest.raises(BackupError, match=f"it takes {size} bytes and must leave 536870912"):
        copy_with_backup(
            weaviate, settings(database, tmp_path / "scratch"), backup_settings(folder)
        )
    assert list(folder.iterdir()) == []
    assert objects_in(weaviate) == 0
