"""Read-your-writes in weaviate_primary: a read right after a write sees it while the drainer has
yet to send it, whichever replica of the app wrote it (the outbox is the shared SQLite file)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session, sessionmaker

from datamigration_operator.dualwrite.integration import DualWrite
from datamigration_operator.dualwrite.modes import ModeSource
from datamigration_operator.dualwrite.reads import ReadRouter, Row
from datamigration_operator.migration.sink.weaviate_sink import connect
from tests.integration.dualwrite.conftest import RunningWeaviate, fast_dual_write
from tests.integration.dualwrite.notes_app import MAPPINGS, NAMESPACE, Note, open_database, target


@dataclass
class Replica:
    """One pod of the notes app: its own engine on the shared file, capturing, not draining."""

    sessions: sessionmaker[Session]
    dual: DualWrite

    def add(self, title: str, stars: int) -> int:
        with self.sessions.begin() as session:
            note = Note(title=title, body="b", stars=stars)
            session.add(note)
            session.flush()
            return note.id

    def retitle(self, key: int, title: str) -> None:
        with self.sessions.begin() as session:
            found = session.get(Note, key)
            assert found is not None
            found.title = title

    def note(self, key: int) -> Row | None:
        with self.sessions() as session:
            found = session.get(Note, key)
            return None if found is None else {"id": found.id, "title": found.title}

    def starred(self, stars: int) -> list[Row]:
        with self.sessions() as session:
            return [
                {"id": n.id, "title": n.title, "stars": n.stars}
                for n in session.query(Note).filter(Note.stars == stars)
            ]


@pytest.fixture
def replicas(tmp_path: Path, weaviate: RunningWeaviate) -> Iterator[tuple[Replica, Replica]]:
    path = tmp_path / "notes.db"
    started = []
    for _ in range(2):
        sessions = open_database(path)
        mode = ModeSource(fixed="weaviate_primary", registry=CollectorRegistry())
        dual = fast_dual_write(sessions, MAPPINGS, mode, weaviate, NAMESPACE)
        started.append(Replica(sessions, dual.start(drain=False)))  # the drainer held back
    try:
        yield started[0], started[1]
    finally:
        for replica in started:
            replica.dual.stop()


def router(
    replica: Replica,
    weaviate: RunningWeaviate,
    *,
    read_your_writes: bool,
    registry: CollectorRegistry | None = None,
) -> ReadRouter:
    namespace, name = NAMESPACE.split("/")
    return ReadRouter(
        connect(target(weaviate.http_port, weaviate.grpc_port), None, timeout=5),
        list(replica.dual.plans.values()),
        namespace=namespace,
        name=name,
        mode=replica.dual.mode_source,
        registry=registry or CollectorRegistry(),
        shadow_percent=0,
        pending=replica.dual.pending if read_your_writes else None,
    )


def reads(registry: CollectorRegistry, source: str) -> float:
    return sum(
        registry.get_sample_value(
            "datamigration_dualwrite_reads_total",
            {"kind": kind, "table": "notes", "source": source},
        )
        or 0.0
        for kind in ("by_id", "by_reference")
    )


def test_a_read_right_after_a_write_on_either_replica_sees_it(
    replicas: tuple[Replica, Replica], weaviate: RunningWeaviate
) -> None:
    writer, reader_pod = replicas
    key = writer.add("first", stars=3)
    assert writer.dual.drainer.drain_available() == 1  # the collection and the note in Weaviate
    registry = CollectorRegistry()
    reader = router(reader_pod, weaviate, read_your_writes=True, registry=registry)
    lagging = router(reader_pod, weaviate, read_your_writes=False)
    assert reader.by_id("notes", key, lambda: reader_pod.note(key))["title"] == "first"  # type: ignore[index]
    assert reads(registry, "weaviate") == 1

    # another pod edits the note and adds one; nothing drains them yet
    writer.retitle(key, "edited")
    added = writer.add("second", stars=3)
    assert lagging.by_id("notes", key, lambda: reader_pod.note(key))["title"] == "first"  # type: ignore[index]
    stale = lagging.by_reference("notes", "stars", 3, lambda: reader_pod.starred(3))
    assert [row["title"] for row in stale] == ["first"]
    got = reader.by_id("notes", key, lambda: reader_pod.note(key))
    assert got == {"id": key, "title": "edited"}
    listed = reader.by_reference("notes", "stars", 3, lambda: reader_pod.starred(3))
    assert {row["id"]: row["title"] for row in listed} == {key: "edited", added: "second"}
    assert reads(registry, "sqlite_pending") == 2

    # drained: Weaviate answers again, with the writes
    assert writer.dual.drainer.drain_available() == 2
    got = reader.by_id("notes", key, lambda: pytest.fail("Weaviate answers"))
    assert got is not None
    assert got["title"] == "edited"
    listed = reader.by_reference("notes", "stars", 3, lambda: pytest.fail("Weaviate answers"))
    assert sorted(str(row["title"]) for row in listed) == ["edited", "second"]
    assert reads(registry, "weaviate") == 3
    reader.client.close()
    lagging.client.close()
