"""Read-your-writes: which of a table's rows still have a write waiting in the outbox.

In `weaviate_primary` (and for a gradual switch's read share) a write lands in SQLite at once
and in Weaviate when the drainer has sent it, so Weaviate may answer a read with the row as it
was before a write the app already acknowledged. An outbox entry is deleted only after Weaviate
took the row's state, so a write whose entry is gone is in Weaviate; one whose entry waits may
not be. The router asks here before (and, for list reads, after) reading Weaviate, and answers
from SQLite when the read could observe a waiting write.

The outbox is the app's shared SQLite table: the entries of every replica of the app are in it,
so a read on one pod sees another pod's waiting writes too. The check is one short query on the
app's engine (outbox.pending_keys): two index steps when the outbox is empty, a scan of at most
`limit` entries otherwise; an outbox spanning more is a backlog (Weaviate is that far behind),
and every read counts as pending until it drains below the limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final
from uuid import UUID

import sqlalchemy as sa

from datamigration_operator.dualwrite.outbox import pending_keys
from datamigration_operator.migration.mapping import ROWID, CollectionPlan, object_uuid
from datamigration_operator.migration.mapping.values import InvalidText, Key

DEFAULT_LIMIT: Final = 1_000
# SQLite's default limit of bound parameters is 32766; stay well below with composite keys.
_MAX_PARAMETERS: Final = 900


@dataclass(frozen=True)
class Pending:
    """One table's keys with a write waiting, as one read saw them."""

    keys: tuple[Key, ...] = ()
    uuids: frozenset[UUID] = frozenset()
    backlog: bool = False
    """Too many entries to list: any read of any table may observe a waiting write."""

    @property
    def anything(self) -> bool:
        return self.backlog or bool(self.keys)

    def holds(self, uuid: UUID) -> bool:
        return self.backlog or uuid in self.uuids

    def holds_any(self, uuids: Iterable[UUID]) -> bool:
        return self.backlog or not self.uuids.isdisjoint(uuids)


NOTHING: Final = Pending()
BACKLOG: Final = Pending(backlog=True)


def pending_of(
    plan: CollectionPlan, keys: Sequence[Key] | None, migration_namespace: str
) -> Pending:
    """The keys the outbox listed (None: a backlog) with the object ids they map to."""
    if keys is None:
        return BACKLOG
    if not keys:
        return NOTHING
    uuids = frozenset(object_uuid(migration_namespace, plan.table, key) for key in keys)
    return Pending(tuple(keys), uuids)


def _quoted(name: str) -> str:
    return "rowid" if name == ROWID else '"' + name.replace('"', '""') + '"'


def matching_rows_sql(plan: CollectionPlan, column: str, keys: int) -> str:
    """A query for whether any of `keys` keys' current row has `column` = ?: the waiting
    writes a by-reference read would list."""
    width = len(plan.key_columns)
    target = ", ".join(_quoted(c) for c in plan.key_columns)
    one = "(" + ", ".join(["?"] * width) + ")" if width > 1 else "?"
    values = ", ".join([one] * keys)
    within = f"({target}) IN (VALUES {values})" if width > 1 else f"{target} IN ({values})"
    return (
        f"SELECT 1 FROM main.{_quoted(plan.table)} WHERE {_quoted(column)} = ? AND {within} LIMIT 1"
    )


class PendingWrites:
    """Asks the app's outbox, on the app's engine, which keys have a write waiting."""

    def __init__(
        self, engine: sa.Engine, migration_namespace: str, *, limit: int = DEFAULT_LIMIT
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.engine = engine
        self.migration_namespace = migration_namespace
        self.limit = limit

    def of(self, plan: CollectionPlan) -> Pending:
        with self.engine.connect() as connection:
            keys = pending_keys(connection, plan.table, self.limit)
        return pending_of(plan, keys, self.migration_namespace)

    def listed_by(self, plan: CollectionPlan, column: str, value: object, pending: Pending) -> bool:
        """Whether a waiting write's row now has `column` = `value` (a new or changed row the
        read lists). A row that left the list, or was deleted, is still in Weaviate's answer
        under that value: the router checks the ids Weaviate returned for those."""
        if pending.backlog:
            return True
        # a key that is not UTF-8 text never maps to an object; Weaviate never lists it
        keys = [k for k in pending.keys if not any(isinstance(p, InvalidText) for p in k)]
        step = max(1, _MAX_PARAMETERS // len(plan.key_columns))
        with self.engine.connect() as connection:
            for start in range(0, len(keys), step):
                chunk = keys[start : start + step]
                statement = matching_rows_sql(plan, column, len(chunk))
                parameters = (value, *(part for key in chunk for part in key))
                if connection.exec_driver_sql(statement, parameters).first() is not None:
                    return True
        return False


__all__ = ["BACKLOG", "DEFAULT_LIMIT", "NOTHING", "Pending", "PendingWrites", "pending_of"]
