"""`dmctl backup verify|restore|list` on backups the copy kept: a sound backup verifies; a
changed byte, a wrong checksum or missing rows do not (exit 3); restore builds a new database
with the online-backup API and refuses to overwrite one without --force."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datamigration_operator.api.status import BackupStatus
from datamigration_operator.cli.main import app
from datamigration_sandbox.sample_data import SampleDatabase
from tests.integration.migration.conftest import RunningWeaviate, settings
from tests.integration.migration.test_backup import backup_settings, copy_with_backup


@pytest.fixture
def kept(weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path) -> BackupStatus:
    status, _, _ = copy_with_backup(
        weaviate, settings(database, tmp_path / "scratch"), backup_settings(tmp_path / "backups")
    )
    return status


def backup_file(tmp_path: Path, status: BackupStatus) -> Path:
    return tmp_path / "backups" / Path(status.path).name


def dmctl(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def rows(path: Path) -> dict[str, int]:
    connection = sqlite3.connect(path)
    try:
        tables = [
            r[0] for r in connection.execute("SELECT name FROM sqlite_schema WHERE type='table'")
        ]
        return {t: connection.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        connection.close()


def test_a_kept_backup_verifies_against_its_manifest_and_the_status_checksum(
    kept: BackupStatus, tmp_path: Path, database: SampleDatabase
) -> None:
    file = backup_file(tmp_path, kept)
    code, out, err = dmctl("backup", "verify", str(file))
    assert (code, err) == (0, "")
    assert f"sha256: {kept.sha256} matches" in out
    assert "integrity_check: ok" in out
    for table, count in database.counts.items():
        assert f"rows {table}: {count} (copy recorded {count})" in out
    assert dmctl("backup", "verify", str(file), "--sha256", kept.sha256)[0] == 0


def test_a_wrong_checksum_or_a_changed_byte_does_not_verify(
    kept: BackupStatus, tmp_path: Path
) -> None:
    file = backup_file(tmp_path, kept)
    code, _, err = dmctl("backup", "verify", str(file), "--sha256", "0" * 64)
    assert code == 3
    assert f"SHA-256 is {kept.sha256}, expected {'0' * 64}" in err
    data = bytearray(file.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte in the last page
    file.write_bytes(bytes(data))
    code, out, err = dmctl("backup", "verify", str(file))
    assert code == 3
    assert "DIFFERS" in out


def test_missing_rows_do_not_verify(kept: BackupStatus, tmp_path: Path) -> None:
    file = backup_file(tmp_path, kept)
    copy = tmp_path / "edited.sqlite"
    connection = sqlite3.connect(copy)
    sqlite3.connect(file).backup(connection)
    connection.execute("DELETE FROM messages WHERE rowid % 2 = 0")
    connection.commit()
    connection.close()
    # the copy's checksum as recorded for it, the original's row counts: rows are compared
    (tmp_path / "edited.sqlite.json").write_text(
        (file.with_name(file.name + ".json")).read_text().replace(file.name, "edited.sqlite")
    )
    code, _, err = dmctl("backup", "verify", str(copy))
    assert code == 3
    assert "table messages has" in err


def test_verify_without_a_manifest_needs_a_checksum(kept: BackupStatus, tmp_path: Path) -> None:
    file = backup_file(tmp_path, kept)
    alone = tmp_path / "alone.sqlite"
    alone.write_bytes(file.read_bytes())
    code, _, err = dmctl("backup", "verify", str(alone))
    assert code == 2
    assert "pass --sha256" in err
    assert dmctl("backup", "verify", str(alone), "--sha256", kept.sha256)[0] == 0
    assert dmctl("backup", "verify", str(tmp_path / "absent.sqlite"))[0] == 2


def test_restore_writes_a_new_database_and_refuses_to_overwrite_without_force(
    kept: BackupStatus, tmp_path: Path, database: SampleDatabase
) -> None:
    file = backup_file(tmp_path, kept)
    target = tmp_path / "restored" / "app.db"
    target.parent.mkdir()
    code, out, _ = dmctl("backup", "restore", str(file), "--to", str(target))
    assert code == 0
    assert "integrity_check ok" in out
    assert {t: n for t, n in rows(target).items() if t in database.counts} == database.counts
    assert sorted(p.name for p in target.parent.iterdir()) == ["app.db"]

    # an existing database: refused and untouched without --force
    connection = sqlite3.connect(target)
    connection.execute("DELETE FROM messages")
    connection.commit()
    connection.close()
    before = target.read_bytes()
    code, _, err = dmctl("backup", "restore", str(file), "--to", str(target))
    assert code == 2
    assert "exists; --force replaces" in err
    assert target.read_bytes() == before
    assert dmctl("backup", "restore", str(file), "--to", str(target), "--force")[0] == 0
    assert rows(target)["messages"] == database.counts["messages"]


def test_restore_refuses_a_backup_that_does_not_verify(kept: BackupStatus, tmp_path: Path) -> None:
    file = backup_file(tmp_path, kept)
    target = tmp_path / "restored.db"  # (app.db is the source database)
    code, _, err = dmctl("backup", "restore", str(file), "--to", str(target), "--sha256", "1" * 64)
    assert code == 3
    assert "nothing was restored" in err
    assert not target.exists()


def test_list_shows_whose_backups_are_in_a_folder(kept: BackupStatus, tmp_path: Path) -> None:
    code, out, _ = dmctl("backup", "list", str(tmp_path / "backups"), "-o", "json")
    assert code == 0
    (only,) = json.loads(out)
    assert (only["file"], only["sha256"], only["complete"]) == (
        Path(kept.path).name,
        kept.sha256,
        True,
    )
    code, out, _ = dmctl("backup", "list", str(tmp_path / "backups"))
    assert "chat/history" in out
    assert "complete" in out
