"""Read routing: the reads an app declares go to Weaviate in `weaviate_primary`, else to SQLite.

Each read takes the SQLite query the app would run anyway (a zero-argument callable). In
`weaviate_primary` the router asks Weaviate instead and converts the objects back to row dicts
through the migration plan; a Weaviate error, a read slower than the guard's deadline, or an
open breaker (read_fallback.ReadGuard) falls back to that SQLite query (counted in
`datamigration_dualwrite_read_fallbacks_total`), or propagates when fallback is off.

During a gradual switch (spec.switch.steps) the mode stays `dual_write` and the operator writes a
read share beside it: that percent of declared reads, chosen per read by a stable hash of what
it asks (read_share), is answered from Weaviate as above. A sample of reads (`shadow_percent`)
also runs against the other store on a background worker (shadow_reads: bounded, dropped and
counted when full, never on the request's path); by_id and by_reference answers are compared
through the plan (read_compare), search answers (bm25, near_*) only time Weaviate, since the
stores rank differently by design. The counts go to the app's database per window
(read_analysis) for the step's analysis Job. The `sqlite` callable of a read must therefore be
callable from another thread (open its own session, as the chat app does).

Rows from Weaviate hold the planned property columns, which include the key columns (the
planner keeps them as properties, `id` as `source_id`), and the foreign-key column when the read
itself names it (by reference). Weaviate stores references as object ids, from which a key
cannot be recovered: other reference columns are absent.
"""

from __future__ import annotations

import random
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol, TypeVar, runtime_checkable

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from datamigration_operator.api.names import fold_sql_name, owner_id
from datamigration_operator.dualwrite.read_analysis import ReadAnalysisRecorder
from datamigration_operator.dualwrite.read_compare import reads_agree
from datamigration_operator.dualwrite.read_fallback import ReadGuard, read_errors
from datamigration_operator.dualwrite.read_results import row_from_object
from datamigration_operator.dualwrite.read_share import (
    answers_from_weaviate,
    effective_read_percent,
)
from datamigration_operator.dualwrite.shadow_reads import DEFAULT_QUEUE, ShadowReads
from datamigration_operator.migration.mapping import CollectionPlan, ReferencePlan, object_uuid

READ_MODE: Final = "weaviate_primary"
# Weaviate's QUERY_MAXIMUM_RESULTS default: one query returns at most this many objects.
MAX_RESULTS: Final = 10_000

Row = dict[str, object]
T = TypeVar("T")


class CurrentMode(Protocol):
    """What the router needs of a mode source (dualwrite.modes.ModeSource fits)."""

    def current(self) -> str: ...


@runtime_checkable
class CurrentShare(Protocol):
    """Where the read share comes from (dualwrite.modes.ModeSource fits)."""

    def read_percent(self) -> int: ...


