"""A tiny SQLAlchemy app under dual-write, and a writer process the tests SIGKILL.

`python -m tests.integration.dualwrite.notes_app DB HTTP GRPC COUNT` commits COUNT notes in
dual_write mode without draining, prints "committed", then waits to be killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from datamigration_operator.api.job_contract import JobTarget
from datamigration_operator.api.spec import CollectionMapping, Endpoint
from datamigration_operator.dualwrite.drainer import DrainSettings
from datamigration_operator.dualwrite.integration import DualWrite
from datamigration_operator.dualwrite.modes import ModeSource
from datamigration_operator.migration.sink.weaviate_sink import connect

NAMESPACE = "apps/notes"
MAPPINGS = [CollectionMapping(table="notes", collection="Note")]


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(sa.Text)
    body: Mapped[str | None] = mapped_column(sa.Text)
    stars: Mapped[int] = mapped_column(sa.Integer, default=0)


def open_database(path: Path) -> sessionmaker[Session]:
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _wal(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA journal_mode=WAL")

    Base.metadata.create_all(engine)
    return sessionmaker(bind=engine)


def target(http_port: int, grpc_port: int) -> JobTarget:
    return JobTarget(
        http=Endpoint(host="127.0.0.1", port=http_port),
        grpc=Endpoint(host="127.0.0.1", port=grpc_port),
        tls=False,
    )


def dual_write(
    sessions: sessionmaker[Session],
    mode: ModeSource,
    http_port: int,
    grpc_port: int,
    *,
    registry: CollectorRegistry | None = None,
) -> DualWrite:
    return DualWrite(
        sessions,
        MAPPINGS,
        mode,
        lambda: connect(target(http_port, grpc_port), None, timeout=5),
        NAMESPACE,
        registry=registry or CollectorRegistry(),
        drain_settings=DrainSettings(base_delay=0.05, max_delay=0.5, idle_interval=0.05),
    )


def main(argv: list[str]) -> None:
    path, http_port, grpc_port, count = Path(argv[0]), int(argv[1]), int(argv[2]), int(argv[3])
    sessions = open_database(path)
    mode = ModeSource(fixed="dual_write", registry=CollectorRegistry())
    dual = dual_write(sessions, mode, http_port, grpc_port).start(drain=False)
    for number in range(count):
        with sessions.begin() as session:
            session.add(Note(title=f"note {number}", body="from the writer", stars=number % 5))
    print("committed", flush=True)
    time.sleep(600)
    dual.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
