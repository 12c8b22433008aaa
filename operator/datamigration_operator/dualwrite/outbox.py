"""The transactional outbox: every captured change is a row in the app's own transaction.

Rows say which record changed, not what it became: the drainer re-reads the record when it
sends it, so the final state wins whatever order the changes were drained in.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import sqlalchemy as sa

from datamigration_operator.migration.checkpoint import Key
from datamigration_operator.migration.values import key_from_json, key_to_json

OUTBOX_TABLE: Final = "datamigration_outbox"
Op = Literal["upsert", "delete"]

metadata = sa.MetaData()
outbox = sa.Table(
    OUTBOX_TABLE,
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table", sa.Text, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("op", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sqlite_autoincrement=True,  # ids never reused: a drained id is never a new entry
)


_INSERT: Final = (
    f'INSERT INTO "{OUTBOX_TABLE}" ("table", "key", "op", "created_at") VALUES (?, ?, ?, ?)'
)


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    table: str
    key: Key
    op: Op
    created_at: float


def create_outbox(engine: sa.Engine) -> None:
    metadata.create_all(engine, checkfirst=True)


def encode_key(key: Key) -> str:
    return json.dumps(key_to_json(key), separators=(",", ":"))


def insert_entries(
    connection: sa.Connection, changes: Sequence[tuple[str, Key, Op]], now: float | None = None
) -> None:
    if not changes:
        return
    created = time.time() if now is None else now
    # the driver's executemany: this runs inside every captured app transaction, and skipping
    # the Core statement machinery is a third of capture's cost
    connection.exec_driver_sql(
        _INSERT, [(table, encode_key(key), op, created) for table, key, op in changes]
    )


def read_entries(connection: sa.Connection, limit: int) -> list[OutboxEntry]:
    """The oldest entries, in id (= commit) order."""
    query = sa.select(outbox).order_by(outbox.c.id).limit(limit)
    return [
        OutboxEntry(row.id, row.table, key_from_json(json.loads(row.key)), row.op, row.created_at)
        for row in connection.execute(query)
    ]


def delete_entries(connection: sa.Connection, ids: Sequence[int]) -> None:
    for start in range(0, len(ids), 500):
        connection.execute(outbox.delete().where(outbox.c.id.in_(ids[start : start + 500])))


def depth_and_oldest(connection: sa.Connection) -> tuple[int, float | None]:
    """Entries waiting and the creation time of the oldest (None when empty).

    The oldest is the lowest id (ids follow commit order): one index step, not a scan of every
    entry's record as min(created_at) was, which an outbox grown during an outage made slow."""
    depth = int(connection.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one())
    oldest = connection.execute(
        sa.select(outbox.c.created_at).order_by(outbox.c.id).limit(1)
    ).scalar()
    return depth, None if oldest is None else float(oldest)
