"""What `dmctl plan` needs to know about a SQLite file: its tables with their column stats,
the columns holding only date text, the declared foreign keys (with dangling values counted)
and the schema objects that are not tables. Read-only, from the live file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Final

from datamigration_operator.migration.mapping.discovery import (
    ForeignKey,
    SkippedObject,
    TableSurvey,
)
from datamigration_operator.migration.mapping.model import ColumnStats, TableInfo
from datamigration_operator.migration.mapping.values import to_date
from datamigration_operator.migration.source.reflection import quote_identifier
from datamigration_operator.migration.source.snapshot import open_read_only
from datamigration_operator.migration.source.sqlite_source import SqliteSource

# pragma_table_list types that hold no rows of their own to migrate.
_NOT_TABLES: Final = {
    "view": "a view: its rows are those of its tables",
    "virtual": "a virtual table: its module computes its rows (an FTS index is rebuilt from "
    "its content table)",
    "shadow": "a virtual table's storage",
}
# Cheap pre-filter before every value is parsed: what to_date accepts starts like this.
_DATE_GLOB: Final = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"


def survey_database(path: Path) -> tuple[list[TableSurvey], list[SkippedObject]]:
    with SqliteSource(path, snapshot=False) as source, closing(open_read_only(path)) as raw:
        surveys = []
        for name, table in source.tables().items():
            stats = source.column_stats(name)
            surveys.append(
                TableSurvey(
                    table=table,
                    stats=stats,
                    date_columns=frozenset(_date_columns(raw, table, stats)),
                    foreign_keys=tuple(_foreign_keys(raw, table)),
                )
            )
        return surveys, _not_tables(raw)


def _not_tables(raw: sqlite3.Connection) -> list[SkippedObject]:
    rows = raw.execute(
        "SELECT name, type FROM pragma_table_list WHERE schema = 'main' "
        "AND type IN ('view', 'virtual', 'shadow') ORDER BY name"
    ).fetchall()
    return [SkippedObject(name, _NOT_TABLES[kind]) for name, kind in rows]


def _date_columns(
    raw: sqlite3.Connection, table: TableInfo, stats: dict[str, ColumnStats]
) -> Iterator[str]:
    """Columns holding text only (and some), every value of which to_date converts."""
    name = quote_identifier(table.name)
    for column, found in stats.items():
        if not found.texts or found.integers or found.reals or found.blobs:
            continue
        col = quote_identifier(column)
        (shaped,) = raw.execute(
            f"SELECT count(*) FROM {name} WHERE {col} GLOB ?", (_DATE_GLOB,)
        ).fetchone()
        if shaped != found.texts:
            continue
        # As BLOB: text that is not UTF-8 is no date, and must not stop the scan.
        values = raw.execute(
            f"SELECT DISTINCT CAST({col} AS BLOB) FROM {name} WHERE {col} NOT NULL"
        )
        if all(_is_date(value) for (value,) in values):
            yield column


def _is_date(raw: bytes) -> bool:
    try:
        to_date(raw.decode("utf-8"))
    except ValueError:
        return False
    return True


def _foreign_keys(raw: sqlite3.Connection, table: TableInfo) -> Iterator[ForeignKey]:
    rows = raw.execute(
        'SELECT id, seq, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq',
        (table.name,),
    ).fetchall()
    grouped: dict[int, list[tuple[str, str, str | None]]] = {}
    for fk_id, _, target, source_column, target_column in rows:
        grouped.setdefault(fk_id, []).append((target, source_column, target_column))
    for parts in grouped.values():
        target = parts[0][0]
        columns = tuple(p[1] for p in parts)
        targets = tuple(p[2] for p in parts)
        orphans = 0
        if len(columns) == 1:
            orphans = _orphans(raw, table.name, columns[0], target, targets[0])
        yield ForeignKey(columns, target, targets, orphans)


def _orphans(
    raw: sqlite3.Connection, table: str, column: str, target: str, target_column: str | None
) -> int:
    """Rows whose value matches no target row (SQLite enforces foreign keys only when asked)."""
    key = target_column
    if key is None:
        primary = raw.execute(
            "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (target,)
        ).fetchall()
        if len(primary) != 1:
            return 0  # not a reference the plan makes anyway
        key = primary[0][0]
    value = f"s.{quote_identifier(column)}"
    try:
        (count,) = raw.execute(
            f"SELECT count(*) FROM {quote_identifier(table)} AS s WHERE {value} NOT NULL AND "
            f"NOT EXISTS (SELECT 1 FROM {quote_identifier(target)} AS t "
            f"WHERE t.{quote_identifier(key)} = {value})"
        ).fetchone()
    except sqlite3.OperationalError:  # the target table or column does not exist
        return 0
    return int(count)
