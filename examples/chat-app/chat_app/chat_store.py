"""The chat service's data layer: ORM writes under dual-write, declared reads routed by mode.

This is the part an application team writes; the dual-write lines are `DualWrite(...)`,
`.start()` and the `ReadRouter` calls around reads the app already had.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client import REGISTRY, CollectorRegistry
from sqlalchemy.orm import sessionmaker

from chat_app.models import (
    Base,
    Conversation,
    Document,
    Message,
    utcnow,
)
from chat_app.settings import AppSettings
from datamigration_operator.api.spec import CollectionMapping, ReferenceMapping
from datamigration_operator.dualwrite.drainer import DrainSettings
from datamigration_operator.dualwrite.integration import DualWrite
from datamigration_operator.dualwrite.modes import ModeSource
from datamigration_operator.dualwrite.reads import ReadRouter

Row = dict[str, object]

# What the app migrates (the DataMigration's spec.collections says the same).
COLLECTIONS = (
    CollectionMapping(table="conversations", collection="Conversation"),
    CollectionMapping(
        table="messages",
        collection="Message",
        references=[ReferenceMapping(column="conversation_id", target_table="conversations")],
    ),
    CollectionMapping(table="documents", collection="Document", vector_column="embedding"),
)
ROLES = ("user", "assistant", "system")


class NotFoundError(LookupError):
    """The conversation or message a write names does not exist."""


class LazyClient:
    """A weaviate-client connection made on first use: the app starts while Weaviate is down."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def collections(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._factory()
            return self._client.collections

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def open_engine(settings: AppSettings) -> sa.Engine:
    """The app's database in WAL mode (readers never wait for the writer), tables created."""
    settings.database.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{settings.database}", connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")

    Base.metadata.create_all(engine)
    return engine


