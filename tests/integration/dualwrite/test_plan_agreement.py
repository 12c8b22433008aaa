"""An app that planned on an empty table writes the objects the copy Job's plan describes."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from datamigration_operator.api.spec import CollectionMapping
from datamigration_operator.dualwrite.modes import ModeSource
from tests.integration.dualwrite.conftest import RunningWeaviate, fast_dual_write, wait_for
from tests.integration.dualwrite.engine_runs import engine_copy, engine_diff, run_settings

NAMESPACE = "apps/shop"
MAPPINGS = [CollectionMapping(table="items", collection="Item")]
# JSON and NUMERIC have NUMERIC affinity and "raw" none: their planned types depend on the data
SCHEMA = "CREATE TABLE items (id INTEGER PRIMARY KEY, meta JSON, price NUMERIC, raw, title TEXT)"


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    meta: Mapped[str | int] = mapped_column(sa.Text)  # JSON text, or a number
    price: Mapped[int] = mapped_column(sa.Integer)
    raw: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.Text)


def test_app_planned_on_an_empty_table_agrees_with_the_copy(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    path = tmp_path / "shop.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql(SCHEMA)
    sessions: sessionmaker[Session] = sessionmaker(bind=engine)
    mode_file = tmp_path / "migration_mode"
    mode_file.write_text("sqlite_only")
    mode = ModeSource(path=mode_file, registry=CollectorRegistry())
    # the app starts before any data: its planner sees an empty table
    dual = fast_dual_write(sessions, MAPPINGS, mode, weaviate, NAMESPACE, max_delay=0.2)
    planned = {p.name: p.data_type for p in dual.plans["items"].properties}
    assert (planned["meta"], planned["price"], planned["raw"]) == ("number", "number", "text")
    with dual:
        with sessions.begin() as session:
            session.add_all(
                [Item(id=i, meta=f'{{"n": {i}}}', price=i, raw=i, title=f"t{i}") for i in range(5)]
            )
        settings = run_settings(path, tmp_path, MAPPINGS, NAMESPACE)
        assert engine_copy(weaviate, settings).failed_count == 0  # plans from the data
        mode_file.write_text("dual_write")
        assert mode.refresh() == "dual_write"
        with sessions.begin() as session:
            # a number where the copy saw only text: NUMERIC affinity keeps it a number
            session.add(Item(id=10, meta=42, price=7, raw=8, title="new"))
            session.get(Item, 1).price = 99  # type: ignore[union-attr]
        wait_for(lambda: dual.outbox_stats()[0] == 0, timeout=20)
        assert dual.drainer.last_error is None
        # taken at the first try: the batch was built with the collections' types
        (failures,) = [
            s.value
            for s in dual.metrics.drain_failures.collect()[0].samples
            if s.name.endswith("_total")
        ]
        assert failures == 0
    recorded = weaviate.server.database.get("Item")
    assert len(recorded.objects) == 6
    validated = engine_diff(weaviate, settings, repair=False)
    assert (validated.differences, validated.samples) == (0, [])
