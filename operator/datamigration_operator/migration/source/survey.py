"""What discovery needs to know about a SQLite database: its tables with their column stats,
the columns holding only date text, the declared foreign keys (with dangling values counted)
and the schema objects that are not tables. Read-only: `dmctl plan` surveys the live file, a
Job with spec.discover the snapshot it copies from."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from datamigration_operator.migration.mapping.discovery import (
    ForeignKey,
    SkippedObject,
    TableSurvey,
)
from datamigration_operator.migration.mapping.model import TableInfo
from datamigration_operator.migration.source.reflection import quote_identifier
from datamigration_operator.migration.source.sqlite_source import SqliteSource

# pragma_table_list types that hold no rows of their own to migrate.
_NOT_TABLES: Final = {
    "view": "a view: its rows are those of its tables",
    "virtual": "a virtual table: its module computes its rows (an FTS index is rebuilt from "
    "its content table)",
    "shadow": "a virtual table's storage",
}


def survey_database(path: Path) -> tuple[list[TableSurvey], list[SkippedObject]]:
    with SqliteSource(path, snapshot=False) as source:
        return survey_source(source)


def survey_source(source: SqliteSource) -> tuple[list[TableSurvey], list[SkippedObject]]:
    surveys = []
    for name, table in source.tables().items():
        stats = source.column_stats(name)
        surveys.append(
            TableSurvey(
                table=table,
                stats=stats,
                date_columns=source.date_columns(name, stats),
                foreign_keys=tuple(_foreign_keys(source, table)),
            )
        )
    return surveys, _not_tables(source)


def _not_tables(source: SqliteSource) -> list[SkippedObject]:
    rows = source.query(
        "SELECT name, type FROM pragma_table_list WHERE schema = 'main' "
        "AND type IN ('view', 'virtual', 'shadow') ORDER BY name"
    )
    return [SkippedObject(name, _NOT_TABLES[kind]) for name, kind in rows]


def _foreign_keys(source: SqliteSource, table: TableInfo) -> Iterator[ForeignKey]:
    rows = source.query(
        'SELECT id, seq, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq',
        (table.name,),
    )
    grouped: dict[int, list[tuple[str, str, str | None]]] = {}
    for fk_id, _, target, source_column, target_column in rows:
        grouped.setdefault(fk_id, []).append((target, source_column, target_column))
    for parts in grouped.values():
        target = parts[0][0]
        columns = tuple(p[1] for p in parts)
        targets = tuple(p[2] for p in parts)
        orphans = 0
        if len(columns) == 1:
            orphans = _orphans(source, table.name, columns[0], target, targets[0])
        yield ForeignKey(columns, target, targets, orphans)


def _orphans(
    source: SqliteSource, table: str, column: str, target: str, target_column: str | None
) -> int:
    """Rows whose value matches no target row (SQLite enforces foreign keys only when asked)."""
    key = target_column
    if key is None:
        primary = source.query(
            "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (target,)
        )
        if len(primary) != 1:
            return 0  # not a reference the plan makes anyway
        key = primary[0][0]
    value = f"s.{quote_identifier(column)}"
    try:
        ((count,),) = source.query(
            f"SELECT count(*) FROM {quote_identifier(table)} AS s WHERE {value} NOT NULL AND "
            f"NOT EXISTS (SELECT 1 FROM {quote_identifier(target)} AS t "
            f"WHERE t.{quote_identifier(key)} = {value})"
        )
    except sqlite3.OperationalError:  # the target table or column does not exist
        return 0
    return int(count)
