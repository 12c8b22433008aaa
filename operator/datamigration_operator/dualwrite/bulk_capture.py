"""The rows a bulk UPDATE or DELETE run through a Session will touch, read before it runs.

`session.execute(update(Model).where(...))`, `delete(...)` and Core `sa.update(table)` through a
Session bypass the unit of work, so `after_flush` never sees them. The `do_orm_execute` hook
(capture.py) reads the statement's WHERE as a SELECT of the columns it needs, in the statement's
transaction and under SQLite's write lock, so no other connection can change the matching rows
between that SELECT and the statement. The SELECT also evaluates the SET expressions of those
columns against each old row, as SQLite's UPDATE does, so an update that changes a key yields
both the old and the new key. UPDATE ... RETURNING (SQLite >= 3.35) would give the new keys too,
but it changes the result the app gets back (rows instead of a row count) and cannot give the
old keys or the children a cascade is about to delete; one SELECT before the statement serves
every SQLite version.

Forms understood: `.where()` criteria (with other tables in them too), `.values()` /
`.ordered_values()` and parameter dicts naming columns (ORM attribute names for ORM statements),
executemany parameter lists (the SELECT runs once per parameter set), and ORM bulk UPDATE by
primary key (`session.execute(update(Model), [{"id": 1, ...}, ...])`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapper, ORMExecuteState
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter, ColumnElement, Grouping
from sqlalchemy.sql.sqltypes import NullType

from datamigration_operator.dualwrite.cascades import Row
from datamigration_operator.migration.plan import ROWID
from datamigration_operator.migration.reflection import quote_identifier

# Keys per `IN` list: well below SQLite's limit of bound parameters.
CHUNK = 500


class BulkCaptureError(ValueError):
    """A bulk statement whose affected rows cannot be determined; it is not run."""


@dataclass(frozen=True)
class BulkStatement:
    table: sa.Table
    is_delete: bool
    where: ColumnElement[Any] | None
    sets: dict[str, Any] = field(default_factory=dict)
    """Folded column name -> the value the UPDATE assigns (expression or Python value)."""
    parameter_sets: tuple[Mapping[str, Any], ...] = ({},)
    by_primary_key: tuple[tuple[Any, ...], ...] | None = None
    """ORM bulk UPDATE by primary key: the keys in mapper.primary_key order."""
    mapper: Mapper[Any] | None = None


def bulk_statement(state: ORMExecuteState) -> BulkStatement | None:
    """The bulk UPDATE/DELETE `state` runs, or None when it is neither or not on one table."""
    if not (state.is_update or state.is_delete):
        return None
    statement: Any = state.statement
    table = getattr(statement, "table", None)
    if not isinstance(table, sa.Table):
        return None  # an alias or a join: not a mapped table by name
    mapper = state.bind_mapper if state.is_orm_statement else None
    parameters = state.parameters
    listed: list[Mapping[str, Any]] | None = None
    single: Mapping[str, Any] = {}
    if isinstance(parameters, Mapping):
        single = parameters
    elif parameters is not None:
        listed = list(parameters)
    where = statement.whereclause
    if state.is_delete:
        return BulkStatement(table, True, where, {}, tuple(listed or [single]))
    bind_names = {e.key for e in visitors.iterate(statement) if isinstance(e, BindParameter)}
    sets: dict[str, Any] = {}
    assigned: list[tuple[Any, Any]] = list(dict(getattr(statement, "_values", None) or {}).items())
    assigned += list(getattr(statement, "_ordered_values", None) or [])
    for target, value in assigned:
        sets[_column_of(table, mapper, target).name.casefold()] = value
    if listed is not None and where is None and mapper is not None:
        return BulkStatement(table, False, None, sets, ({},), _primary_keys(mapper, listed), mapper)
    parameter_sets = tuple(listed or [single])
    # parameters naming columns (not bound names) are SET values too
    from_parameters = [_parameter_values(table, mapper, p, bind_names) for p in parameter_sets]
    if any(values != from_parameters[0] for values in from_parameters):
        raise BulkCaptureError(
            f"bulk UPDATE of {table.name}: executemany with column values that differ per "
            "parameter set is not supported by dual-write capture; use .values() with "
            "bindparam() or ORM bulk UPDATE by primary key"
        )
    sets.update(from_parameters[0])
    return BulkStatement(table, False, where, sets, parameter_sets, None, mapper)


def _parameter_values(
    table: sa.Table, mapper: Mapper[Any] | None, parameters: Mapping[str, Any], bind_names: set[str]
) -> dict[str, Any]:
    found = {}
    for name, value in parameters.items():
        if name in bind_names:
            continue
        found[_column_of(table, mapper, name).name.casefold()] = value
    return found


def _column_of(table: sa.Table, mapper: Mapper[Any] | None, target: Any) -> sa.Column[Any]:
    if isinstance(target, str):
        if mapper is not None and target in mapper.attrs:
            columns = getattr(mapper.attrs[target], "columns", ())
            if columns:
                return _table_column(table, columns[0].name)
        return _table_column(table, target)
    element = target.__clause_element__() if hasattr(target, "__clause_element__") else target
    name = getattr(element, "name", None)
    if not isinstance(name, str):
        raise BulkCaptureError(
            f"bulk UPDATE of {table.name}: cannot tell which column {target!r} sets"
        )
    return _table_column(table, name)


def _table_column(table: sa.Table, name: str) -> sa.Column[Any]:
    folded = name.casefold()
    for column in table.columns:
        if column.name.casefold() == folded or column.key.casefold() == folded:
            return column
    raise BulkCaptureError(f"bulk UPDATE of {table.name}: no column {name}")


def _primary_keys(
    mapper: Mapper[Any], listed: Sequence[Mapping[str, Any]]
) -> tuple[tuple[Any, ...], ...]:
    names = [mapper.get_property_by_column(c).key for c in mapper.primary_key]
    try:
        return tuple(tuple(parameters[n] for n in names) for parameters in listed)
    except KeyError as missing:
        raise BulkCaptureError(
            f"ORM bulk UPDATE of {mapper.local_table}: a parameter set lacks primary key {missing}"
        ) from None


def _selectable(table: sa.Table, name: str) -> ColumnElement[Any]:
    if name == ROWID and not any(c.name.casefold() == ROWID for c in table.columns):
        return sa.literal_column(f"{quote_identifier(table.name)}.rowid")
    return _table_column(table, name)


def _raw(expression: ColumnElement[Any]) -> ColumnElement[Any]:
    """SQLite's own value: no result processing by the column's type."""
    return sa.type_coerce(Grouping(expression), NullType())


def _new_value(table: sa.Table, name: str, value: Any) -> ColumnElement[Any]:
    column_type = _table_column(table, name).type
    if isinstance(value, BindParameter) and isinstance(value.type, NullType):
        return _raw(sa.type_coerce(value, column_type))  # bind as the UPDATE would
    if isinstance(value, sa.ClauseElement):
        return _raw(value)  # type: ignore[arg-type]
    return _raw(sa.literal(value, column_type))


def affected_rows(
    connection: sa.Connection, bulk: BulkStatement, columns: Sequence[str]
) -> list[tuple[Row, Row | None]]:
    """(old row, new row or None when deleted) of each matching row, with `columns` (real
    names) read; the new row has the SET values of those columns applied."""
    old = [_raw(_selectable(bulk.table, c)).label(f"old_{i}") for i, c in enumerate(columns)]
    changed = [c for c in columns if c.casefold() in bulk.sets]
    new = [
        _new_value(bulk.table, c, bulk.sets[c.casefold()]).label(f"new_{i}")
        for i, c in enumerate(changed)
    ]
    query = sa.select(*old, *new).select_from(bulk.table)
    found: list[tuple[Row, Row | None]] = []
    for result in _results(connection, bulk, query):
        for values in result:
            before = dict(zip(columns, values[: len(columns)], strict=True))
            if bulk.is_delete:
                found.append((before, None))
                continue
            after = dict(before)
            after.update(zip(changed, values[len(columns) :], strict=True))
            found.append((before, after))
    return found


def _results(
    connection: sa.Connection, bulk: BulkStatement, query: sa.Select[Any]
) -> list[sa.Result[Any]]:
    if bulk.by_primary_key is not None:
        assert bulk.mapper is not None
        key = [_table_column(bulk.table, c.name) for c in bulk.mapper.primary_key]
        target: ColumnElement[Any] = key[0] if len(key) == 1 else sa.tuple_(*key)
        keys = [k[0] if len(key) == 1 else k for k in bulk.by_primary_key]
        return [
            connection.execute(query.where(target.in_(keys[start : start + CHUNK])))
            for start in range(0, len(keys), CHUNK)
        ]
    if bulk.where is not None:
        query = query.where(bulk.where)
    return [connection.execute(query, dict(p)) for p in bulk.parameter_sets]
