"""The engine as the app-side dual-write library sees it: the one module it may import besides
the pure mapping (an import-linter contract), so what the app depends on stays small and named.

The Weaviate sink is imported only when a drainer first connects: the app's start-up, and so a
rollout (a rollback's included), does not wait for weaviate-client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from datamigration_operator.migration.mapping import CollectionPlan
from datamigration_operator.migration.sink.settings import SinkSettings
from datamigration_operator.migration.source.app_outbox import LEASE_TABLE, OUTBOX_TABLE
from datamigration_operator.migration.source.app_read_analysis import (
    LATENCY_BUCKETS_MS,
    READ_ANALYSIS_TABLE,
    latency_bucket,
)
from datamigration_operator.migration.source.collection_plans import source_plans
from datamigration_operator.migration.source.row_lookup import RowLookup
from datamigration_operator.migration.source.sqlite_source import SqliteSource

if TYPE_CHECKING:
    from collections.abc import Collection, Hashable

    from datamigration_operator.migration.mapping import MigrationObject
    from datamigration_operator.migration.sink.deferred_references import (
        ResolvedWrite,
    )
    from datamigration_operator.migration.sink.deferred_references import (
        Unresolved as Unresolved,
    )
    from datamigration_operator.migration.sink.weaviate_sink import FailedObject as FailedObject
    from datamigration_operator.migration.sink.weaviate_sink import WeaviateSink as WeaviateSink

__all__ = [
    "LATENCY_BUCKETS_MS",
    "LEASE_TABLE",
    "OUTBOX_TABLE",
    "READ_ANALYSIS_TABLE",
    "RowLookup",
    "SinkSettings",
    "SqliteSource",
    "latency_bucket",
    "open_sink",
    "source_plans",
    "write_resolving",
]


def open_sink(
    client: Any, plans: Sequence[CollectionPlan], settings: SinkSettings, *, owner: str
) -> WeaviateSink:
    """A sink writing through `client` (a connected WeaviateClient) into the plans'
    collections, created first where missing and claimed by `owner` (the migration's id
    namespace; one another migration claimed is refused)."""
    from datamigration_operator.migration.sink.weaviate_sink import (
        WeaviateSink,
        ensure_collections,
    )

    ensure_collections(client, list(plans), owner=owner)
    return WeaviateSink(client, settings)


def write_resolving(
    sink: WeaviateSink,
    plan: CollectionPlan,
    objects: Sequence[MigrationObject],
    keys: Sequence[Hashable],
    deferred: Collection[str],
) -> ResolvedWrite:
    """sink.deferred_references.write_resolving (imported here: it needs weaviate-client)."""
    from datamigration_operator.migration.sink.deferred_references import write_resolving as write

    return write(sink, plan, objects, keys, deferred)
