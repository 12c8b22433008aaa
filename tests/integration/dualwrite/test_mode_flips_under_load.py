"""Acceptance: mode flips under load sqlite_only -> dual_write -> weaviate_primary -> sqlite_only.

As the operator drives it: the copy Job runs in sqlite_only, the mode file flips to dual_write
(the kubelet's `..data` symlink swap), the sync Job closes the window, and later the mode goes
to weaviate_primary and back to sqlite_only (a rollback). Writer threads keep ~100 writes/s of
ORM inserts, updates and deletes, bulk updates and deletes, and cascading deletes and key
changes through a foreign key the whole time, and check their own commits at the end.

Proved: no app write fails; at a pause after weaviate_primary, with the outbox drained, the
engine's validation finds 0 differences (capture + drainer alone kept Weaviate exact since the
sync); after the flips, the catch-up sync and validation find 0 differences; every committed
write is in SQLite; Weaviate holds exactly one object per row (deterministic ids); the outbox
is empty. DUALWRITE_FLIP_SECONDS sets the seconds per mode (default 2).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from datamigration_operator.api.spec import CollectionMapping
from datamigration_operator.dualwrite.modes import ModeSource
from datamigration_operator.dualwrite.outbox import outbox
from datamigration_sandbox.jobs.atomic_writer import FileProjection, write_payload
from tests.integration.dualwrite.conftest import RunningWeaviate, fast_dual_write, wait_for
from tests.integration.dualwrite.engine_runs import engine_copy, engine_diff, run_settings

SECONDS_PER_MODE = float(os.environ.get("DUALWRITE_FLIP_SECONDS", "2"))
WRITERS = 2
WRITES_PER_SECOND = 100  # all writers together
NAMESPACE = "apps/chat"
MAPPINGS = [
    CollectionMapping(table="conversations", collection="Conversation"),
    CollectionMapping(table="messages", collection="Message"),
]
# conversation ids a writer owns: id % WRITERS == writer; key changes add a multiple of this
ID_STRIDE = 100_000


class Base(DeclarativeBase):
    pass


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(sa.Text)


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE", onupdate="CASCADE")
    )
    body: Mapped[str] = mapped_column(sa.Text)
    edits: Mapped[int] = mapped_column(sa.Integer, default=0)


def open_database(path: Path) -> sessionmaker[Session]:
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA foreign_keys=ON")

    Base.metadata.create_all(engine)
    return sessionmaker(bind=engine)


class KubeletVolume:
    """A ConfigMap volume as the kubelet writes it (the sandbox kubelet's own writer):
    `migration_mode -> ..data/migration_mode`, `..data -> ..<timestamp>`, swapped atomically."""

    def __init__(self, directory: Path, mode: str) -> None:
        self.directory = directory
        self.update(mode)

    def update(self, mode: str) -> None:
        write_payload(self.directory, {"migration_mode": FileProjection(mode.encode(), 0o644)})


@dataclass
class Writer:
    """One app thread; it owns the conversations with id % WRITERS == number, and what it
    expects of them (and of their messages) after each commit."""

    number: int
    sessions: sessionmaker[Session]
    seed: int
    conversations: dict[int, str] = field(default_factory=dict)
    messages: dict[int, tuple[int, str, int]] = field(default_factory=dict)
    committed: int = 0
    failures: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    _next_id: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def new_conversation_id(self) -> int:
        self._next_id += 1
        return self._next_id * WRITERS + self.number

    def run(self, stop: threading.Event, paused: threading.Event, rate: float) -> None:
        start = time.monotonic()
        done = 0
        while not stop.is_set():
            if paused.is_set():
                time.sleep(0.01)
                start, done = time.monotonic(), 0
                continue
            time.sleep(max(0.0, start + done / rate - time.monotonic()))
            done += 1
            try:
                self.write_once()
                self.committed += 1
            except Exception as error:  # an app write that failed: the test fails on it
                self.failures.append(f"{type(error).__name__}: {error}")

    def write_once(self) -> None:
        roll = self.rng.random()
        operations = [
            (0.25, self.add_message),
            (0.35, self.add_conversation),
            (0.55, self.edit_message),
            (0.65, self.remove_message),
            (0.78, self.bulk_edit),
            (0.85, self.bulk_remove),
            (0.93, self.remove_conversation),
            (1.00, self.renumber_conversation),
        ]
        operation = next(op for limit, op in operations if roll < limit)
        if operation not in (self.add_conversation,) and not self.conversations:
            operation = self.add_conversation
        self.counts[operation.__name__] = self.counts.get(operation.__name__, 0) + 1
        operation()

    def _some_conversation(self) -> int:
        return self.rng.choice(list(self.conversations))

    def _some_message(self) -> int | None:
        return self.rng.choice(list(self.messages)) if self.messages else None

    def add_conversation(self) -> None:
        conversation = self.new_conversation_id()
        title = f"c{conversation}"
        with self.sessions.begin() as session:
            session.add(Conversation(id=conversation, title=title))
            session.flush()
            added = [Message(conversation_id=conversation, body=f"hi {i}") for i in range(2)]
            session.add_all(added)
            session.flush()
            ids = [m.id for m in added]
        self.conversations[conversation] = title
        for i, message in enumerate(ids):
            self.messages[message] = (conversation, f"hi {i}", 0)

    def add_message(self) -> None:
        conversation = self._some_conversation()
        body = f"m{self.rng.randrange(10**6)}"
        with self.sessions.begin() as session:
            message = Message(conversation_id=conversation, body=body)
            session.add(message)
            session.flush()
            new_id = message.id
        self.messages[new_id] = (conversation, body, 0)

    def edit_message(self) -> None:
        message_id = self._some_message()
        if message_id is None:
            self.add_message()
            return
        conversation, _, edits = self.messages[message_id]
        body = f"e{self.rng.randrange(10**6)}"
        with self.sessions.begin() as session:
            message = session.get(Message, message_id)
            assert message is not None
            message.body, message.edits = body, edits + 1
        self.messages[message_id] = (conversation, body, edits + 1)

    def remove_message(self) -> None:
        message_id = self._some_message()
        if message_id is None:
            self.add_message()
            return
        with self.sessions.begin() as session:
            session.delete(session.get(Message, message_id))
        del self.messages[message_id]

    def bulk_edit(self) -> None:
        conversation = self._some_conversation()
        body = f"b{self.rng.randrange(10**6)}"
        with self.sessions.begin() as session:
            session.execute(
                sa.update(Message)
                .where(Message.conversation_id == conversation)
                .values(body=body, edits=Message.edits + 1)
            )
        for message_id, (owner, _, edits) in list(self.messages.items()):
            if owner == conversation:
                self.messages[message_id] = (owner, body, edits + 1)

    def bulk_remove(self) -> None:
        chosen = self.rng.sample(list(self.messages), k=min(3, len(self.messages)))
        with self.sessions.begin() as session:
            session.execute(sa.delete(Message).where(Message.id.in_(chosen)))
        for message_id in chosen:
            del self.messages[message_id]

    def remove_conversation(self) -> None:
        """Its messages go by ON DELETE CASCADE: by an ORM delete or a bulk one."""
        conversation = self._some_conversation()
        with self.sessions.begin() as session:
            if self.rng.random() < 0.5:
                session.delete(session.get(Conversation, conversation))
            else:
                session.execute(sa.delete(Conversation).where(Conversation.id == conversation))
        del self.conversations[conversation]
        self.messages = {k: v for k, v in self.messages.items() if v[0] != conversation}

    def renumber_conversation(self) -> None:
        """A key change its messages follow by ON UPDATE CASCADE."""
        conversation = self._some_conversation()
        renumbered = conversation + ID_STRIDE * WRITERS
        if renumbered in self.conversations:
            self.add_message()
            return
        with self.sessions.begin() as session:
            session.execute(
                sa.update(Conversation)
                .where(Conversation.id == conversation)
                .values(id=Conversation.id + ID_STRIDE * WRITERS)
            )
        self.conversations[renumbered] = self.conversations.pop(conversation)
        self.messages = {
            k: (renumbered if v[0] == conversation else v[0], v[1], v[2])
            for k, v in self.messages.items()
        }

    def check_commits(self) -> list[str]:
        """What this writer committed, compared with SQLite."""
        with self.sessions() as session:
            conversations = {
                c.id: c.title
                for c in session.scalars(
                    sa.select(Conversation).where(Conversation.id % WRITERS == self.number)
                )
            }
            messages = {
                m.id: (m.conversation_id, m.body, m.edits)
                for m in session.scalars(
                    sa.select(Message).where(Message.conversation_id % WRITERS == self.number)
                )
            }
        problems = [f"conversations of writer {self.number} differ"] * (
            conversations != self.conversations
        )
        problems += [f"messages of writer {self.number} differ"] * (messages != self.messages)
        return problems


def row_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {
            "Conversation": int(session.scalar(sa.select(sa.func.count(Conversation.id))) or 0),
            "Message": int(session.scalar(sa.select(sa.func.count(Message.id))) or 0),
        }


def object_counts(weaviate: RunningWeaviate) -> dict[str, int]:
    counts = {}
    for name in ("Conversation", "Message"):
        collection = weaviate.server.database.find(name)
        counts[name] = 0 if collection is None else len(collection.objects)
    return counts


def outbox_depth(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(outbox)) or 0)


@pytest.fixture
def writers_stop() -> Iterator[threading.Event]:
    stop = threading.Event()
    yield stop
    stop.set()  # the threads end even when an assertion failed


def test_mode_flips_under_load_lose_and_duplicate_nothing(
    tmp_path: Path, weaviate: RunningWeaviate, writers_stop: threading.Event
) -> None:
    path = tmp_path / "app.db"
    sessions = open_database(path)
    writers = [Writer(n, sessions, seed=n) for n in range(WRITERS)]
    for writer in writers:  # something to copy
        for _ in range(15):
            writer.add_conversation()
    volume = KubeletVolume(tmp_path / "config", "sqlite_only")
    mode = ModeSource(path=volume.directory, registry=CollectorRegistry(), poll_interval=0.05)
    applied = threading.Event()
    mode.on_change(lambda _old, _new: applied.set())
    dual = fast_dual_write(sessions, MAPPINGS, mode, weaviate, NAMESPACE, max_delay=0.5)
    settings = run_settings(path, tmp_path, MAPPINGS, NAMESPACE)
    paused = threading.Event()
    threads = [
        threading.Thread(
            target=w.run, args=(writers_stop, paused, WRITES_PER_SECOND / WRITERS), daemon=True
        )
        for w in writers
    ]

    def flip(to: str) -> None:
        applied.clear()
        volume.update(to)
        assert applied.wait(10), f"the app did not pick up {to}"
        assert mode.current() == to

    timings: dict[str, float] = {}
    started = time.monotonic()
    with dual:
        for thread in threads:
            thread.start()
        # migrate: the copy Job, in sqlite_only, under load
        phase = time.monotonic()
        copied = engine_copy(weaviate, settings)
        assert copied.failed_count == 0
        time.sleep(max(0.0, phase + SECONDS_PER_MODE - time.monotonic()))
        # dual-write: the mode first, then the sync Job closes the window since the snapshot
        flip("dual_write")
        phase = time.monotonic()
        synced = engine_diff(weaviate, settings, repair=True)
        assert synced.failed == []
        timings["sync under load"] = time.monotonic() - phase
        time.sleep(max(0.0, phase + SECONDS_PER_MODE - time.monotonic()))
        flip("weaviate_primary")
        time.sleep(SECONDS_PER_MODE)
        # a pause: with the outbox drained, Weaviate must equal SQLite by dual-write alone
        paused.set()
        time.sleep(0.1)  # a write in progress commits
        wait_for(lambda: dual.outbox_stats()[0] == 0, timeout=30)
        between = engine_diff(weaviate, settings, repair=False)
        assert (between.differences, between.samples) == (0, [])
        paused.clear()
        # rollback: back to sqlite_only, writes no longer captured
        flip("sqlite_only")
        time.sleep(SECONDS_PER_MODE)
        writers_stop.set()
        for thread in threads:
            thread.join(10)
        wait_for(lambda: dual.outbox_stats()[0] == 0, timeout=30)
    # catch-up sync (as a new dual-write epoch would run it), then validation
    phase = time.monotonic()
    caught_up = engine_diff(weaviate, settings, repair=True)
    validated = engine_diff(weaviate, settings, repair=False)
    timings["catch-up sync + validate"] = time.monotonic() - phase
    assert caught_up.failed == []
    assert (validated.differences, validated.samples) == (0, [])
    assert [f for w in writers for f in w.failures] == []
    assert [p for w in writers for p in w.check_commits()] == []
    assert object_counts(weaviate) == row_counts(sessions)
    assert outbox_depth(sessions) == 0
    operations: dict[str, int] = {}
    for writer in writers:
        for name, count in writer.counts.items():
            operations[name] = operations.get(name, 0) + count
    assert all(operations.get(name, 0) > 0 for name in ("bulk_edit", "remove_conversation"))
    print(
        f"\n{sum(w.committed for w in writers)} writes in {time.monotonic() - started:.1f}s "
        f"({operations}); rows {row_counts(sessions)}; sync under load repaired "
        f"{synced.upserted + synced.deleted}; catch-up sync repaired "
        f"{caught_up.upserted + caught_up.deleted}; "
        + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
    )
