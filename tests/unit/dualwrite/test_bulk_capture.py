"""Bulk UPDATE/DELETE through a Session land in the outbox, in the statement's transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from datamigration_operator.dualwrite.bulk_capture import BulkCaptureError
from datamigration_operator.dualwrite.outbox import lock_for_writing
from tests.unit.dualwrite.chat_schema import Audit, Conversation, Message, open_app, seed


def test_bulk_update_captures_exactly_the_matching_rows(tmp_path: Path) -> None:
    app = open_app(tmp_path / "app.db")
    seed(app)
    with app.sessions.begin() as session:
        session.execute(sa.update(Message).where(Message.conversation_id == 2).values(body="x"))
    assert app.entries() == [("messages", (3,), "upsert"), ("messages", (4,), "upsert")]


def test_bulk_delete_captures_deletes(tmp_path: Path) -> None:
    app = open_app(tmp_path / "app.db", foreign_keys=False)
    seed(app)
    with app.sessions.begin() as session:
        session.execute(sa.delete(Message).where(Message.body.in_(["m1", "m4"])))
    assert app.entries() == [("messages", (1,), "delete"), ("messages", (4,), "delete")]
    assert app.count(Message) == 2


def test_update_that_changes_the_key_captures_old_and_new_keys(tmp_path: Path) -> None:
    app = open_app(tmp_path / "app.db", foreign_keys=False)  # attachments: no ON UPDATE
    seed(app)
    with app.sessions.begin() as session:
        session.execute(sa.update(Message).where(Message.id >= 3).values(id=Message.id * 10))
    assert app.entries() == [
        ("messages", (3,), "delete"),
        ("messages", (30,), "upsert"),
        ("messages", (4,), "delete"),
        ("messages", (40,), "upsert"),
    ]


def test_core_statement_through_the_session_with_executemany(tmp_path: Path) -> None:
    app = open_app(tmp_path / "app.db", foreign_keys=False)  # attachments: no ON UPDATE
    seed(app)
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
    app = open_app(tmp_path / "app.db")
    seed(app)
    with app.sessions.begin() as session:
        session.execute(sa.update(Message), [{"id": 2, "body": "b"}, {"id": 4, "body": "d"}])
    assert app.entries() == [("messages", (2,), "upsert"), ("messages", (4,), "upsert")]


def test_parameters_that_set_a_column_are_values_of_the_update(tmp_path: Path) -> None:
    app = open_app(tmp_path / "app.db", foreign_keys=False)  # attachments: no ON UPDATE
    seed(app)
    with app.sessions.begin() as session:
        session.execute(sa.update(Message).where(Message.id == 1), {"id": 7})
    assert app.entries() == [("messages", (1,), "delete"), ("messages", (7,), "upsert")]


def test_unmapped_tables_and_non_capturing_modes_write_no_entry(tmp_path: Path) -> None:
    app = open_app(tmp_path / "app.db")
    seed(app)
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
    app = open_app(tmp_path / "app.db")
    seed(app)
    with app.sessions() as session:
        with pytest.raises(IntegrityError):
            session.execute(sa.update(Message).where(Message.id == 1).values(id=2))
        session.commit()  # the app carries on with its transaction
    assert app.entries() == []


def test_rolled_back_bulk_statement_leaves_no_entry(tmp_path: Path) -> None:
    app = open_app(tmp_path / "app.db")
    seed(app)
    with app.sessions() as session:
        session.execute(sa.delete(Conversation).where(Conversation.id == 1))
        session.rollback()
    assert app.entries() == []
    assert app.count(Message) == 4


def test_column_values_differing_per_parameter_set_are_refused_before_running(
    tmp_path: Path,
) -> None:
    app = open_app(tmp_path / "app.db")
    seed(app)
    table = Message.__table__
    statement = sa.update(table).where(table.c.id == sa.bindparam("k"))
    with app.sessions() as session:
        with pytest.raises(BulkCaptureError, match="differ per parameter set"):
            session.execute(statement, [{"k": 1, "body_text": "a"}, {"k": 2, "body_text": "b"}])
        session.commit()
    with app.sessions() as session:
        assert session.get(Message, 1).body == "m1"  # type: ignore[union-attr]


def test_lock_for_writing_keeps_other_writers_out_until_commit(tmp_path: Path) -> None:
    app = open_app(tmp_path / "app.db")
    seed(app)
    other = sqlite3.connect(tmp_path / "app.db", timeout=0)
    try:
        with app.engine.connect() as connection:
            lock_for_writing(connection)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO audit (id, what) VALUES (5, 'x')")
            connection.rollback()
        other.execute("INSERT INTO audit (id, what) VALUES (5, 'x')")
        other.commit()
    finally:
        other.close()
