"""Session hooks that record inserts, updates and deletes of mapped tables in the outbox.

`after_flush` sees the flushed objects (new ones with their generated keys) and runs inside
the flush's transaction, so the outbox rows commit or roll back with the app's own changes.
Bulk statements (`session.execute(update(...))`) bypass the unit of work and are not captured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from datamigration_operator.dualwrite.outbox import Op, insert_entries
from datamigration_operator.migration.checkpoint import Key
from datamigration_operator.migration.mapping import CollectionPlan

_CAPTURED = "datamigration_outbox_captured"


class OutboxCapture:
    """Listens on a Session class or sessionmaker; `capturing()` decides per flush."""

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
        self._capturing = capturing
        self.targets: list[Any] = []

    def attach(self, target: sessionmaker[Any] | type[Session]) -> None:
        event.listen(target, "after_flush", self._after_flush)
        event.listen(target, "after_commit", self._after_commit)
        event.listen(target, "after_rollback", self._after_rollback)
        self.targets.append(target)

    def detach(self) -> None:
        for target in self.targets:
            event.remove(target, "after_flush", self._after_flush)
            event.remove(target, "after_commit", self._after_commit)
            event.remove(target, "after_rollback", self._after_rollback)
        self.targets.clear()

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_CAPTURED, None)  # the entries rolled back with the changes

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_CAPTURED, False) and self._on_commit is not None:
            self._on_commit()

    def _after_flush(self, session: Session, _context: Any) -> None:
        if not self._capturing():
            return
        if self._engine is not None and session.connection().engine is not self._engine:
            return
        changes: list[tuple[str, Key, Op]] = []
        groups: tuple[tuple[Any, Op], ...] = (
            (session.new, "upsert"),
            (session.dirty, "upsert"),
            (session.deleted, "delete"),
        )
        for objects, op in groups:
            for obj in objects:
                found = self._key(obj)
                if found is not None:
                    changes.append((found[0], found[1], op))
        if changes:
            insert_entries(session.connection(), changes)
            session.info[_CAPTURED] = True

    def _key(self, obj: object) -> tuple[str, Key] | None:
        mapper = sa.inspect(obj).mapper
        table = mapper.local_table
        name = getattr(table, "name", None)
        plan = self._plans.get(name.casefold()) if isinstance(name, str) else None
        if plan is None:
            return None
        values = mapper.primary_key_from_instance(obj)
        by_column = {
            column.name.casefold(): value
            for column, value in zip(mapper.primary_key, values, strict=True)
        }
        try:
            return plan.table, tuple(by_column[c.casefold()] for c in plan.key_columns)
        except KeyError:
            raise ValueError(
                f"table {plan.table}: the migration key {list(plan.key_columns)} is not the "
                f"mapped primary key {sorted(by_column)}; dual-write cannot identify its rows"
            ) from None
