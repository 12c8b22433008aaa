from __future__ import annotations

import sqlalchemy as sa

from datamigration_operator.dualwrite.outbox import (
    create_outbox,
    delete_through,
    depth_and_oldest,
    encode_key,
    outbox,
    read_entries,
)
from datamigration_operator.migration.mapping.values import Key


def entry(table: str, key: Key, op: str, created_at: float) -> dict[str, object]:
    return {"table": table, "key": encode_key(key), "op": op, "created_at": created_at}


def test_entries_round_trip_keys_in_id_order_and_delete_through_a_batch() -> None:
    engine = sa.create_engine("sqlite://")
    create_outbox(engine)
    create_outbox(engine)  # already there: kept as is
    with engine.begin() as connection:
        connection.execute(
            outbox.insert(),
            [entry("t", (1, "a"), "upsert", 10.0), entry("t", (2.5,), "delete", 10.0)],
        )
        connection.execute(outbox.insert(), [entry("u", (b"\x00\xff",), "upsert", 20.0)])
        assert depth_and_oldest(connection) == (3, 10.0)
        entries = read_entries(connection, limit=2)
        assert [(e.table, e.key, e.op) for e in entries] == [
            ("t", (1, "a"), "upsert"),
            ("t", (2.5,), "delete"),
        ]
        delete_through(connection, entries[-1].id)
        assert [e.key for e in read_entries(connection, limit=10)] == [(b"\x00\xff",)]
        assert depth_and_oldest(connection) == (1, 20.0)


def test_empty_outbox_has_no_oldest_entry() -> None:
    engine = sa.create_engine("sqlite://")
    create_outbox(engine)
    with engine.connect() as connection:
        assert depth_and_oldest(connection) == (0, None)
        assert read_entries(connection, limit=5) == []
