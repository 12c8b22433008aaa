"""Keyset pagination statements (SQLAlchemy Core): WHERE (k1, k2) > (?, ?) ORDER BY k1, k2.

Never OFFSET: each page is an index seek, so page cost stays flat with depth. The key values
bound for "after" are the raw values read from the previous page, so they carry the same
storage class and compare exactly as SQLite ordered them (a TEXT key that is not valid UTF-8
is bound back as TEXT through CAST, not as a BLOB, which would sort after every TEXT).
Columns are untyped (NullType), so SQLAlchemy hands values through unconverted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, Select

from datamigration_operator.api.names import fold_sql_name
from datamigration_operator.migration.mapping.values import InvalidText
from datamigration_operator.migration.source.reflection import quote_identifier


def selected_columns(key_columns: Sequence[str], columns: Sequence[str]) -> list[str]:
    """Key columns first, then the others, each once (case-insensitively, as SQLite names are)."""
    seen: set[str] = set()
    ordered = []
    for name in (*key_columns, *columns):
        if fold_sql_name(name) not in seen:
            seen.add(fold_sql_name(name))
            ordered.append(name)
    return ordered


def page_statement(
    table: str,
    key_columns: Sequence[str],
    columns: Sequence[str],
    after: Sequence[object] | None,
    limit: int,
) -> Select[tuple[object, ...]]:
    source = sa.table(table, *(sa.column(name) for name in columns))
    keys = [source.c[name] for name in key_columns]
    statement = sa.select(*(source.c[name] for name in columns)).order_by(*keys).limit(limit)
    if after is not None:
        if len(after) != len(keys):
            raise ValueError(f"resume key has {len(after)} parts, table {table} has {len(keys)}")
        bound = [_bind(value) for value in after]
        if len(keys) == 1:
            statement = statement.where(keys[0] > bound[0])
        else:
            statement = statement.where(sa.tuple_(*keys) > sa.tuple_(*bound))
    return statement


def _bind(value: object) -> ColumnElement[object]:
    if isinstance(value, InvalidText):
        return sa.cast(sa.literal(value.raw, sa.LargeBinary), sa.Text)
    if value is None:
        raise ValueError("a key part is NULL; NULL keys cannot be paged")
    return sa.literal(value, sa.types.NullType())


def keyset_condition(
    key_columns: Sequence[str], after: Sequence[object]
) -> tuple[str, tuple[object, ...]]:
    """page_statement's WHERE clause as SQL text and parameters, for the sqlite3 driver."""
    if len(after) != len(key_columns):
        raise ValueError(f"resume key has {len(after)} parts, the table has {len(key_columns)}")
    params: list[object] = []
    marks = []
    for value in after:
        if value is None:
            raise ValueError("a key part is NULL; NULL keys cannot be paged")
        if isinstance(value, InvalidText):
            marks.append("CAST(? AS TEXT)")  # as _bind: compare as the TEXT it is stored as
            params.append(value.raw)
        else:
            marks.append("?")
            params.append(value)
    names = [quote_identifier(name) for name in key_columns]
    if len(names) == 1:
        return f"{names[0]} > {marks[0]}", tuple(params)
    return f"({', '.join(names)}) > ({', '.join(marks)})", tuple(params)
