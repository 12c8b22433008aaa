"""The generated GremlinsAI-shaped database holds what the migration tests rely on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from datamigration_operator.migration.mapping import RowError, plan_collections, row_to_object
from datamigration_operator.migration.source.sqlite_source import SqliteSource
from datamigration_sandbox.sample_data import generate_database, sample_collections


def test_sizes_references_and_determinism(tmp_path: Path) -> None:
    first = generate_database(tmp_path / "a.db", rows=1000, seed=3)
    second = generate_database(tmp_path / "b.db", rows=1000, seed=3)
    assert first.counts == {"conversations": 100, "documents": 100, "messages": 800}
    assert first.path.read_bytes() == second.path.read_bytes()
    with sqlite3.connect(first.path) as connection:
        orphans = connection.execute(
            "SELECT count(*) FROM messages m LEFT JOIN conversations c "
            "ON c.id = m.conversation_id WHERE c.id IS NULL"
        ).fetchone()[0]
    assert orphans == 0
    with pytest.raises(FileExistsError):
        generate_database(first.path, rows=10)
    with pytest.raises(ValueError, match="rows must be between"):
        generate_database(tmp_path / "c.db", rows=2_000_001)


def test_bad_data_rows_migrate_or_are_exactly_the_reported_ones(tmp_path: Path) -> None:
    database = generate_database(tmp_path / "bad.db", rows=300, bad_data=True)
    reported: dict[str, list[tuple[object, ...]]] = {}
    with SqliteSource(database.path, snapshot=True, scratch_dir=tmp_path / "scratch") as source:
        tables = source.tables()
        stats = {name: source.column_stats(name) for name in tables}
        plans = plan_collections(sample_collections(bad_data=True), tables, column_stats=stats)
        assert {p.table for p in plans} == set(tables)
        assert tables["settings"].without_rowid
        for plan in plans:
            for batch in source.rows(plan, batch_size=64):
                for row in batch:
                    try:
                        row_to_object(plan, row, migration_namespace="t/bad")
                    except RowError as error:
                        reported.setdefault(plan.table, []).append(error.key)
        big = next(p for p in plans if p.table == "edge_values").properties
        assert {p.column: p.data_type for p in big}["big"] == "text"
    assert reported == database.unrepresentable


def test_the_generated_database_is_the_example_chat_apps() -> None:
    from chat_app.chat_store import COLLECTIONS

    assert sample_collections() == list(COLLECTIONS)
