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

Read-your-writes (pending_writes): a write reaches Weaviate through the outbox, a drain
later. A read that would be answered from Weaviate is answered from SQLite instead when a write
it could observe is still waiting there (counted as source `sqlite_pending`): by id, a waiting
entry for that key; by reference, a waiting row that now holds the value, or a waiting key
among the objects Weaviate listed (a row deleted or moved away); a search, any waiting entry
of its table (a new row might match; the search itself cannot run on SQLite to tell). A
shadow read whose stores disagree on a read with a waiting write counts as `pending`, not as
a mismatch: that is lag, and the router answers such reads from SQLite anyway.

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
from uuid import UUID

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from datamigration_operator.api.names import fold_sql_name, owner_id
from datamigration_operator.dualwrite.pending_writes import NOTHING, Pending, PendingWrites
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
# what a read asks of Weaviate: its answer and the ids of the objects in it
Answer = tuple[T, Sequence[UUID]]


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
            "Declared reads by kind and the store that answered: weaviate, sqlite (the mode or "
            "share routed it there), sqlite_fallback (Weaviate failed), sqlite_pending (a write "
            "the read could observe was still waiting in the outbox)",
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
            "Shadow reads by result: agree, mismatch, pending (they differ on a read with a "
            "write still waiting in the outbox: lag), error (the shadow read failed), "
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
    `recorder` (optional) keeps the counts for the step's analysis. `pending` (the app's
    `DualWrite.pending`) gives read-your-writes; without it a read right after a write may
    miss it until the drainer has sent it.
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
        pending: PendingWrites | None = None,
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
        self.pending = pending
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

        uuid = object_uuid(self.migration_namespace, plan.table, key_tuple)

        def weaviate() -> Answer[Row | None]:
            found = self._collection(plan).query.fetch_object_by_id(uuid, include_vector=False)
            if found is None:
                return None, ()
            row = row_from_object(plan, found.uuid, found.properties)
            row.update(zip(plan.key_columns, key_tuple, strict=True))
            return row, (found.uuid,)

        return self._route(
            "by_id",
            plan,
            weaviate,
            sqlite,
            repr(key_tuple),
            comparable=True,
            waiting=lambda pending: pending.holds(uuid),
        )

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

        def weaviate() -> Answer[list[Row]]:
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
            return rows, [o.uuid for o in result.objects]

        def waiting(pending: Pending) -> bool:
            assert self.pending is not None  # only asked with pending writes tracked
            return self.pending.listed_by(plan, column, value, pending)

        identity = f"{column}={value!r}/{order_by}/{limit}"
        return self._route(
            "by_reference", plan, weaviate, sqlite, identity, comparable=True, waiting=waiting
        )

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

        def weaviate() -> Answer[list[Row]]:
            from weaviate.classes.query import MetadataQuery

            result = self._collection(plan).query.bm25(
                query=query,
                query_properties=properties,
                limit=limit,
                return_metadata=MetadataQuery(score=True),
            )
            rows = [
                row_from_object(plan, o.uuid, o.properties) | {"_score": o.metadata.score}
                for o in result.objects
            ]
            return rows, [o.uuid for o in result.objects]

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
    ) -> Answer[list[Row]]:
        from weaviate.classes.query import MetadataQuery

        result = self._collection(plan).query.near_vector(
            near_vector=list(vector),
            limit=limit,
            distance=max_distance,
            return_metadata=MetadataQuery(distance=True),
        )
        rows = [
            row_from_object(plan, o.uuid, o.properties) | {"_distance": o.metadata.distance}
            for o in result.objects
        ]
        return rows, [o.uuid for o in result.objects]

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
        weaviate: Callable[[], Answer[T]],
        sqlite: Callable[[], T],
        identity: str,
        *,
        comparable: bool = False,
        waiting: Callable[[Pending], bool] = lambda pending: pending.anything,
    ) -> T:
        """`waiting` says whether a write still in the outbox could change this read's answer
        (asked only when the table has one); a waiting key among the objects Weaviate returned
        always could."""
        share = self.read_percent()
        if share == 0:
            self.metrics.reads.labels(kind, plan.table, "sqlite").inc()
            return sqlite()
        shadow = self._rng.random() * 100 < self.shadow_percent
        if share < 100 and not answers_from_weaviate(f"{kind}\0{plan.table}\0{identity}", share):
            self.metrics.reads.labels(kind, plan.table, "sqlite").inc()
            result = sqlite()
            if shadow:

                def both() -> tuple[T, Sequence[UUID], T]:
                    answer, uuids = self._timed(weaviate)
                    return answer, uuids, result

                self._shadow(kind, plan, both, comparable, weaviate, sqlite, waiting)
            return result
        pending = self._pending(plan)
        if pending.anything and waiting(pending):
            self.metrics.reads.labels(kind, plan.table, "sqlite_pending").inc()
            return sqlite()
        try:
            answer, uuids = self._timed(weaviate)
        except read_errors():
            if not self.fallback:
                raise
            self.metrics.fallbacks.labels(kind, plan.table).inc()
            self.metrics.reads.labels(kind, plan.table, "sqlite_fallback").inc()
            return sqlite()
        if pending.holds_any(uuids):  # Weaviate lists a row as it was before a waiting write
            self.metrics.reads.labels(kind, plan.table, "sqlite_pending").inc()
            return sqlite()
        self.metrics.reads.labels(kind, plan.table, "weaviate").inc()
        if shadow:
            self._shadow(
                kind,
                plan,
                lambda: (answer, uuids, sqlite()),
                comparable,
                weaviate,
                sqlite,
                waiting,
            )
        return answer

    def _pending(self, plan: CollectionPlan) -> Pending:
        return NOTHING if self.pending is None else self.pending.of(plan)

    def _timed(self, weaviate: Callable[[], Answer[T]]) -> Answer[T]:
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
        both: Callable[[], tuple[Any, Sequence[UUID], Any]],
        comparable: bool,
        weaviate: Callable[[], Answer[Any]],
        sqlite: Callable[[], Any],
        waiting: Callable[[Pending], bool],
    ) -> None:
        """Queues `both` (Weaviate's answer and its object ids, SQLite's answer) on the shadow
        worker. A difference on a read with a write still waiting in the outbox is lag
        (`pending`); any other gets a second look with both stores read again after
        `recheck_delay`: a write committed between the two reads, and drained since, is in
        flight, not a mismatch."""

        def again() -> tuple[Any, Sequence[UUID], Any]:
            answer, uuids = self._timed(weaviate)
            return answer, uuids, sqlite()

        def compare(read_both: Callable[[], tuple[Any, Sequence[UUID], Any]], second: bool) -> None:
            try:
                from_weaviate, uuids, from_sqlite = read_both()
            except read_errors():
                self.metrics.shadow.labels(kind, plan.table, "error").inc()
                return
            if not comparable:
                self.metrics.shadow.labels(kind, plan.table, "timed").inc()
                return
            agreed = reads_agree(plan, from_weaviate, from_sqlite, self.migration_namespace)
            if not agreed:
                pending = self._pending(plan)
                if pending.holds_any(uuids) or (pending.anything and waiting(pending)):
                    self.metrics.shadow.labels(kind, plan.table, "pending").inc()
                    return
                if not second:
                    self.shadows.submit_later(self.recheck_delay, lambda: compare(again, True))
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
