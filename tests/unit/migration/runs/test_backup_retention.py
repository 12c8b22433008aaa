"""The retention rule as written: after a new backup is complete and verified, this
DataMigration's older backups beyond `retain` go, oldest first; never another migration's,
never the new one, never before the new one is complete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from datamigration_operator.migration.runs.backup_retention import (
    BackupEntry,
    RetentionError,
    kept,
    retired,
)

OURS, THEIRS = "chat/history", "chat/history-2"
T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def entry(name: str, minutes: int, owner: str = OURS, complete: bool = True) -> BackupEntry:
    return BackupEntry(name, owner, T0 + timedelta(minutes=minutes), complete)


def names(entries: list[BackupEntry]) -> list[str]:
    return [e.name for e in entries]


def test_keeps_the_newest_retain_and_retires_the_rest_oldest_last() -> None:
    folder = [entry("a", 0), entry("b", 1), entry("c", 2), entry("d", 3), entry("new", 4)]
    assert names(retired(folder, owner=OURS, newest="new", retain=3)) == ["b", "a"]
    assert kept(folder, owner=OURS, newest="new", retain=3) == ["new", "d", "c"]


def test_retain_one_leaves_only_the_new_backup() -> None:
    folder = [entry("a", 0), entry("b", 1), entry("new", 2)]
    assert names(retired(folder, owner=OURS, newest="new", retain=1)) == ["b", "a"]
    assert kept(folder, owner=OURS, newest="new", retain=1) == ["new"]


def test_never_another_migrations_backups() -> None:
    folder = [entry("theirs-old", -10, THEIRS), entry("a", 0), entry("new", 1)]
    assert names(retired(folder, owner=OURS, newest="new", retain=1)) == ["a"]
    assert "theirs-old" not in kept(folder, owner=OURS, newest="new", retain=1)


def test_the_new_backup_stays_even_when_an_older_one_claims_a_later_time() -> None:
    """A clock that went back: the backup just written is still the one kept."""
    folder = [entry("skewed", 60), entry("new", 0)]
    assert names(retired(folder, owner=OURS, newest="new", retain=1)) == ["skewed"]
    assert kept(folder, owner=OURS, newest="new", retain=2) == ["new", "skewed"]


def test_unfinished_backups_of_this_migration_are_always_retired() -> None:
    folder = [entry("killed", 5, complete=False), entry("a", 0), entry("new", 6)]
    assert names(retired(folder, owner=OURS, newest="new", retain=3)) == ["killed"]
    assert kept(folder, owner=OURS, newest="new", retain=3) == ["new", "a"]


def test_nothing_is_retired_before_the_new_backup_is_complete() -> None:
    folder = [entry("a", 0), entry("new", 1, complete=False)]
    with pytest.raises(RetentionError, match="not a complete backup"):
        retired(folder, owner=OURS, newest="new", retain=1)
    with pytest.raises(RetentionError, match="not a complete backup"):
        retired([entry("new", 1, THEIRS)], owner=OURS, newest="new", retain=1)


def test_retain_below_one_is_refused() -> None:
    with pytest.raises(RetentionError, match="at least 1"):
        retired([entry("new", 0)], owner=OURS, newest="new", retain=0)


def test_fewer_backups_than_retain_retires_nothing() -> None:
    folder = [entry("a", 0), entry("new", 1)]
    assert retired(folder, owner=OURS, newest="new", retain=3) == []
    assert kept(folder, owner=OURS, newest="new", retain=3) == ["new", "a"]
