"""The Weaviate side of the read-performance probe: the queries the dual-write library's read
router (dualwrite/reads.py) sends in weaviate_primary, one function per read kind. Queries only:
nothing here writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from weaviate.classes.query import Filter, MetadataQuery

from datamigration_operator.migration.mapping import CollectionPlan


class WeaviateReads:
    """Read queries through one connected weaviate-client v4 client (thread-safe)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _collection(self, plan: CollectionPlan) -> Any:
        return self.client.collections.use(plan.collection)

    def by_id(self, plan: CollectionPlan, uuid: UUID) -> Any:
        """The object or None (ReadRouter.by_id)."""
        return self._collection(plan).query.fetch_object_by_id(uuid, include_vector=False)

    def by_reference(self, plan: CollectionPlan, reference: str, target: UUID, limit: int) -> Any:
        """Objects whose reference `reference` points at `target` (ReadRouter.by_reference)."""
        where = Filter.by_ref(reference).by_id().equal(target)
        return self._collection(plan).query.fetch_objects(filters=where, limit=limit).objects

    def bm25(self, plan: CollectionPlan, query: str, properties: Sequence[str], limit: int) -> Any:
        """Keyword search with scores (ReadRouter.bm25)."""
        return (
            self._collection(plan)
            .query.bm25(
                query=query,
                query_properties=list(properties) or None,
                limit=limit,
                return_metadata=MetadataQuery(score=True),
            )
            .objects
        )

    def near_vector(self, plan: CollectionPlan, vector: Sequence[float], limit: int) -> Any:
        """The nearest objects with their distances (ReadRouter.near_vector)."""
        return (
            self._collection(plan)
            .query.near_vector(
                near_vector=list(vector), limit=limit, return_metadata=MetadataQuery(distance=True)
            )
            .objects
        )
