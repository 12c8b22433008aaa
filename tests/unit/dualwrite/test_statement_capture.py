"""Every statement that changes a mapped table on the app's engine lands in the outbox, in the
statement's transaction: ORM bulk statements, Core, raw SQL, UPSERT, INSERT ... SELECT."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from datamigration_operator.api.spec import CollectionMapping
from datamigration_operator.dualwrite.capture import TriggerCapture
from datamigration_operator.dualwrite.integration import collection_plans
from datamigration_operator.dualwrite.outbox import create_outbox, read_entries
from datamigration_operator.migration.mapping.values import InvalidText
from tests.unit.dualwrite.chat_schema import Audit, Conversation, Message, seeded_app


def test_bulk_update_captures_exactly_the_matching_rows(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db")
    with app.sessions.begin() as session:
        session.execute(sa.update(Message).where(Message.conversation_id == 2).values(body="x"))
    assert app.entries() == [("messages", (3,), "upsert"), ("messages", (4,), "upsert")]


def test_bulk_delete_captures_deletes(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db", foreign_keys=False)
    with app.sessions.begin() as session:
        session.execute(sa.delete(Message).where(Message.body.in_(["m1", "m4"])))
    assert app.entries() == [("messages", (1,), "delete"), ("messages", (4,), "delete")]
    assert app.count(Message) == 2


def test_update_that_changes_the_key_captures_old_and_new_keys(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db", foreign_keys=False)  # attachments: no ON UPDATE
    with app.sessions.begin() as session:
        session.execute(sa.update(Message).where(Message.id >= 3).values(id=Message.id * 10))
    assert app.entries() == [
        ("messages", (3,), "delete"),
        ("messages", (30,), "upsert"),
        ("messages", (4,), "delete"),
        ("messages", (40,), "upsert"),
    ]


def test_core_statement_through_the_session_with_executemany(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db", foreign_keys=False)  # attachments: no ON UPDATE
    table = Message.__table__
    statement = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("k"))
        .values(body_text=sa.bindparam("v"), id=sa.bindparam("new_id"))
    )
    with app.sessions.begin() as session:
        session.execute(
            statement, [{"k": 1, "v": "a", "new_id": 11}, {"k": 2, "v": "b", "new_id": 2}]
        )
    assert app.entries() == [
        ("messages", (1,), "delete"),
        ("messages", (11,), "upsert"),
        ("messages", (2,), "upsert"),
    ]


def test_orm_bulk_update_by_primary_key(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db")
    with app.sessions.begin() as session:
        session.execute(sa.update(Message), [{"id": 2, "body": "b"}, {"id": 4, "body": "d"}])
    assert app.entries() == [("messages", (2,), "upsert"), ("messages", (4,), "upsert")]


def test_parameters_that_set_a_column_are_values_of_the_update(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db", foreign_keys=False)  # attachments: no ON UPDATE
    with app.sessions.begin() as session:
        session.execute(sa.update(Message).where(Message.id == 1), {"id": 7})
    assert app.entries() == [("messages", (1,), "delete"), ("messages", (7,), "upsert")]


def test_unmapped_tables_and_non_capturing_modes_write_no_entry(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db")
    with app.sessions.begin() as session:
        session.add(Audit(id=1, what="a"))
    with app.sessions.begin() as session:
        session.execute(sa.update(Audit).values(what="b"))
        session.execute(sa.delete(Audit))
    app.mode[0] = False  # sqlite_only
    with app.sessions.begin() as session:
        session.execute(sa.update(Message).values(body="not captured"))
    assert app.entries() == []


def test_a_failing_statement_leaves_no_entry(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db")
    with app.sessions() as session:
        with pytest.raises(IntegrityError):
            session.execute(sa.update(Message).where(Message.id == 1).values(id=2))
        session.commit()  # the app carries on with its transaction
    assert app.entries() == []


def test_rolled_back_bulk_statement_leaves_no_entry(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db")
    with app.sessions() as session:
        session.execute(sa.delete(Conversation).where(Conversation.id == 1))
        session.rollback()
    assert app.entries() == []
    assert app.count(Message) == 4


def test_column_values_differing_per_parameter_set_are_captured_row_by_row(
    tmp_path: Path,
) -> None:
    app = seeded_app(tmp_path / "app.db")
    table = Message.__table__
    statement = sa.update(table).where(table.c.id == sa.bindparam("k"))
    with app.sessions.begin() as session:
        session.execute(statement, [{"k": 1, "body_text": "a"}, {"k": 2, "body_text": "b"}])
    assert app.entries() == [("messages", (1,), "upsert"), ("messages", (2,), "upsert")]


def test_bulk_inserts_through_the_session_capture_every_new_row(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db")
    with app.sessions.begin() as session:
        session.execute(
            sa.insert(Message), [{"id": 7, "conversation_id": 1}, {"conversation_id": 2}]
        )
        session.execute(sa.insert(Conversation).values(title="three"))
    assert app.entries() == [
        ("messages", (7,), "upsert"),
        ("messages", (8,), "upsert"),
        ("conversations", (3,), "upsert"),
    ]


def test_raw_sql_through_the_session_is_captured(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db", foreign_keys=False)
    with app.sessions.begin() as session:
        session.execute(
            sa.text("INSERT INTO messages (id, conversation_id, body_text) VALUES (9, 1, 'r')")
        )
        session.execute(sa.text("UPDATE messages SET body_text = 'x' WHERE id IN (1, 9)"))
        session.execute(sa.text("DELETE FROM messages WHERE id = 2"))
    assert app.entries() == [
        ("messages", (9,), "upsert"),
        ("messages", (1,), "upsert"),
        ("messages", (9,), "upsert"),
        ("messages", (2,), "delete"),
    ]


def test_connection_level_statements_outside_any_session_are_captured(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db", foreign_keys=False)
    table = Message.__table__
    with app.engine.begin() as connection:
        connection.execute(sa.update(table).where(table.c.id == 3).values(body_text="core"))
        connection.exec_driver_sql("DELETE FROM messages WHERE id = ?", (4,))
    assert app.entries() == [("messages", (3,), "upsert"), ("messages", (4,), "delete")]


def test_upsert_and_insert_from_select_capture_the_rows_they_write(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db", foreign_keys=False)
    with app.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO messages (id, conversation_id, body_text) VALUES (1, 1, 'u'), (5, 1, 'n') "
            "ON CONFLICT (id) DO UPDATE SET body_text = excluded.body_text"
        )
        connection.exec_driver_sql(
            "INSERT INTO messages (id, conversation_id, body_text) VALUES (2, 1, 'kept') "
            "ON CONFLICT DO NOTHING"
        )
        connection.exec_driver_sql(
            "INSERT INTO messages (id, conversation_id, body_text) "
            "SELECT id + 100, conversation_id, body_text FROM messages WHERE id <= 2"
        )
    assert app.entries() == [
        ("messages", (1,), "upsert"),
        ("messages", (5,), "upsert"),
        ("messages", (101,), "upsert"),
        ("messages", (102,), "upsert"),
    ]


def test_a_table_recreated_by_a_schema_migration_stays_captured(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db", foreign_keys=False)
    with app.engine.begin() as connection:  # how Alembic's batch mode alters a SQLite table
        for statement in (
            "CREATE TABLE _tmp_messages (id INTEGER PRIMARY KEY, conversation_id INTEGER, "
            "body_text TEXT DEFAULT '', edited INTEGER)",
            "INSERT INTO _tmp_messages (id, conversation_id, body_text) "
            "SELECT id, conversation_id, body_text FROM messages",
            "DROP TABLE messages",
            "ALTER TABLE _tmp_messages RENAME TO messages",
        ):
            connection.exec_driver_sql(statement)
    app.clear()
    with app.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE messages SET edited = 1 WHERE id = 2")
    assert app.entries() == [("messages", (2,), "upsert")]


def test_detached_capture_writes_nothing_and_one_engine_takes_one_capture(
    tmp_path: Path,
) -> None:
    app = seeded_app(tmp_path / "app.db")
    with pytest.raises(ValueError, match="already captured"):
        TriggerCapture(app.engine, {}, lambda: True).attach()
    app.capture.detach()
    with app.sessions.begin() as session:
        session.execute(sa.update(Message).values(body="after detach"))
    assert app.entries() == []
    TriggerCapture(app.engine, {}, lambda: True).attach()  # free again


def test_keys_of_every_storage_class_read_back_as_the_jobs_read_them(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE plain (note TEXT)")  # keyed by rowid
        connection.exec_driver_sql(
            "CREATE TABLE pairs (shop TEXT, no ANY, v TEXT, PRIMARY KEY (shop, no)) STRICT"
        )
    create_outbox(engine)
    mappings = [CollectionMapping(table=t, collection=t.title()) for t in ("plain", "pairs")]
    TriggerCapture(engine, collection_plans(engine, mappings), lambda: True).attach()
    odd = b"caf\xe9"  # not UTF-8
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO plain (note) VALUES ('a'), ('b')")
        connection.exec_driver_sql("DELETE FROM plain WHERE note = 'a'")
        connection.exec_driver_sql(
            "INSERT INTO pairs VALUES ('s', 1, ''), ('s', 2.5, ''), ('s', x'00ff', ''), "
            "('\u00e9', 'x', ''), (CAST(? AS TEXT), 3, '')",
            (odd,),
        )
        connection.exec_driver_sql("UPDATE pairs SET no = 4 WHERE no = 1")
    with engine.connect() as connection:
        entries = [(e.table, e.key, e.op) for e in read_entries(connection, 100)]
    assert entries == [
        ("plain", (1,), "upsert"),
        ("plain", (2,), "upsert"),
        ("plain", (1,), "delete"),
        ("pairs", ("s", 1), "upsert"),
        ("pairs", ("s", 2.5), "upsert"),
        ("pairs", ("s", b"\x00\xff"), "upsert"),
        ("pairs", ("\u00e9", "x"), "upsert"),
        ("pairs", (InvalidText(odd), 3), "upsert"),
        ("pairs", ("s", 1), "delete"),
        ("pairs", ("s", 4), "upsert"),
    ]


def test_a_row_replaced_under_another_key_is_captured_as_deleted(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'users.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE)")
        connection.exec_driver_sql("INSERT INTO users VALUES (1, 'a@x'), (2, 'b@x')")
    create_outbox(engine)
    plans = collection_plans(engine, [CollectionMapping(table="users", collection="User")])
    TriggerCapture(engine, plans, lambda: True).attach()
    with engine.begin() as connection:  # id 1 goes: its email now belongs to id 3
        connection.exec_driver_sql("INSERT OR REPLACE INTO users VALUES (3, 'a@x')")
    with engine.connect() as connection:
        entries = [(e.key, e.op) for e in read_entries(connection, 10)]
    assert entries == [((1,), "delete"), ((3,), "upsert")]
