"""The SQLite side of a diff indexed in a child process: the same entries as in-process, in
uuid order, and the child's errors raised in the parent as themselves."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from datamigration_operator.migration.mapping import plan_collections
from datamigration_operator.migration.source.diff_index import (
    SourceIndexProcess,
    index_rows,
    open_scratch,
    sorted_entries,
)
from datamigration_operator.migration.source.snapshot import SourceError
from datamigration_operator.migration.source.sqlite_source import SqliteSource
from datamigration_sandbox.sample_data import generate_database, sample_collections


def test_the_child_indexes_every_table_like_the_parent_would(tmp_path: Path) -> None:
    db = generate_database(tmp_path / "app.db", rows=1_500, bad_data=True).path
    source = SqliteSource(db, snapshot=False)
    try:
        plans = plan_collections(sample_collections(bad_data=True), source.tables())
        child = SourceIndexProcess(db, plans, namespace="ns", batch_size=100, scratch_dir=tmp_path)
        try:
            for index, plan in enumerate(plans):
                scratch = open_scratch(tmp_path / f"expected-{index}.sqlite")
                scratch.execute("CREATE TABLE source (uuid BLOB, hash BLOB, key)")
                index_rows(scratch, "source", plan, source.rows(plan, batch_size=100), "ns")
                expected = list(
                    sorted_entries(scratch, "SELECT uuid, hash, key FROM source ORDER BY uuid")
                )
                scratch.close()
                got = list(child.sorted(index))
                assert got == expected
                assert len(got) == source.count(plan.table)
        finally:
            child.close()
    finally:
        source.close()
    assert not list(tmp_path.glob("source-*.sqlite"))  # the child's files are gone


def test_an_error_in_the_child_is_raised_in_the_parent(tmp_path: Path) -> None:
    db = generate_database(tmp_path / "app.db", rows=1_000).path
    source = SqliteSource(db, snapshot=False)
    plans = plan_collections(sample_collections(), source.tables())
    source.close()
    connection = sqlite3.connect(db)
    connection.execute("DROP TABLE messages")
    connection.commit()
    connection.close()
    child = SourceIndexProcess(db, plans, namespace="ns", batch_size=100, scratch_dir=tmp_path)
    try:
        assert [plan.table for plan in plans] == ["conversations", "messages", "documents"]
        assert len(list(child.sorted(0))) == 100  # the tables before the error are indexed
        with pytest.raises(SourceError, match="messages"):
            list(child.sorted(1))
    finally:
        child.close()
