"""A sandbox Weaviate on a background-thread loop, and checks of SQLite rows against it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session, sessionmaker

from datamigration_operator.api.spec import CollectionMapping
from datamigration_operator.dualwrite.drainer import DrainSettings
from datamigration_operator.dualwrite.integration import DualWrite
from datamigration_operator.dualwrite.modes import ModeSource
from datamigration_operator.migration.mapping import ObjectBuilder
from datamigration_operator.migration.mapping.canonical import content_hash
from datamigration_operator.migration.sink.target_reader import TargetReader
from datamigration_operator.migration.sink.weaviate_sink import connect
from datamigration_sandbox.weaviate.server import WeaviateServer
from tests.integration.dualwrite.notes_app import NAMESPACE, Note, target
from tests.integration.migration.conftest import RunningWeaviate, weaviate

__all__ = ["RunningWeaviate", "weaviate"]

_T = TypeVar("_T")


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        time.sleep(0.05)


def differences(
    dual: DualWrite, sessions: sessionmaker[Session], weaviate: RunningWeaviate
) -> list[str]:
    """Rows whose object is missing or differs, and objects without a row."""
    plan = dual.plans["notes"]
    build = ObjectBuilder(plan, migration_namespace=NAMESPACE).build
    with sessions() as session:
        rows = [
            {"id": n.id, "title": n.title, "body": n.body, "stars": n.stars}
            for n in session.query(Note)
        ]
    expected = {obj.uuid: obj for obj in map(build, rows)}
    client = connect(target(weaviate.http_port, weaviate.grpc_port), None)
    try:
        found = TargetReader(client).fetch(plan, list(expected))
    finally:
        client.close()
    problems = [
        f"{uuid}: {'missing' if uuid not in found else 'differs'}"
        for uuid, obj in expected.items()
        if uuid not in found or content_hash(found[uuid]) != content_hash(obj)
    ]
    collection = weaviate.server.database.find("Note")
    stored = set() if collection is None else set(collection.objects)
    extra = {str(u) for u in stored} - {str(u) for u in expected}
    return problems + [f"{uuid}: no row" for uuid in sorted(extra)]


def fast_dual_write(
    sessions: sessionmaker[Session],
    mappings: list[CollectionMapping],
    mode: ModeSource,
    weaviate: RunningWeaviate,
    namespace: str,
    *,
    max_delay: float = 0.5,
) -> DualWrite:
    """DualWrite against the test's Weaviate, retrying and polling in tens of milliseconds."""
    return DualWrite(
        sessions,
        mappings,
        mode,
        lambda: connect(target(weaviate.http_port, weaviate.grpc_port), None, timeout=5),
        namespace,
        registry=CollectorRegistry(),
        drain_settings=DrainSettings(base_delay=0.05, max_delay=max_delay, idle_interval=0.05),
    )


class RestartableWeaviate(RunningWeaviate):
    """A sandbox Weaviate that can go down (both ports closed: connection refused, as during a
    pod restart) and come back on the same ports with its data."""

    def __init__(self, server: WeaviateServer, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        super().__init__(server, *self._run(server.start()))

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    def down(self) -> None:
        self._run(self.server.stop())

    def up(self) -> None:
        self._run(self.server.start(http_port=self.http_port, grpc_port=self.grpc_port))


@pytest.fixture
def restartable_weaviate() -> Iterator[RestartableWeaviate]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="weaviate-sandbox", daemon=True)
    thread.start()
    try:
        running = RestartableWeaviate(WeaviateServer(), loop)
        try:
            yield running
        finally:
            running.down()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
