"""The few lines an app adds: `DualWrite(...)`, `.start()`, and its engine's writes are captured.

    dual = DualWrite(SessionLocal, mappings, ModeSource.from_env(), client_factory, "ns/name")
    dual.start()

With a DataMigration that discovers its tables (spec.discover), pass the same settings:
`DualWrite(..., discover=DiscoverSpec(tables="all", references="fromForeignKeys"))` (mappings
then lists only the spec's overrides), and the app captures exactly the tables the Jobs copy.

The collection plans come from the same planner as the migration Jobs', over the app's database
when it starts; since inferred types depend on the data at planning time, the drainer adopts the
types the copy recorded in the collections (plan_alignment). The object ids come from the same
namespace (`<namespace>/<name>` of the DataMigration), so the app's writes land on the objects
the copy created. Give the ReadRouter `pending=dual.pending`, so a read right after a write
sees it while the drainer has yet to send it to Weaviate (reads.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prometheus_client import REGISTRY, CollectorRegistry
from sqlalchemy.orm import sessionmaker

from datamigration_operator.api.spec import CollectionMapping, DiscoverSpec
from datamigration_operator.dualwrite.capture import TriggerCapture
from datamigration_operator.dualwrite.drainer import Drainer, DrainSettings
from datamigration_operator.dualwrite.metrics import OutboxMetrics
from datamigration_operator.dualwrite.modes import CAPTURING_MODES, ModeSource
from datamigration_operator.dualwrite.outbox import create_outbox
from datamigration_operator.dualwrite.pending_writes import PendingWrites
from datamigration_operator.dualwrite.plan_alignment import text_takes_numbers
from datamigration_operator.dualwrite.read_analysis import ReadAnalysisRecorder
from datamigration_operator.dualwrite.read_share import effective_read_percent
from datamigration_operator.migration.app_engine import SqliteSource, source_plans
from datamigration_operator.migration.mapping import CollectionPlan


def sqlite_path(engine: sa.Engine) -> Path:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        raise ValueError(f"dual-write needs a file-backed SQLite engine, not {engine.url!r}")
    return Path(database)


def collection_plans(
    engine: sa.Engine,
    mappings: Sequence[CollectionMapping],
    discover: DiscoverSpec | None = None,
) -> dict[str, CollectionPlan]:
    """The Jobs' plans (migration.source_plans) over the app's database file, with text properties
    taking numbers; the drainer aligns them with the collections' recorded types when it
    connects (plan_alignment). `discover` is the DataMigration's spec.discover: the app then
    captures the tables the Jobs discover (the same derivation over the same database)."""
    with SqliteSource(sqlite_path(engine), snapshot=False) as source:
        plans = source_plans(source, mappings, discover or DiscoverSpec())
        return {p.table: text_takes_numbers(p) for p in plans}


class DualWrite:
    def __init__(
        self,
        bind: sa.Engine | sessionmaker[Any],
        mappings: Sequence[CollectionMapping],
        mode_source: ModeSource,
        weaviate_client_factory: Callable[[], Any],
        migration_namespace: str,
        *,
        registry: CollectorRegistry = REGISTRY,
        drain_settings: DrainSettings | None = None,
        discover: DiscoverSpec | None = None,
    ) -> None:
        if isinstance(bind, sa.Engine):
            self.engine = bind
        else:
            engine = bind.kw.get("bind")
            if not isinstance(engine, sa.Engine):
                raise ValueError("the sessionmaker must be bound to an Engine (bind=engine)")
            self.engine = engine
        if not migration_namespace:
            raise ValueError("migration_namespace is required (<namespace>/<DataMigration name>)")
        self.plans = collection_plans(self.engine, mappings, discover)
        self.mode_source = mode_source
        self.metrics = OutboxMetrics.for_registry(registry)
        self.drainer = Drainer(
            self.engine,
            self.plans,
            weaviate_client_factory,
            migration_namespace=migration_namespace,
            settings=drain_settings,
            metrics=self.metrics,
        )
        self.capture = TriggerCapture(
            self.engine, self.plans, self.capturing, on_capture=self.drainer.wake
        )
        create_outbox(self.engine)
        # read-your-writes: which keys still wait in the outbox (pass it to ReadRouter)
        self.pending = PendingWrites(self.engine, migration_namespace)
        # a gradual switch's per-step counts, for the step's analysis Job (pass it to ReadRouter)
        self.read_analysis = ReadAnalysisRecorder(
            self.engine,
            lambda: effective_read_percent(mode_source.current(), mode_source.read_percent()),
        )
        self._started = False

    def capturing(self) -> bool:
        return self.mode_source.current() in CAPTURING_MODES

    def start(self, *, drain: bool = True) -> DualWrite:
        """Captures writes from now on; drains in a background thread unless `drain=False`."""
        if not self._started:
            self.capture.attach()
            self.mode_source.start()
            if drain:
                self.drainer.start()
            self.read_analysis.start()
            self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self.capture.detach()
            self.drainer.stop()
            self.read_analysis.stop()
            self.mode_source.stop()
            self._started = False

    def outbox_stats(self) -> tuple[int, float]:
        """(entries waiting, age of the oldest in seconds)."""
        return self.drainer.stats()

    def __enter__(self) -> DualWrite:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
