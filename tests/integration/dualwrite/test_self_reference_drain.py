"""The drainer against a Weaviate that refuses a reference to an object it does not hold yet:
a batch whose rows point at rows of their own table later in the batch, or that closes a cycle
of two tables, lands whole in one drain; a reference to an object Weaviate never got keeps its
entries in the outbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from datamigration_operator.dualwrite.drainer import DrainError
from datamigration_operator.dualwrite.integration import DualWrite
from datamigration_operator.dualwrite.modes import ModeSource
from datamigration_operator.migration.mapping import object_uuid
from tests.integration.dualwrite.conftest import RunningWeaviate, fast_dual_write
from tests.integration.migration.self_referencing_db import self_referencing_collections

NAMESPACE = "apps/org"


class Base(DeclarativeBase):
    pass


class Employee(Base):
    __tablename__ = "employees"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    manager_id: Mapped[int | None] = mapped_column(sa.ForeignKey("employees.id"))
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("teams.id"))


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.Text)
    lead_id: Mapped[int | None] = mapped_column(sa.ForeignKey("employees.id"))


def _open(path: Path) -> sessionmaker[Session]:
    engine = sa.create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    return sessionmaker(bind=engine)


def _dual(sessions: sessionmaker[Session], weaviate: RunningWeaviate) -> DualWrite:
    mode = ModeSource(fixed="dual_write", registry=CollectorRegistry())
    dual = fast_dual_write(sessions, self_referencing_collections(), mode, weaviate, NAMESPACE)
    return dual.start(drain=False)


def _manager_beacons(weaviate: RunningWeaviate, key: int) -> list[str]:
    stored: dict[str, Any] = weaviate.server.database.get("Employee").objects[
        str(object_uuid(NAMESPACE, "employees", (key,)))
    ]
    return [v["beacon"].rsplit("/", 1)[-1] for v in stored["properties"].get("manager_id", [])]


def test_chains_and_cycles_inside_one_batch_land_whole_in_one_drain(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    sessions = _open(tmp_path / "org.db")
    dual = _dual(sessions, weaviate)
    try:
        with sessions.begin() as session:
            # SQLite checks no foreign key here: rows point forward to rows added after them
            session.add_all(Employee(id=n, name=f"e{n}", manager_id=n + 1) for n in range(1, 30))
            session.add(Employee(id=30, name="top", manager_id=1, team_id=1))  # closes a loop
            session.add(Team(id=1, title="t", lead_id=30))  # a cycle across the two tables
        assert dual.drainer.drain_once() == 31
        assert dual.outbox_stats() == (0, 0.0)
    finally:
        dual.stop()
    assert _manager_beacons(weaviate, 1) == [str(object_uuid(NAMESPACE, "employees", (2,)))]
    assert _manager_beacons(weaviate, 30) == [str(object_uuid(NAMESPACE, "employees", (1,)))]
    team = weaviate.server.database.get("Team").objects[str(object_uuid(NAMESPACE, "teams", (1,)))]
    assert team["properties"]["lead_id"][0]["beacon"].endswith(
        str(object_uuid(NAMESPACE, "employees", (30,)))
    )


def test_a_reference_to_an_object_weaviate_never_got_keeps_the_entries(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    sessions = _open(tmp_path / "org.db")
    with sessions.begin() as session:  # before dual-write: the sync's to repair, not the outbox's
        session.add(Employee(id=1, name="boss"))
    dual = _dual(sessions, weaviate)
    try:
        with sessions.begin() as session:
            session.add(Employee(id=2, name="e2", manager_id=1))
        with pytest.raises(DrainError, match="no object with id"):
            dual.drainer.drain_once()
        assert dual.outbox_stats()[0] == 1
        assert _manager_beacons(weaviate, 2) == []  # its row's data is there already
        with sessions.begin() as session:  # the boss gets to Weaviate (here: an update of it)
            session.execute(sa.update(Employee).where(Employee.id == 1).values(name="the boss"))
        assert dual.drainer.drain_once() == 2
    finally:
        dual.stop()
    assert _manager_beacons(weaviate, 2) == [str(object_uuid(NAMESPACE, "employees", (1,)))]
