"""The app's SQLAlchemy ORM models: the tables `migration.sample_data` generates.

Dates are SQLAlchemy DateTime (stored as "YYYY-MM-DD HH:MM:SS.ffffff" text, which the migration
maps to Weaviate dates: every value parses); document embeddings are JSON arrays of floats (the
vector column).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    # naive UTC, as SQLAlchemy's SQLite DateTime stores it
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(sa.Text)
    user_id: Mapped[str | None] = mapped_column(sa.Text)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", passive_deletes=False
    )


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        sa.Text, sa.ForeignKey("conversations.id"), index=True
    )
    role: Mapped[str] = mapped_column(sa.Text)
    content: Mapped[str] = mapped_column(sa.Text)
    tokens: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(sa.Text)
    content: Mapped[str | None] = mapped_column(sa.Text)
    content_type: Mapped[str | None] = mapped_column(sa.Text)
    file_size: Mapped[int | None] = mapped_column(sa.Integer)
    tags: Mapped[str | None] = mapped_column(sa.Text)
    embedding: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
