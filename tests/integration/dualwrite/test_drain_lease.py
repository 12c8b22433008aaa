"""Two app processes on one database (a rolling update): one drains, the other takes over."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session

from datamigration_operator.dualwrite.integration import DualWrite
from datamigration_operator.dualwrite.modes import ModeSource
from tests.integration.dualwrite.conftest import RunningWeaviate, differences, wait_for
from tests.integration.dualwrite.notes_app import Note, dual_write, open_database

REGISTRIES: dict[int, CollectorRegistry] = {}


def drained(app: DualWrite) -> float:
    return REGISTRIES[id(app)].get_sample_value("datamigration_dualwrite_drained_total") or 0.0


def holder(app: DualWrite) -> str | None:
    held = app.drainer.lease.current_holder()
    return None if held is None or held[1] <= time.time() else held[0]


def test_only_the_lease_holder_drains_and_the_other_takes_over(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    def app() -> DualWrite:  # a process of its own: its own engine on the shared file
        registry = CollectorRegistry()
        mode = ModeSource(fixed="dual_write", registry=registry)
        started = dual_write(
            open_database(tmp_path / "app.db"),
            mode,
            weaviate.http_port,
            weaviate.grpc_port,
            registry=registry,
        ).start()
        REGISTRIES[id(started)] = registry
        return started

    old, new = app(), app()
    sessions = open_database(tmp_path / "app.db")  # writes from both pods' engines below
    try:
        wait_for(lambda: old.drainer.lease.current_holder() is not None)
        held = old.drainer.lease.current_holder()
        assert held is not None
        drains, waits = (old, new) if held[0] == old.drainer.lease.holder else (new, old)
        for i in range(50):
            with Session((old if i % 2 else new).engine) as session, session.begin():
                session.add(Note(title=f"from both {i}"))
        wait_for(lambda: drains.outbox_stats()[0] == 0)
        assert drained(waits) == 0
        drains.stop()  # the old pod ends: its lease is released
        stopped = time.monotonic()
        wait_for(lambda: holder(waits) == waits.drainer.lease.holder, timeout=5)
        assert time.monotonic() - stopped < 1.0, "the lease was not taken over within 1 s"
        with Session(waits.engine) as session, session.begin():
            session.add_all([Note(title=f"after the handover {i}") for i in range(50)])
        wait_for(lambda: waits.outbox_stats()[0] == 0, timeout=10)
        assert drained(waits) == 50
        with sessions() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Note)) == 100
        assert differences(waits, sessions, weaviate) == []
    finally:
        old.stop()
        new.stop()


def test_a_holder_that_never_sent_a_batch_hands_over_within_a_second(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    """A pod started in sqlite_only takes the lease without ever draining; its clean stop must
    not make the next pod wait out the ttl (the round-1 demo flake)."""

    def app(mode: str) -> DualWrite:
        registry = CollectorRegistry()
        return dual_write(
            open_database(tmp_path / "app.db"),
            ModeSource(fixed=mode, registry=registry),
            weaviate.http_port,
            weaviate.grpc_port,
            registry=registry,
        ).start()

    idle = app("sqlite_only")
    wait_for(lambda: holder(idle) == idle.drainer.lease.holder, timeout=5)
    busy = app("dual_write")
    try:
        with Session(busy.engine) as session, session.begin():
            session.add_all([Note(title=f"waiting {i}") for i in range(20)])
        assert busy.outbox_stats()[0] == 20
        idle.stop()
        stopped = time.monotonic()
        wait_for(lambda: busy.outbox_stats()[0] == 0, timeout=10)
        assert time.monotonic() - stopped < 1.0, "the outbox did not drain within 1 s"
        assert differences(busy, open_database(tmp_path / "app.db"), weaviate) == []
    finally:
        idle.stop()
        busy.stop()
