"""Rows SQLite changes behind the ORM's back through foreign-key actions.

With `PRAGMA foreign_keys=ON`, deleting a parent deletes (ON DELETE CASCADE) or modifies
(SET NULL / SET DEFAULT) its children, and changing a referenced parent column rewrites the
children's foreign key (ON UPDATE CASCADE / SET NULL / SET DEFAULT). The ORM sees none of it, so
before the parent statement runs we enumerate those children, recursively (a cascaded delete
cascades further, and so does a cascaded change of a column another table references).

The graph covers every table, mapped or not: a cascade through an unmapped table can still
reach a mapped one. Values are SQLite's own (raw sqlite3 reads), as the outbox keys need.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa

from datamigration_operator.migration.plan import ROWID
from datamigration_operator.migration.reflection import quote_identifier

Row = dict[str, object]
"""A row by column name as SQLite reports it."""

CHANGING_ACTIONS: Final = frozenset({"CASCADE", "SET NULL", "SET DEFAULT"})
# SQLite's default limit of bound parameters is 32766; stay well below with composite keys.
MAX_PARAMETERS: Final = 900


@dataclass(frozen=True)
class ForeignKey:
    child: str
    child_columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]
    on_delete: str
    on_update: str


@dataclass(frozen=True)
class Affected:
    """A child row a parent statement deletes or rewrites; `new` is None when it is deleted."""

    table: str
    old: Row
    new: Row | None


def foreign_keys_of(
    child: str,
    pragma_rows: Iterable[Sequence[object]],
    primary_keys: Mapping[str, tuple[str, ...]],
) -> list[ForeignKey]:
    """`PRAGMA foreign_key_list(child)` rows (id, seq, table, from, to, on_update, on_delete,
    match) grouped into keys; a key without `to` columns references the parent's primary key."""
    grouped: dict[int, list[Sequence[object]]] = {}
    for row in pragma_rows:
        grouped.setdefault(int(str(row[0])), []).append(row)
    keys = []
    for rows in grouped.values():
        rows.sort(key=lambda r: int(str(r[1])))
        parent = str(rows[0][2])
        targets = [r[4] for r in rows]
        if any(t is None for t in targets):
            referenced = _primary_key(parent, primary_keys)
        else:
            referenced = tuple(str(t) for t in targets)
        keys.append(
            ForeignKey(
                child=child,
                child_columns=tuple(str(r[3]) for r in rows),
                parent=parent,
                parent_columns=referenced,
                on_update=str(rows[0][5]).upper(),
                on_delete=str(rows[0][6]).upper(),
            )
        )
    return keys


def _primary_key(parent: str, primary_keys: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    found = next((k for n, k in primary_keys.items() if n.casefold() == parent.casefold()), None)
    if not found:
        raise ValueError(f"foreign key to {parent}, which has no primary key to reference")
    return found


class CascadeGraph:
    """Foreign keys with a changing action, by referenced (parent) table."""

    def __init__(self, foreign_keys: Iterable[ForeignKey]) -> None:
        self._into: dict[str, list[ForeignKey]] = {}
        for key in foreign_keys:
            if key.on_delete in CHANGING_ACTIONS or key.on_update in CHANGING_ACTIONS:
                self._into.setdefault(key.parent.casefold(), []).append(key)

    @classmethod
    def reflect(cls, connection: sa.Connection) -> CascadeGraph:
        names = [
            str(row[0])
            for row in connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%'"
                " ESCAPE '\\'"
            )
        ]
        primary_keys = {}
        for name in names:
            info = connection.exec_driver_sql(
                f"SELECT name, pk FROM pragma_table_info({_literal(name)}) WHERE pk > 0 ORDER BY pk"
            )
            primary_keys[name] = tuple(str(row[0]) for row in info)
        keys: list[ForeignKey] = []
        for name in names:
            rows = connection.exec_driver_sql(
                f"SELECT * FROM pragma_foreign_key_list({_literal(name)})"
            ).all()
            keys += foreign_keys_of(name, rows, primary_keys)
        return cls(keys)

    def into(self, table: str) -> list[ForeignKey]:
        return self._into.get(table.casefold(), [])

    def referenced_columns(self, table: str) -> set[str]:
        """Columns of `table` that a changing foreign key points at (folded)."""
        return {c.casefold() for key in self.into(table) for c in key.parent_columns}

    def __bool__(self) -> bool:
        return bool(self._into)


def enforced(connection: sa.Connection) -> bool:
    """SQLite runs foreign-key actions only on connections with `PRAGMA foreign_keys=ON`."""
    return bool(connection.exec_driver_sql("PRAGMA foreign_keys").scalar())


