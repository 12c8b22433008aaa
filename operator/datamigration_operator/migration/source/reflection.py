"""Table structure from SQLite's own pragmas (table_list, table_xinfo), with no type mapping."""

from __future__ import annotations

import sqlite3

from datamigration_operator.migration.mapping.model import ROWID, ColumnInfo, TableInfo

# table_xinfo "hidden": 0 normal, 1 hidden column of a virtual table, 2/3 generated columns
# (readable with SELECT, so they are migrated like any column).
_VIRTUAL_TABLE_HIDDEN = 1


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def reflect_tables(connection: sqlite3.Connection) -> dict[str, TableInfo]:
    """Every ordinary table of the main schema (not sqlite_* internals, views or virtual tables)."""
    listed = connection.execute(
        "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    ).fetchall()
    return {name: reflect_table(connection, name, bool(wr)) for name, wr in listed}


def reflect_table(connection: sqlite3.Connection, name: str, without_rowid: bool) -> TableInfo:
    rows = connection.execute(
        'SELECT name, type, "notnull", pk, hidden FROM pragma_table_xinfo(?)', (name,)
    ).fetchall()
    columns = tuple(
        ColumnInfo(
            name=column,
            declared_type=declared or "",
            not_null=bool(not_null),
            pk_position=int(pk),
        )
        for column, declared, not_null, pk, hidden in rows
        if hidden != _VIRTUAL_TABLE_HIDDEN
    )
    primary = tuple(c.name for c in sorted(columns, key=lambda c: c.pk_position) if c.pk_position)
    return TableInfo(
        name=name, columns=columns, key_columns=primary or (ROWID,), without_rowid=without_rowid
    )
