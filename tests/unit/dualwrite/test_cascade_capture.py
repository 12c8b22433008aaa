"""Children SQLite deletes or rewrites through foreign-key actions are captured with the parent."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from tests.unit.dualwrite.chat_schema import (
    Attachment,
    Conversation,
    Message,
    Post,
    Tag,
    Thread,
    open_app,
    seeded_app,
)

CONVERSATION_1_GONE = [
    ("conversations", (1,), "delete"),
    ("messages", (1,), "delete"),
    ("messages", (2,), "delete"),
    ("attachments", (1,), "delete"),
    ("tags", (1,), "upsert"),
]


def test_orm_delete_captures_children_removed_by_on_delete_cascade(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db")
    with app.sessions.begin() as session:
        session.delete(session.get(Conversation, 1))
    assert sorted(app.entries()) == sorted(CONVERSATION_1_GONE)
    assert (app.count(Message), app.count(Attachment), app.count(Tag)) == (2, 1, 2)


def test_bulk_delete_captures_children_recursively(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db")
    with app.sessions.begin() as session:
        session.execute(sa.delete(Conversation).where(Conversation.title == "one"))
    assert sorted(app.entries()) == sorted(CONVERSATION_1_GONE)


def test_without_foreign_key_enforcement_children_stay_and_are_not_enqueued(
    tmp_path: Path,
) -> None:
    app = seeded_app(tmp_path / "app.db", foreign_keys=False)
    with app.sessions.begin() as session:
        session.execute(sa.delete(Conversation).where(Conversation.id == 1))
    assert app.entries() == [("conversations", (1,), "delete")]
    assert app.count(Message) == 4


def test_on_update_cascade_captures_rewritten_children(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db")
    with app.sessions.begin() as session:
        session.execute(sa.update(Conversation).where(Conversation.id == 2).values(id=20))
    assert sorted(app.entries()) == sorted(
        [
            ("conversations", (2,), "delete"),
            ("conversations", (20,), "upsert"),
            ("messages", (3,), "upsert"),
            ("messages", (4,), "upsert"),
            ("tags", (2,), "upsert"),
        ]
    )
    with app.sessions() as session:
        assert session.get(Message, 3).conversation_id == 20  # type: ignore[union-attr]
        assert session.get(Tag, 2).conversation_id is None  # type: ignore[union-attr]


def test_orm_primary_key_change_captures_old_key_and_cascaded_children(tmp_path: Path) -> None:
    app = seeded_app(tmp_path / "app.db")
    with app.sessions.begin() as session:
        session.get(Conversation, 2).id = 30  # type: ignore[union-attr]
    assert sorted(app.entries()) == sorted(
        [
            ("conversations", (2,), "delete"),
            ("conversations", (30,), "upsert"),
            ("messages", (3,), "upsert"),
            ("messages", (4,), "upsert"),
            ("tags", (2,), "upsert"),
        ]
    )


def test_orm_relationship_cascade_children_are_in_the_flush(tmp_path: Path) -> None:
    app = open_app(tmp_path / "app.db")
    with app.sessions.begin() as session:
        session.add(Thread(id=1, posts=[Post(id=1), Post(id=2)]))
    app.clear()
    with app.sessions.begin() as session:
        session.delete(session.get(Thread, 1))
    assert sorted(app.entries()) == [
        ("posts", (1,), "delete"),
        ("posts", (2,), "delete"),
        ("threads", (1,), "delete"),
    ]