class ReadMetrics:
    """Reads by route and outcome; one set per registry (a Counter registers only once)."""

    # Keyed by the registry itself: an id() can be reused once a registry is collected.
    _by_registry: weakref.WeakKeyDictionary[CollectorRegistry, ReadMetrics] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, registry: CollectorRegistry) -> None:
        self.reads = Counter(
            "datamigration_dualwrite_reads",
            "Declared reads by kind and the store that answered",
            ["kind", "table", "source"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "datamigration_dualwrite_read_fallbacks",
            "Reads answered from SQLite because Weaviate failed",
            ["kind", "table"],
            registry=registry,
        )
        self.shadow = Counter(
            "datamigration_dualwrite_shadow_reads",
            "Shadow reads by result: agree, mismatch, error (the shadow read failed), "
            "timed (a search read timed only) or dropped (the queue was full)",
            ["kind", "table", "result"],
            registry=registry,
        )

    @classmethod
    def for_registry(cls, registry: CollectorRegistry) -> ReadMetrics:
        found = cls._by_registry.get(registry)
        if found is None:
            found = cls._by_registry[registry] = cls(registry)
        return found


class ReadRouter:
    """Routes declared reads by the current migration mode.

    `client` is a connected weaviate-client v4 WeaviateClient; `plans` are the collection plans
    the migration used (the same ones the copy Job publishes); `namespace`/`name` identify the
    DataMigration, whose `<namespace>/<name>` seeds the deterministic object ids. `guard`
    bounds how long a Weaviate read may take before the fallback (ReadGuard defaults).
    `share` gives the gradual switch's read share (by default `mode`, when it has one);
    `shadow_percent` of the reads answered while Weaviate takes reads are shadowed, and
    `recorder` (optional) keeps the counts for the step's analysis.
    """

    def __init__(
        self,
        client: Any,
        plans: Sequence[CollectionPlan],
        *,
        namespace: str,
        name: str,
        mode: CurrentMode,
        fallback: bool = True,
        guard: ReadGuard | None = None,
        registry: CollectorRegistry = REGISTRY,
        share: CurrentShare | None = None,
        shadow_percent: float = 10.0,
        recorder: ReadAnalysisRecorder | None = None,
        shadow_queue: int = DEFAULT_QUEUE,
        rng: random.Random | None = None,
        recheck_delay: float = 1.0,
    ) -> None:
        if not 0 <= shadow_percent <= 100:
            raise ValueError(f"shadow_percent must be within 0..100, got {shadow_percent}")
        self.client = client
        self.migration_namespace = owner_id(namespace, name)
        self.mode = mode
        self.fallback = fallback
        self.guard = guard or ReadGuard()
        self.metrics = ReadMetrics.for_registry(registry)
        self._plans = {fold_sql_name(plan.table): plan for plan in plans}
        self.share = (
            share if share is not None else (mode if isinstance(mode, CurrentShare) else None)
        )
        self.shadow_percent = shadow_percent
        self.recorder = recorder
        # longer than the drainer's linger and a batch: a write in flight has landed by then
        self.recheck_delay = recheck_delay
        self._rng = rng or random.Random()
        self.shadows = ShadowReads(max_queue=shadow_queue, on_drop=self._dropped)

    def plan(self, table: str) -> CollectionPlan:
        plan = self._plans.get(fold_sql_name(table))
        if plan is None:
            known = ", ".join(sorted(p.table for p in self._plans.values())) or "none"
            raise ValueError(f"table {table!r} is not migrated (planned tables: {known})")
        return plan

    # ---- the reads ----------------------------------------------------------------------

    def by_id(self, table: str, key: object, sqlite: Callable[[], Row | None]) -> Row | None:
        """The row with primary key `key` (a value, or a tuple for a composite key)."""
        plan = self.plan(table)
        key_tuple = key if isinstance(key, tuple) else (key,)
        if len(key_tuple) != len(plan.key_columns):
            raise ValueError(
                f"table {plan.table} has key ({', '.join(plan.key_columns)}); got {key!r}"
            )

        def weaviate() -> Row | None:
            uuid = object_uuid(self.migration_namespace, plan.table, key_tuple)
            found = self._collection(plan).query.fetch_object_by_id(uuid, include_vector=False)
            if found is None:
                return None
            row = row_from_object(plan, found.uuid, found.properties)
            row.update(zip(plan.key_columns, key_tuple, strict=True))
            return row

        return self._route("by_id", plan, weaviate, sqlite, repr(key_tuple), comparable=True)

    def by_reference(
        self,
        table: str,
        column: str,
        value: int | str,
        sqlite: Callable[[], list[Row]],
        *,
        order_by: str | None = None,
        limit: int = MAX_RESULTS,
    ) -> list[Row]:
        """The rows whose foreign-key `column` equals `value` (messages of a conversation).

        A planned reference is matched on the referenced object's id; a column mapped as a
        plain property is matched on its value. `order_by` names a planned property column.
        """
        plan = self.plan(table)
        _checked_limit(limit)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(
                f"{table}.{column}: a foreign-key value is an int or text, got {value!r}"
            )
        reference = _reference(plan, column)
        order = None if order_by is None else _property_name(plan, order_by)
        by = None if reference is not None else _property_name(plan, column)

        def weaviate() -> list[Row]:
            from weaviate.classes.query import Filter, Sort

            sort = None if order is None else Sort.by_property(order)
            if reference is not None:
                target = object_uuid(self.migration_namespace, reference.target_table, (value,))
                where = Filter.by_ref(reference.name).by_id().equal(target)
            else:
                assert by is not None
                where = Filter.by_property(by).equal(value)
            result = self._collection(plan).query.fetch_objects(
                filters=where, sort=sort, limit=limit
            )
            rows = [row_from_object(plan, o.uuid, o.properties) for o in result.objects]
            for row in rows:
                row[column] = value
            return rows

        identity = f"{column}={value!r}/{order_by}/{limit}"
        return self._route("by_reference", plan, weaviate, sqlite, identity, comparable=True)

    def bm25(
        self,
        table: str,
        query: str,
        sqlite: Callable[[], list[Row]],
        *,
        columns: Sequence[str] = (),
        limit: int = 10,
    ) -> list[Row]:
        """Keyword search over text columns (all searchable ones when `columns` is empty),
        best match first. Each Weaviate row carries its BM25 score under `_score`."""
        plan = self.plan(table)
        properties = [_property_name(plan, column) for column in columns] or None
        _checked_limit(limit)

        def weaviate() -> list[Row]:
            from weaviate.classes.query import MetadataQuery

            result = self._collection(plan).query.bm25(
                query=query,
                query_properties=properties,
                limit=limit,
                return_metadata=MetadataQuery(score=True),
            )
            return [
                row_from_object(plan, o.uuid, o.properties) | {"_score": o.metadata.score}
                for o in result.objects
            ]

        return self._route("bm25", plan, weaviate, sqlite, f"{query}/{columns}/{limit}")

    def near_vector(
        self,
        table: str,
        vector: Sequence[float],
        sqlite: Callable[[], list[Row]],
        *,
        limit: int = 10,
        max_distance: float | None = None,
    ) -> list[Row]:
        """The rows whose vectors are nearest `vector`, nearest first (`_distance` per row)."""
        plan = self._vector_plan(table)
        _checked_limit(limit)
        return self._route(
            "near_vector",
            plan,
            lambda: self._near(plan, vector, limit, max_distance),
            sqlite,
            f"{list(vector)!r}/{limit}/{max_distance}",
        )

    def near_text(
        self,
        table: str,
        text: str,
        embed: Callable[[str], Sequence[float]],
        sqlite: Callable[[], list[Row]],
        *,
        limit: int = 10,
        max_distance: float | None = None,
    ) -> list[Row]:
        """Semantic search: `embed` (the app's embedding model, the one that made the stored
        vectors) turns `text` into the query vector; the migrated collections carry no
        vectorizer, so Weaviate cannot embed it itself."""
        plan = self._vector_plan(table)
        _checked_limit(limit)
        return self._route(
            "near_text",
            plan,
            lambda: self._near(plan, embed(text), limit, max_distance),
            sqlite,
            f"{text}/{limit}/{max_distance}",
        )

    def _vector_plan(self, table: str) -> CollectionPlan:
        plan = self.plan(table)
        if plan.vector_column is None:
            raise ValueError(f"table {plan.table} has no vector column in the migration plan")
        return plan

    def _near(
        self,
        plan: CollectionPlan,
        vector: Sequence[float],
        limit: int,
        max_distance: float | None,
    ) -> list[Row]:
        from weaviate.classes.query import MetadataQuery

        result = self._collection(plan).query.near_vector(
            near_vector=list(vector),
            limit=limit,
            distance=max_distance,
            return_metadata=MetadataQuery(distance=True),
        )
        return [
            row_from_object(plan, o.uuid, o.properties) | {"_distance": o.metadata.distance}
            for o in result.objects
        ]

    # ---- routing ------------------------------------------------------------------------

    def _collection(self, plan: CollectionPlan) -> Any:
        return self.client.collections.use(plan.collection)

    def read_percent(self) -> int:
        """Percent of declared reads Weaviate answers now: all in weaviate_primary, the
        operator's share in dual_write, none otherwise."""
        share = 0 if self.share is None else self.share.read_percent()
        return effective_read_percent(self.mode.current(), share)

    def _route(
        self,
        kind: str,
        plan: CollectionPlan,
        weaviate: Callable[[], T],
        sqlite: Callable[[], T],
        identity: str,
        *,
        comparable: bool = False,
    ) -> T:
        share = self.read_percent()
        if share == 0:
            self.metrics.reads.labels(kind, plan.table, "sqlite").inc()
            return sqlite()
        shadow = self._rng.random() * 100 < self.shadow_percent
        if share < 100 and not answers_from_weaviate(f"{kind}\0{plan.table}\0{identity}", share):
            self.metrics.reads.labels(kind, plan.table, "sqlite").inc()
            result = sqlite()
            if shadow:
                self._shadow(
                    kind,
                    plan,
                    lambda: (self._timed(weaviate), result),
                    comparable,
                    weaviate,
                    sqlite,
                )
            return result
        try:
            answer = self._timed(weaviate)
        except read_errors():
            if not self.fallback:
                raise
            self.metrics.fallbacks.labels(kind, plan.table).inc()
            self.metrics.reads.labels(kind, plan.table, "sqlite_fallback").inc()
            return sqlite()
        self.metrics.reads.labels(kind, plan.table, "weaviate").inc()
        if shadow:
            self._shadow(kind, plan, lambda: (answer, sqlite()), comparable, weaviate, sqlite)
        return answer

    def _timed(self, weaviate: Callable[[], T]) -> T:
        """A guarded Weaviate read, its latency or failure counted for the analysis."""
        started = time.perf_counter()
        try:
            result = self.guard.call(weaviate)
        except read_errors():
            if self.recorder is not None:
                self.recorder.weaviate_read(0.0, failed=True)
            raise
        if self.recorder is not None:
            self.recorder.weaviate_read((time.perf_counter() - started) * 1000, failed=False)
        return result

    def _shadow(
        self,
        kind: str,
        plan: CollectionPlan,
        both: Callable[[], tuple[Any, Any]],
        comparable: bool,
        weaviate: Callable[[], Any],
        sqlite: Callable[[], Any],
    ) -> None:
        """Queues `both` (Weaviate's answer, SQLite's) on the shadow worker. A difference gets
        a second look with both stores read again after `recheck_delay`: a write committed to
        SQLite whose dual write is still in the outbox is in flight, not a mismatch."""

        def compare(read_both: Callable[[], tuple[Any, Any]], second_look: bool) -> None:
            try:
                from_weaviate, from_sqlite = read_both()
            except read_errors():
                self.metrics.shadow.labels(kind, plan.table, "error").inc()
                return
            if not comparable:
                self.metrics.shadow.labels(kind, plan.table, "timed").inc()
                return
            agreed = reads_agree(plan, from_weaviate, from_sqlite, self.migration_namespace)
            if not agreed and not second_look:
                self.shadows.submit_later(
                    self.recheck_delay,
                    lambda: compare(lambda: (self._timed(weaviate), sqlite()), True),
                )
                return
            result = "agree" if agreed else "mismatch"
            self.metrics.shadow.labels(kind, plan.table, result).inc()
            if self.recorder is not None:
                self.recorder.compared(agreed=agreed)

        self.shadows.submit(lambda: compare(both, False))

    def _dropped(self) -> None:
        self.metrics.shadow.labels("any", "any", "dropped").inc()
        if self.recorder is not None:
            self.recorder.dropped()

    def close(self) -> None:
        """Stops the shadow worker after the shadow reads already queued."""
        self.shadows.stop()


def _checked_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_RESULTS:
        raise ValueError(f"limit must be within 1..{MAX_RESULTS}, got {limit}")
    return limit


def _reference(plan: CollectionPlan, column: str) -> ReferencePlan | None:
    folded = fold_sql_name(column)
    return next((r for r in plan.references if fold_sql_name(r.column) == folded), None)


def _property_name(plan: CollectionPlan, column: str) -> str:
    folded = fold_sql_name(column)
    for prop in plan.properties:
        if fold_sql_name(prop.column) == folded:
            return prop.name
    raise ValueError(f"column {column!r} of table {plan.table} is not a migrated property")


__all__ = ["MAX_RESULTS", "READ_MODE", "CurrentMode", "CurrentShare", "ReadRouter", "Row"]
