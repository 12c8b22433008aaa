from __future__ import annotations

import sqlalchemy as sa

from datamigration_operator.dualwrite.outbox import (
    create_outbox,
    delete_entries,
    depth_and_oldest,
    insert_entries,
    read_entries,
)


def test_entries_round_trip_keys_in_id_order_and_delete_by_id() -> None:
    engine = sa.create_engine("sqlite://")
    create_outbox(engine)
    create_outbox(engine)  # already there: kept as is
    with engine.begin() as connection:
        insert_entries(connection, [("t", (1, "a"), "upsert"), ("t", (2.5,), "delete")], now=10.0)
        insert_entries(connection, [("u", (b"\x00\xff",), "upsert")], now=20.0)
        assert depth_and_oldest(connection) == (3, 10.0)
        entries = read_entries(connection, limit=2)
        assert [(e.table, e.key, e.op) for e in entries] == [
            ("t", (1, "a"), "upsert"),
            ("t", (2.5,), "delete"),
        ]
        delete_entries(connection, [e.id for e in entries])
        assert [e.key for e in read_entries(connection, limit=10)] == [(b"\x00\xff",)]
        assert depth_and_oldest(connection) == (1, 20.0)


def test_empty_outbox_has_no_oldest_entry() -> None:
    engine = sa.create_engine("sqlite://")
    create_outbox(engine)
    with engine.connect() as connection:
        assert depth_and_oldest(connection) == (0, None)
        assert read_entries(connection, limit=5) == []