class ChatStore:
    def __init__(
        self,
        settings: AppSettings,
        mode: ModeSource,
        *,
        registry: CollectorRegistry = REGISTRY,
        drain_settings: DrainSettings | None = None,
    ) -> None:
        self.engine = open_engine(settings)
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.mode = mode
        api_key = settings.api_key.get_secret_value() if settings.api_key else None

        def client() -> Any:
            # imported on first use (the drainer's thread): the app starts without the client
            from datamigration_operator.migration.sink.weaviate_sink import connect

            return connect(settings.weaviate, api_key, timeout=10)

        self.dual_write = DualWrite(
            self.sessions,
            list(COLLECTIONS),
            mode,
            client,
            settings.migration,
            registry=registry,
            drain_settings=drain_settings,
        )
        self.weaviate = LazyClient(client)
        self.reads = ReadRouter(
            self.weaviate,
            list(self.dual_write.plans.values()),
            namespace=settings.migration_namespace,
            name=settings.migration_name,
            mode=mode,
            fallback=settings.read_fallback,
            registry=registry,
            shadow_percent=settings.shadow_read_percent,
            recorder=self.dual_write.read_analysis,
            pending=self.dual_write.pending,
        )

    def start(self, *, drain: bool = True) -> ChatStore:
        self.dual_write.start(drain=drain)
        return self

    def close(self) -> None:
        self.reads.close()
        self.dual_write.stop()
        self.weaviate.close()
        self.engine.dispose()

    # --- writes (the ORM, as the app always did; the outbox follows the mode) ---------------

    def create_conversation(self, title: str, user_id: str | None = None) -> Row:
        with self.sessions.begin() as session:
            conversation = Conversation(title=title, user_id=user_id)
            session.add(conversation)
        return _json_row(_columns(conversation))

    def post_message(
        self, conversation_id: str, role: str, content: str, tokens: int | None = None
    ) -> Row:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        with self.sessions.begin() as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None:
                raise NotFoundError(f"conversation {conversation_id} not found")
            message = Message(
                conversation_id=conversation_id, role=role, content=content, tokens=tokens
            )
            session.add(message)
            conversation.updated_at = utcnow()
        return _json_row(_columns(message))

    def edit_message(self, message_id: str, content: str) -> Row:
        with self.sessions.begin() as session:
            message = session.get(Message, message_id)
            if message is None:
                raise NotFoundError(f"message {message_id} not found")
            message.content = content
        return _json_row(_columns(message))

    def delete_message(self, message_id: str) -> None:
        with self.sessions.begin() as session:
            message = session.get(Message, message_id)
            if message is None:
                raise NotFoundError(f"message {message_id} not found")
            session.delete(message)

    def delete_conversation(self, conversation_id: str) -> None:
        """The conversation and its messages (the ORM cascade: every delete is captured)."""
        with self.sessions.begin() as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None:
                raise NotFoundError(f"conversation {conversation_id} not found")
            session.delete(conversation)

    def add_document(
        self,
        title: str,
        content: str | None,
        *,
        content_type: str | None = None,
        tags: Sequence[str] = (),
        embedding: Sequence[float] | None = None,
    ) -> Row:
        if embedding is not None and not all(math.isfinite(v) for v in embedding):
            raise ValueError("embedding values must be finite numbers")
        with self.sessions.begin() as session:
            document = Document(
                title=title,
                content=content,
                content_type=content_type,
                file_size=None if content is None else len(content.encode()),
                tags=json.dumps(list(tags)),
                embedding=None if embedding is None else json.dumps(list(embedding)),
            )
            session.add(document)
        return _json_row(_columns(document))

    # --- reads (declared: Weaviate in weaviate_primary, SQLite otherwise) -------------------

    def conversation(self, conversation_id: str) -> Row | None:
        def sqlite() -> Row | None:
            with self.sessions() as session:
                found = session.get(Conversation, conversation_id)
                return None if found is None else _columns(found)

        row = self.reads.by_id("conversations", conversation_id, sqlite)
        return None if row is None else _json_row(row)

    def messages(self, conversation_id: str, limit: int = 100) -> list[Row]:
        def sqlite() -> list[Row]:
            with self.sessions() as session:
                query = (
                    sa.select(Message)
                    .where(Message.conversation_id == conversation_id)
                    .order_by(Message.created_at)
                    .limit(limit)
                )
                return [_columns(m) for m in session.scalars(query)]

        rows = self.reads.by_reference(
            "messages",
            "conversation_id",
            conversation_id,
            sqlite,
            order_by="created_at",
            limit=limit,
        )
        return [_json_row(row) for row in rows]

    def search_documents(self, query: str, limit: int = 10) -> list[Row]:
        """Keyword search: BM25 in Weaviate; a LIKE over title and content in SQLite."""
        words = [w for w in query.split() if w]

        def sqlite() -> list[Row]:
            if not words:
                return []
            with self.sessions() as session:
                matches = [
                    sa.or_(Document.title.contains(w), Document.content.contains(w)) for w in words
                ]
                statement = sa.select(Document).where(sa.or_(*matches)).limit(limit)
                return [_columns(d) for d in session.scalars(statement)]

        rows = self.reads.bm25(
            "documents", query, sqlite, columns=("title", "content"), limit=limit
        )
        return [_json_row(row) for row in rows]

    def similar_documents(self, vector: Sequence[float], limit: int = 10) -> list[Row]:
        """Nearest by cosine distance: Weaviate's vector index, or a scan in SQLite."""

        def sqlite() -> list[Row]:
            with self.sessions() as session:
                scored = []
                for document in session.scalars(
                    sa.select(Document).where(Document.embedding.is_not(None))
                ):
                    stored = json.loads(document.embedding or "[]")
                    if len(stored) == len(vector):
                        row = _columns(document) | {"_distance": _cosine(vector, stored)}
                        scored.append(row)
                scored.sort(key=lambda row: float(row["_distance"]))  # type: ignore[arg-type]
                return scored[:limit]

        rows = self.reads.near_vector("documents", vector, sqlite, limit=limit)
        return [_json_row(row) for row in rows]

    def outbox(self) -> dict[str, object]:
        depth, age = self.dual_write.outbox_stats()
        return {"mode": self.mode.current(), "outboxDepth": depth, "oldestAgeSeconds": age}


def _columns(obj: object) -> Row:
    table = sa.inspect(obj).mapper.local_table
    return {column.name: getattr(obj, column.key) for column in table.columns}


# DateTime columns; Weaviate holds them as dates and answers RFC 3339 text in UTC.
DATE_COLUMNS = frozenset({"created_at", "updated_at"})


def _json_row(row: Row) -> Row:
    """One shape whichever store answered: SQLAlchemy's date text, no stored vector."""
    shaped: Row = {}
    for column, value in row.items():
        if column == "embedding":
            continue
        if column in DATE_COLUMNS and isinstance(value, str):  # from Weaviate: naive UTC again
            value = datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
        if isinstance(value, datetime):
            value = value.strftime("%Y-%m-%d %H:%M:%S.%f")
        shaped[column] = value
    return shaped


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return 1.0 - dot / norms if norms else 1.0
