"""A chat schema with every foreign-key action, and an app session under capture (no Weaviate)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)

from datamigration_operator.api.spec import CollectionMapping
from datamigration_operator.dualwrite.capture import TriggerCapture
from datamigration_operator.dualwrite.integration import collection_plans
from datamigration_operator.dualwrite.outbox import create_outbox, outbox, read_entries

MAPPINGS = [
    CollectionMapping(table="conversations", collection="Conversation"),
    CollectionMapping(table="messages", collection="Message"),
    CollectionMapping(table="attachments", collection="Attachment"),
    CollectionMapping(table="tags", collection="Tag"),
    CollectionMapping(table="threads", collection="Thread"),
    CollectionMapping(table="posts", collection="Post"),
]


class Base(DeclarativeBase):
    pass


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.Text, default="")


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE", onupdate="CASCADE")
    )
    body: Mapped[str] = mapped_column("body_text", sa.Text, default="")


class Attachment(Base):
    """Deleted with its message: a cascade two levels down."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("messages.id", ondelete="CASCADE"))


class Tag(Base):
    """Kept when its conversation goes or changes key, with the reference set to NULL."""

    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="SET NULL", onupdate="SET NULL")
    )


class Audit(Base):
    """A table no mapping names."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    what: Mapped[str] = mapped_column(sa.Text, default="")


class Thread(Base):
    """ORM relationship cascade (no foreign-key action): children deleted by the ORM itself."""

    __tablename__ = "threads"
    id: Mapped[int] = mapped_column(primary_key=True)
    posts: Mapped[list[Post]] = relationship(cascade="all, delete-orphan")


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(sa.ForeignKey("threads.id"))


@dataclass
class App:
    engine: sa.Engine
    sessions: sessionmaker[Session]
    capture: TriggerCapture
    mode: list[bool]

    def entries(self) -> list[tuple[str, tuple[object, ...], str]]:
        with self.engine.connect() as connection:
            return [(e.table, e.key, e.op) for e in read_entries(connection, 10_000)]

    def clear(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(outbox.delete())

    def count(self, model: type[Base]) -> int:
        with self.sessions() as session:
            return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def open_app(path: Path, *, foreign_keys: bool = True) -> App:
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 5})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        connection.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")

    Base.metadata.create_all(engine)
    create_outbox(engine)
    mode = [True]
    plans = collection_plans(engine, MAPPINGS)
    sessions = sessionmaker(bind=engine)
    capture = TriggerCapture(engine, plans, lambda: mode[0])
    capture.attach()
    return App(engine, sessions, capture, mode)


def seed(app: App) -> None:
    """Conversations 1-2, messages 1-4 (two each), attachments on messages 1 and 3, tags 1-2."""
    with app.sessions.begin() as session:
        session.add_all([Conversation(id=1, title="one"), Conversation(id=2, title="two")])
        session.flush()
        session.add_all(
            [Message(id=i, conversation_id=1 if i <= 2 else 2, body=f"m{i}") for i in range(1, 5)]
        )
        session.flush()
        session.add_all([Attachment(id=1, message_id=1), Attachment(id=3, message_id=3)])
        session.add_all([Tag(id=1, conversation_id=1), Tag(id=2, conversation_id=2)])
    app.clear()


def seeded_app(path: Path, *, foreign_keys: bool = True) -> App:
    """`open_app` with `seed`'s rows, and an empty outbox."""
    app = open_app(path, foreign_keys=foreign_keys)
    seed(app)
    return app
