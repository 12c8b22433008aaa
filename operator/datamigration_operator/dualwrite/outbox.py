"""The transactional outbox: every captured change is a row in the app's own transaction
(written by the capture triggers, see capture).

Rows say which record changed, not what it became: the drainer re-reads the record when it
sends it, so the final state wins whatever order the changes were drained in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final, Literal

import sqlalchemy as sa

from datamigration_operator.migration.app_engine import OUTBOX_TABLE
from datamigration_operator.migration.mapping.values import Key, key_from_json, key_to_json

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


# the driver's own statements: the drainer runs them for every batch
_OLDEST: Final = (
    f'SELECT id, "table", key, op, created_at FROM "{OUTBOX_TABLE}" WHERE id > ? '
    "ORDER BY id LIMIT ?"
)
_DELETE_THROUGH: Final = f'DELETE FROM "{OUTBOX_TABLE}" WHERE id <= ?'
# min and max each one step down the id index (one query asking both would scan)
_SPAN: Final = (
    f'SELECT (SELECT min(id) FROM "{OUTBOX_TABLE}"), (SELECT max(id) FROM "{OUTBOX_TABLE}")'
)
# bounded by the id range, so it reads at most the span's rows whatever arrives meanwhile
_TABLE_KEYS: Final = (
    f'SELECT DISTINCT key FROM "{OUTBOX_TABLE}" WHERE id BETWEEN ? AND ? AND "table" = ?'
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


def read_entries(connection: sa.Connection, limit: int, *, after: int = 0) -> list[OutboxEntry]:
    """The oldest entries (with an id above `after`), in id (= commit) order."""
    rows = connection.exec_driver_sql(_OLDEST, (after, limit))
    return [
        OutboxEntry(id_, table, key_from_json(json.loads(key)), op, created_at)
        for id_, table, key, op, created_at in rows
    ]


def delete_through(connection: sa.Connection, last_id: int) -> None:
    """Deletes the entries up to `last_id`, a batch `read_entries` returned: they are the oldest
    entries, and every later entry has a higher id (AUTOINCREMENT never reuses one)."""
    connection.exec_driver_sql(_DELETE_THROUGH, (last_id,))


def pending_keys(connection: sa.Connection, table: str, limit: int) -> list[Key] | None:
    """Keys of `table` with an entry waiting, or None when the outbox spans more than `limit`
    ids (a backlog: too many to list on a read's path).

    Without an index on the table and key (one more B-tree on every captured write), the
    bound is what keeps this cheap: every entry's id lies between the lowest and the highest,
    so the scan reads at most `limit` rows; an empty outbox costs two index steps."""
    lowest, highest = connection.exec_driver_sql(_SPAN).one()
    if lowest is None:
        return []
    if highest - lowest >= limit:
        return None
    rows = connection.exec_driver_sql(_TABLE_KEYS, (lowest, highest, table))
    return [key_from_json(json.loads(key)) for (key,) in rows]


def depth_and_oldest(connection: sa.Connection) -> tuple[int, float | None]:
    """Entries waiting and the creation time of the oldest (None when empty).

    The oldest is the lowest id (ids follow commit order): one index step, not a scan of every
    entry's record as min(created_at) was, which an outbox grown during an outage made slow."""
    depth = int(connection.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one())
    oldest = connection.execute(
        sa.select(outbox.c.created_at).order_by(outbox.c.id).limit(1)
    ).scalar()
    return depth, None if oldest is None else float(oldest)
