"""Session hooks that record inserts, updates and deletes of mapped tables in the outbox.

Every entry is written in the app's own transaction, so it commits or rolls back with the change.

- Unit of work (`session.add`, attribute changes, `session.delete`, ORM relationship cascades,
  which put the children in `session.deleted`): `after_flush` sees the flushed objects (new ones
  with their generated keys); an object whose primary key changed yields its old key too.
- Bulk statements through a Session (`session.execute(update(Model).where(...))`, `delete(...)`,
  Core `sa.update(table)` / `sa.delete(table)`): `do_orm_execute` reads the keys the statement
  will touch (old and new keys of a key-changing update) before running it; see bulk_capture.
- Foreign-key actions SQLite runs itself (`ON DELETE CASCADE`, `ON UPDATE CASCADE`, SET NULL,
  SET DEFAULT, with `PRAGMA foreign_keys=ON`): the children are enumerated, recursively, before
  the parent's DELETE/UPDATE, for ORM deletes (`before_flush`) and bulk statements alike; see
  cascades. The foreign keys are reflected once per capture (restart the app after adding one).

NOT captured: SQL that does not go through a Session — `connection.execute(text(...))`,
`engine.connect()` + Core statements, `session.connection().execute(...)`, `exec_driver_sql`,
other processes or the sqlite3 shell. Those writes reach Weaviate only through the next sync
Job (phase dual-write, or `spec.rerun`); validate reports them as differences until then.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from datamigration_operator.dualwrite.bulk_capture import (
    BulkStatement,
    affected_rows,
    bulk_statement,
)
from datamigration_operator.dualwrite.cascades import CascadeGraph, Row, cascaded, enforced
from datamigration_operator.dualwrite.outbox import Op, insert_entries, lock_for_writing
from datamigration_operator.migration.checkpoint import Key
from datamigration_operator.migration.mapping import ROWID, CollectionPlan

_CAPTURED: Final = "datamigration_outbox_captured"
_PENDING: Final = "datamigration_outbox_pending"
"""Entries of cascaded children found in before_flush, written by after_flush."""

Change = tuple[str, Key, Op]
RowChange = tuple[Row, Row | None]


class OutboxCapture:
    """Listens on a Session class or sessionmaker; `capturing()` decides per flush/statement."""

    def __init__(
        self,
        plans: Mapping[str, CollectionPlan],
        capturing: Callable[[], bool],
        *,
        engine: sa.Engine | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        # with a bare engine the hooks sit on every Session: only that engine's are captured
        self._engine = engine
        self._on_commit = on_commit
        # table names compare case-insensitively, as in SQLite
        self._plans = {name.casefold(): plan for name, plan in plans.items()}
        self._rowid_tables = frozenset(
            name for name, plan in self._plans.items() if plan.key_columns == (ROWID,)
        )
        self._capturing = capturing
        self._graph: CascadeGraph | None = None
        self._graph_lock = threading.Lock()
        self.targets: list[Any] = []

    _EVENTS: Final = ("before_flush", "after_flush", "after_commit", "after_rollback")

    def attach(self, target: sessionmaker[Any] | type[Session]) -> None:
        for name in self._EVENTS:
            event.listen(target, name, getattr(self, f"_{name}"))
        event.listen(target, "do_orm_execute", self._do_orm_execute)
        self.targets.append(target)

    def detach(self) -> None:
        for target in self.targets:
            for name in self._EVENTS:
                event.remove(target, name, getattr(self, f"_{name}"))
            event.remove(target, "do_orm_execute", self._do_orm_execute)
        self.targets.clear()

    def _ours(self, session: Session) -> bool:
        return self._engine is None or session.connection().engine is self._engine

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_CAPTURED, None)  # the entries rolled back with the changes
        session.info.pop(_PENDING, None)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_CAPTURED, False) and self._on_commit is not None:
            self._on_commit()

    # --- the unit of work -----------------------------------------------------------------

    def _before_flush(self, session: Session, _context: Any, _instances: Any) -> None:
        """Children that foreign-key actions will delete or rewrite when this flush runs."""
        if not self._capturing() or not self._ours(session):
            return
        connection = session.connection()
        graph = self._cascade_graph(connection)
        deleted = [o for o in session.deleted if graph.referenced_columns(_table_name(o))]
        key_changes = [o for o in session.dirty if _referenced_changes(o, graph)]
        if not (deleted or key_changes) or not enforced(connection):
            return
        lock_for_writing(connection)
        changes: list[Change] = []
        for table, rows in self._orm_row_changes(connection, deleted, key_changes).items():
            affected = cascaded(connection, graph, table, rows, rowid_tables=self._rowid_tables)
            for child in affected:
                changes += self._row_changes(child.table, [(child.old, child.new)])
        if changes:
            session.info.setdefault(_PENDING, []).extend(changes)

    def _after_flush(self, session: Session, _context: Any) -> None:
        changes: list[Change] = session.info.pop(_PENDING, [])
        if self._capturing() and self._ours(session):
            groups: tuple[tuple[Any, Op], ...] = (
                (session.new, "upsert"),
                (session.dirty, "upsert"),
                (session.deleted, "delete"),
            )
            for objects, op in groups:
                for obj in objects:
                    changes += self._object_changes(obj, op)
        if changes:
            insert_entries(session.connection(), list(dict.fromkeys(changes)))
            session.info[_CAPTURED] = True

    def _object_changes(self, obj: object, op: Op) -> list[Change]:
        state = sa.inspect(obj)
        mapper = state.mapper
        plan = self._plan_of(mapper.local_table)
        if plan is None:
            return []
        values = mapper.primary_key_from_instance(obj)
        key = _plan_key(plan, {c.name: v for c, v in zip(mapper.primary_key, values, strict=True)})
        changes: list[Change] = [(plan.table, key, op)]
        old = _old_primary_key(state, mapper)
        if old is not None and op == "upsert":
            before = _plan_key(
                plan, {c.name: v for c, v in zip(mapper.primary_key, old, strict=True)}
            )
            if before != key:
                changes.insert(0, (plan.table, before, "delete"))
        return changes

    def _orm_row_changes(
        self, connection: sa.Connection, deleted: Sequence[object], dirty: Sequence[object]
    ) -> dict[str, list[RowChange]]:
        """Referenced columns of flushed parents as (old row, new row or None) per table."""
        graph = self._cascade_graph(connection)
        found: dict[str, list[RowChange]] = {}
        for obj, is_delete in [(o, True) for o in deleted] + [(o, False) for o in dirty]:
            state = sa.inspect(obj)
            mapper = state.mapper
            table = mapper.local_table
            assert isinstance(table, sa.Table)
            referenced = graph.referenced_columns(table.name)
            if not referenced or state.identity is None:
                continue
            columns = [c.name for c in table.columns if c.name.casefold() in referenced]
            new_values = {} if is_delete else _referenced_changes(obj, graph)
            where = _identity_clause(table, mapper, state.identity)
            rows = affected_rows(connection, BulkStatement(table, True, where), columns)
            for old, _ in rows:
                found.setdefault(table.name, []).append(
                    (old, None) if is_delete else (old, {**old, **new_values})
                )
        return found

    # --- bulk statements ------------------------------------------------------------------

    def _do_orm_execute(self, state: ORMExecuteState) -> Any:
        if not (state.is_update or state.is_delete) or not self._capturing():
            return None
        session = state.session
        if not self._ours(session):
            return None
        bulk = bulk_statement(state)
        if bulk is None:
            return None
        connection = session.connection()
        plan = self._plan_of(bulk.table)
        graph = self._cascade_graph(connection)
        cascading = bool(graph.into(bulk.table.name)) and enforced(connection)
        if plan is None and not cascading:
            return None  # a table no mapping names, and nothing it cascades to
        columns = list(plan.key_columns) if plan is not None else []
        if cascading:
            known = {c.casefold() for c in columns}
            columns += [
                c.name
                for c in bulk.table.columns
                if c.name.casefold() in graph.referenced_columns(bulk.table.name)
                and c.name.casefold() not in known
            ]
        lock_for_writing(connection)
        rows = affected_rows(connection, bulk, columns)
        affected = (
            cascaded(connection, graph, bulk.table.name, rows, rowid_tables=self._rowid_tables)
            if cascading
            else []
        )
        result = state.invoke_statement()  # entries only once the statement succeeded
        changes = self._row_changes(bulk.table.name, rows)
        for child in affected:
            changes += self._row_changes(child.table, [(child.old, child.new)])
        if changes:
            insert_entries(connection, list(dict.fromkeys(changes)))
            session.info[_CAPTURED] = True
        return result

    # --- shared ---------------------------------------------------------------------------

    def _cascade_graph(self, connection: sa.Connection) -> CascadeGraph:
        with self._graph_lock:
            if self._graph is None:
                self._graph = CascadeGraph.reflect(connection)
            return self._graph

    def _plan_of(self, table: object) -> CollectionPlan | None:
        name = getattr(table, "name", None)
        return self._plans.get(name.casefold()) if isinstance(name, str) else None

    def _row_changes(self, table: str, rows: Iterable[RowChange]) -> list[Change]:
        plan = self._plans.get(table.casefold())
        if plan is None:
            return []
        changes: list[Change] = []
        for old, new in rows:
            before = _plan_key(plan, old)
            if new is None:
                changes.append((plan.table, before, "delete"))
                continue
            after = _plan_key(plan, new)
            if after == before:
                changes.append((plan.table, before, "upsert"))
            else:
                changes += [(plan.table, before, "delete"), (plan.table, after, "upsert")]
        return changes


def _plan_key(plan: CollectionPlan, row: Mapping[str, object]) -> Key:
    by_column = {name.casefold(): value for name, value in row.items()}
    try:
        return tuple(by_column[c.casefold()] for c in plan.key_columns)
    except KeyError:
        raise ValueError(
            f"table {plan.table}: the migration key {list(plan.key_columns)} is not the "
            f"mapped primary key {sorted(by_column)}; dual-write cannot identify its rows"
        ) from None


def _old_primary_key(state: Any, mapper: Any) -> tuple[Any, ...] | None:
    """The primary key before this flush when one of its attributes changed, else None."""
    histories = [
        state.attrs[mapper.get_property_by_column(column).key].history
        for column in mapper.primary_key
    ]
    if not any(h.deleted for h in histories):
        return None
    return tuple(h.deleted[0] if h.deleted else (h.unchanged or h.added)[0] for h in histories)


def _table_name(obj: object) -> str:
    name = getattr(sa.inspect(obj).mapper.local_table, "name", None)
    return name if isinstance(name, str) else ""


def _referenced_changes(obj: object, graph: CascadeGraph) -> dict[str, object]:
    """New values of the columns a changing foreign key references, where this flush changes
    them (the ON UPDATE actions of those keys rewrite the children)."""
    state = sa.inspect(obj)
    mapper = state.mapper
    referenced = graph.referenced_columns(_table_name(obj))
    changed: dict[str, object] = {}
    for column in mapper.local_table.columns if referenced else ():
        if column.name.casefold() not in referenced:
            continue
        history = state.attrs[mapper.get_property_by_column(column).key].history
        if history.deleted and history.added:
            changed[column.name] = history.added[0]
    return changed


def _identity_clause(table: sa.Table, mapper: Any, identity: tuple[Any, ...]) -> Any:
    columns = [table.c[c.key] for c in mapper.primary_key]
    return sa.and_(*(column == value for column, value in zip(columns, identity, strict=True)))
