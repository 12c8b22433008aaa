"""Read routing: the reads an app declares go to Weaviate in `weaviate_primary`, else to SQLite.

Each read takes the SQLite query the app would run anyway (a zero-argument callable). In
`weaviate_primary` the router asks Weaviate instead and converts the objects back to row dicts
through the migration plan; a Weaviate error, a read slower than the guard's deadline, or an
open breaker (read_fallback.ReadGuard) falls back to that SQLite query (counted in
`datamigration_dualwrite_read_fallbacks_total`), or propagates when fallback is off.

Rows from Weaviate hold the planned property columns, which include the key columns (the
planner keeps them as properties, `id` as `source_id`), and the foreign-key column when the read
itself names it (by reference). Weaviate stores references as object ids, from which a key
cannot be recovered: other reference columns are absent.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from datamigration_operator.api.names import fold_sql_name, owner_id
from datamigration_operator.dualwrite.read_fallback import ReadGuard, read_errors
from datamigration_operator.dualwrite.read_results import row_from_object
from datamigration_operator.migration.mapping import CollectionPlan, ReferencePlan, object_uuid

READ_MODE: Final = "weaviate_primary"
# Weaviate's QUERY_MAXIMUM_RESULTS default: one query returns at most this many objects.
MAX_RESULTS: Final = 10_000

Row = dict[str, object]
T = TypeVar("T")


class CurrentMode(Protocol):
    """What the router needs of a mode source (dualwrite.modes.ModeSource fits)."""

    def current(self) -> str: ...


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
    ) -> None:
        self.client = client
        self.migration_namespace = owner_id(namespace, name)
        self.mode = mode
        self.fallback = fallback
        self.guard = guard or ReadGuard()
        self.metrics = ReadMetrics.for_registry(registry)
        self._plans = {fold_sql_name(plan.table): plan for plan in plans}

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

        return self._route("by_id", plan, weaviate, sqlite)

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

        return self._route("by_reference", plan, weaviate, sqlite)

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

        return self._route("bm25", plan, weaviate, sqlite)

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
            "near_vector", plan, lambda: self._near(plan, vector, limit, max_distance), sqlite
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
            "near_text", plan, lambda: self._near(plan, embed(text), limit, max_distance), sqlite
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

    def _route(
        self,
        kind: str,
        plan: CollectionPlan,
        weaviate: Callable[[], T],
        sqlite: Callable[[], T],
    ) -> T:
        if self.mode.current() != READ_MODE:
            self.metrics.reads.labels(kind, plan.table, "sqlite").inc()
            return sqlite()
        try:
            result = self.guard.call(weaviate)
        except read_errors():
            if not self.fallback:
                raise
            self.metrics.fallbacks.labels(kind, plan.table).inc()
            self.metrics.reads.labels(kind, plan.table, "sqlite_fallback").inc()
            return sqlite()
        self.metrics.reads.labels(kind, plan.table, "weaviate").inc()
        return result


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


__all__ = ["MAX_RESULTS", "READ_MODE", "CurrentMode", "ReadRouter", "Row"]