def cascaded(
    connection: sa.Connection,
    graph: CascadeGraph,
    table: str,
    changes: Sequence[tuple[Row, Row | None]],
    *,
    rowid_tables: frozenset[str] = frozenset(),
) -> list[Affected]:
    """Rows the foreign-key actions will delete or rewrite when `changes` are applied to `table`.

    `changes` are (old row, new row or None for a delete); the rows must hold the columns of
    `table` that foreign keys reference. Must run before the statement, inside its transaction,
    holding the write lock, so nothing else changes the children in between. Tables in
    `rowid_tables` (folded) are read with their rowid too (the key of tables without one).
    """
    affected: list[Affected] = []
    seen: set[tuple[str, tuple[tuple[str, object], ...]]] = set()
    pending = [(table, list(changes))]
    while pending:
        parent, parent_changes = pending.pop()
        for key in graph.into(parent):
            for child_change in _children(connection, key, parent_changes, rowid_tables):
                identity = (key.child.casefold(), tuple(sorted(child_change[0].items())))
                if identity in seen:
                    continue  # a cycle, or two paths to the same row
                seen.add(identity)
                affected.append(Affected(key.child, child_change[0], child_change[1]))
                pending.append((key.child, [child_change]))
    return affected


def _children(
    connection: sa.Connection,
    key: ForeignKey,
    changes: Sequence[tuple[Row, Row | None]],
    rowid_tables: frozenset[str],
) -> list[tuple[Row, Row | None]]:
    """The children of one foreign key that change, as (old, new or None) rows."""
    # old parent values -> ("delete", None) or ("update", the children's new values or None)
    by_old: dict[tuple[object, ...], tuple[str, tuple[object, ...] | None]] = {}
    for old, new in changes:
        before = _values(old, key.parent_columns)
        if new is None:
            if key.on_delete == "CASCADE":
                by_old[before] = ("delete", None)
            elif key.on_delete in CHANGING_ACTIONS:
                by_old[before] = ("update", _set(key, key.on_delete))
            continue
        after = _values(new, key.parent_columns)
        if after != before and key.on_update in CHANGING_ACTIONS:
            by_old[before] = (
                "update",
                after if key.on_update == "CASCADE" else _set(key, key.on_update),
            )
    # NULL in a foreign key references nothing
    by_old = {k: v for k, v in by_old.items() if None not in k}
    if not by_old:
        return []
    result: list[tuple[Row, Row | None]] = []
    for row in _rows_matching(connection, key, list(by_old), rowid_tables):
        # SQL compared with affinity; a value stored in another class ('5' for 5) misses here
        # and counts as changed in place, which is what matters for the outbox
        action, target = by_old.get(_values(row, key.child_columns), ("update", None))
        if action == "delete":
            result.append((row, None))
            continue
        new_row = dict(row)
        if target is not None:
            for column, value in zip(key.child_columns, target, strict=True):
                new_row[_column_name(row, column)] = value
        result.append((row, new_row))
    return result


def _set(key: ForeignKey, action: str) -> tuple[object, ...] | None:
    """The children's new foreign-key values; None for SET DEFAULT, whose default is not read:
    the child row changes, its key and references are taken as unchanged (a key column with
    ON ... SET DEFAULT is not supported)."""
    return tuple(None for _ in key.child_columns) if action == "SET NULL" else None


def _values(row: Row, columns: Sequence[str]) -> tuple[object, ...]:
    return tuple(row[_column_name(row, c)] for c in columns)


def _column_name(row: Row, column: str) -> str:
    if column in row:
        return column
    folded = column.casefold()
    found = next((name for name in row if name.casefold() == folded), None)
    if found is None:
        raise KeyError(f"column {column} was not read")
    return found


def _rows_matching(
    connection: sa.Connection,
    key: ForeignKey,
    values: Sequence[tuple[object, ...]],
    rowid_tables: frozenset[str],
) -> list[Row]:
    width = len(key.child_columns)
    columns = ", ".join(quote_identifier(c) for c in key.child_columns)
    target = f"({columns})" if width > 1 else columns
    select = f'rowid AS "{ROWID}", *' if key.child.casefold() in rowid_tables else "*"
    one = "(" + ", ".join(["?"] * width) + ")" if width > 1 else "?"
    step = max(1, MAX_PARAMETERS // width)
    rows: list[Row] = []
    for start in range(0, len(values), step):
        chunk = values[start : start + step]
        listed = ", ".join([one] * len(chunk))
        where = f"{target} IN (VALUES {listed})" if width > 1 else f"{target} IN ({listed})"
        params = tuple(part for value in chunk for part in value)
        result = connection.exec_driver_sql(
            f"SELECT {select} FROM {quote_identifier(key.child)} WHERE {where}", params
        )
        names = list(result.keys())
        rows += [dict(zip(names, row, strict=True)) for row in result]
    return rows


def _literal(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"
