"""Read-your-writes: the outbox's waiting keys, and how the router answers reads that see them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from uuid import UUID

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from datamigration_operator.dualwrite.outbox import create_outbox, encode_key, outbox, pending_keys
from datamigration_operator.dualwrite.pending_writes import (
    BACKLOG,
    NOTHING,
    PendingWrites,
    pending_of,
)
from datamigration_operator.dualwrite.read_fallback import ReadGuard
from datamigration_operator.dualwrite.reads import ReadRouter
from datamigration_operator.migration.mapping import ROWID, CollectionPlan, object_uuid
from datamigration_operator.migration.mapping.values import InvalidText, Key
from tests.unit.dualwrite.test_gradual_reads import Share
from tests.unit.dualwrite.test_reads import DOCUMENTS, MESSAGES, SQLITE_ROW, FakeClient, Mode

OWNER = "apps/chat"


def database(path: Path | None = None) -> sa.Engine:
    # in memory: one database per thread
    engine = sa.create_engine("sqlite://" if path is None else f"sqlite:///{path}")
    create_outbox(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE messages (id TEXT PRIMARY KEY, conversation_id TEXT, content TEXT)"
        )
    return engine


def wait(engine: sa.Engine, table: str, *keys: Key) -> None:
    with engine.begin() as connection:
        connection.execute(
            outbox.insert(),
            [
                {"table": table, "key": encode_key(k), "op": "upsert", "created_at": 1.0}
                for k in keys
            ],
        )


def insert_message(engine: sa.Engine, key: str, conversation: str) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO messages VALUES (?, ?, 'hi')", (key, conversation))


def test_pending_keys_lists_one_tables_keys_once_and_gives_up_past_the_limit() -> None:
    engine = database()
    with engine.connect() as connection:
        assert pending_keys(connection, "messages", limit=3) == []
    wait(engine, "messages", ("m1",), ("m1",))
    wait(engine, "documents", (7,))
    with engine.connect() as connection:
        assert pending_keys(connection, "messages", limit=3) == [("m1",)]
        assert pending_keys(connection, "documents", limit=3) == [(7,)]
        assert pending_keys(connection, "conversations", limit=3) == []
    wait(engine, "messages", ("m2",))  # four entries: more than the limit can list
    with engine.connect() as connection:
        assert pending_keys(connection, "conversations", limit=3) is None
        assert pending_keys(connection, "messages", limit=4) == [("m1",), ("m2",)]


def test_pending_maps_keys_to_the_object_ids_reads_return() -> None:
    assert pending_of(MESSAGES, None, OWNER) is BACKLOG
    assert pending_of(MESSAGES, [], OWNER) is NOTHING
    pending = pending_of(MESSAGES, [("m1",)], OWNER)
    waiting = object_uuid(OWNER, "messages", ("m1",))
    assert pending.anything
    assert pending.holds(waiting)
    assert not pending.holds(object_uuid(OWNER, "messages", ("m2",)))
    assert pending.holds_any([UUID(int=5), waiting])
    assert not pending.holds_any([UUID(int=5)])
    assert not NOTHING.anything
    assert not NOTHING.holds_any([waiting])
    assert BACKLOG.anything
    assert BACKLOG.holds(UUID(int=5))


def test_listed_by_finds_waiting_rows_that_now_hold_the_value() -> None:
    engine = database()
    writes = PendingWrites(engine, OWNER, limit=100)
    insert_message(engine, "m1", "c1")
    insert_message(engine, "m2", "c2")
    wait(engine, "messages", ("m2",), ("gone",), (InvalidText(b"\xff"),))
    pending = writes.of(MESSAGES)
    assert writes.listed_by(MESSAGES, "conversation_id", "c2", pending)
    # m1 is in c1 but has nothing waiting; a deleted row lists nowhere
    assert not writes.listed_by(MESSAGES, "conversation_id", "c1", pending)
    assert writes.listed_by(MESSAGES, "conversation_id", "c1", BACKLOG)


@pytest.mark.parametrize(
    ("key_columns", "keys"),
    [((ROWID,), [(1,), (2,)]), (("a", "b"), [(1, "x"), (2, "y")])],
)
def test_listed_by_handles_rowid_and_composite_keys(
    key_columns: tuple[str, ...], keys: list[Key]
) -> None:
    engine = sa.create_engine("sqlite://")
    create_outbox(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (a INTEGER, b TEXT, owner TEXT)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1, 'x', 'o1'), (2, 'y', 'o2')")
    plan = CollectionPlan("t", "T", key_columns, (), (), None)
    wait(engine, "t", keys[1])
    writes = PendingWrites(engine, OWNER)
    pending = writes.of(plan)
    assert writes.listed_by(plan, "owner", "o2", pending)
    assert not writes.listed_by(plan, "owner", "o1", pending)


def routed(
    engine: sa.Engine, *, shadow: float = 0.0
) -> tuple[ReadRouter, FakeClient, CollectorRegistry]:
    client, registry = FakeClient(), CollectorRegistry()
    router = ReadRouter(
        client,
        [MESSAGES, DOCUMENTS],
        namespace="apps",
        name="chat",
        mode=Mode(),
        guard=ReadGuard(timeout=5),
        registry=registry,
        shadow_percent=shadow,
        pending=PendingWrites(engine, OWNER),
    )
    return router, client, registry


def count(registry: CollectorRegistry, kind: str, source: str) -> float:
    labels = {"kind": kind, "table": "messages", "source": source}
    return registry.get_sample_value("datamigration_dualwrite_reads_total", labels) or 0.0


def test_a_read_by_a_waiting_key_is_answered_from_sqlite_without_asking_weaviate() -> None:
    engine = database()
    router, client, registry = routed(engine)
    assert router.by_id("messages", "m1", lambda: SQLITE_ROW) != SQLITE_ROW
    wait(engine, "messages", ("m1",))
    assert router.by_id("messages", "m1", lambda: SQLITE_ROW) is SQLITE_ROW
    assert router.by_id("messages", "m2", lambda: SQLITE_ROW) != SQLITE_ROW
    assert [name for name, _ in client.query.calls] == ["by_id", "by_id"]
    assert count(registry, "by_id", "sqlite_pending") == 1
    assert count(registry, "by_id", "weaviate") == 2


def test_a_list_read_falls_back_for_a_waiting_row_on_either_side() -> None:
    engine = database()
    router, client, registry = routed(engine)
    sqlite = [SQLITE_ROW]
    # a waiting row of another conversation, and Weaviate lists none of it: Weaviate answers
    insert_message(engine, "m9", "c9")
    wait(engine, "messages", ("m9",))
    assert router.by_reference("messages", "conversation_id", "c1", lambda: sqlite) != sqlite
    # a waiting row that now belongs to c1: Weaviate is not asked
    insert_message(engine, "m1", "c1")
    wait(engine, "messages", ("m1",))
    calls = len(client.query.calls)
    assert router.by_reference("messages", "conversation_id", "c1", lambda: sqlite) is sqlite
    assert len(client.query.calls) == calls
    # m5 was deleted (or moved to another conversation) in SQLite, its write still waits, and
    # Weaviate still lists it under c2 as it was: its answer is stale
    with engine.begin() as connection:
        connection.execute(outbox.delete())
    listed = object_uuid(OWNER, "messages", ("m5",))
    client.query.fetch_objects = lambda **_: SimpleNamespace(  # type: ignore[method-assign]
        objects=[SimpleNamespace(uuid=listed, properties={}, metadata=None)]
    )
    assert router.by_reference("messages", "conversation_id", "c2", lambda: sqlite) != sqlite
    wait(engine, "messages", ("m5",))
    assert router.by_reference("messages", "conversation_id", "c2", lambda: sqlite) is sqlite
    assert count(registry, "by_reference", "sqlite_pending") == 2
    assert count(registry, "by_reference", "weaviate") == 2


def test_a_search_falls_back_while_its_table_has_any_waiting_write() -> None:
    engine = database()
    router, _client, registry = routed(engine)
    assert router.bm25("messages", "hi", lambda: [SQLITE_ROW]) != [SQLITE_ROW]
    wait(engine, "messages", ("m1",))
    assert router.bm25("messages", "hi", lambda: [SQLITE_ROW]) == [SQLITE_ROW]
    assert router.near_vector("documents", [1.0], lambda: [SQLITE_ROW]) != [SQLITE_ROW]
    assert count(registry, "bm25", "sqlite_pending") == 1


def test_a_shadow_difference_on_a_waiting_key_is_lag_not_a_mismatch(tmp_path: Path) -> None:
    engine = database(tmp_path / "app.db")  # a file: the shadow worker's thread sees it too
    client, registry = FakeClient(), CollectorRegistry()
    router = ReadRouter(
        client,
        [MESSAGES],
        namespace="apps",
        name="chat",
        mode=Mode("dual_write"),
        guard=ReadGuard(timeout=5),
        registry=registry,
        share=Share(50),
        shadow_percent=100,
        recheck_delay=0.01,
        pending=PendingWrites(engine, OWNER),
    )
    keys = [f"m{number}" for number in range(40)]
    differs = {"id": "?", "content": "edited in SQLite", "tokens": 3}

    def shadowed(result: str) -> float:
        labels = {"kind": "by_id", "table": "messages", "result": result}
        return registry.get_sample_value("datamigration_dualwrite_shadow_reads_total", labels) or 0

    wait(engine, "messages", *[(key,) for key in keys])
    for key in keys:
        router.by_id("messages", key, lambda: differs)
    router.shadows.join()
    to_sqlite = count(registry, "by_id", "sqlite")
    assert 0 < to_sqlite < 40  # the share sent the others to Weaviate: answered from SQLite
    assert count(registry, "by_id", "sqlite_pending") == 40 - to_sqlite
    assert (shadowed("pending"), shadowed("mismatch")) == (to_sqlite, 0)
    with engine.begin() as connection:
        connection.execute(outbox.delete())  # drained: the same difference is a mismatch now
    for key in keys:
        router.by_id("messages", key, lambda: differs)
    router.shadows.join()
    assert shadowed("mismatch") == 40
