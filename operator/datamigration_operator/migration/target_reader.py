"""Reads migrated objects back from Weaviate: the uuid-ordered cursor and lookups by id.

Objects come back with their properties, reference uuids and vector, turned into the same
MigrationObject the mapping builds from a row, so both sides hash the same way.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from weaviate.classes.query import Filter, QueryReference

from datamigration_operator.migration.grpc_results import ResultDecoder, page_request
from datamigration_operator.migration.mapping import (
    CollectionPlan,
    MigrationObject,
    object_from_weaviate,
)

# Weaviate serves at most QUERY_MAXIMUM_RESULTS (10,000) objects per page.
MAX_PAGE = 10_000
PREFETCH = 2


class TargetReader:
    def __init__(self, client: Any, page_size: int = 5_000) -> None:
        self.client = client
        self.page_size = min(page_size, MAX_PAGE)

    def _query_options(self, plan: CollectionPlan) -> dict[str, Any]:
        references = [
            QueryReference(link_on=ref.name, return_properties=[]) for ref in plan.references
        ]
        return {
            # named, so blobs come back too (an unnamed "all properties" read leaves them out)
            "return_properties": [prop.name for prop in plan.properties],
            "include_vector": plan.vector_column is not None,
            "return_references": references or None,
        }

    def scan(self, plan: CollectionPlan) -> Iterator[list[MigrationObject]]:
        """Pages of every object of the collection in uuid order (the cursor API).

        A thread fetches the next page while the caller works on this one, so the server's
        time overlaps ours; at most PREFETCH pages wait, so memory stays bounded.
        """
        pages: queue.Queue[list[MigrationObject] | BaseException | None] = queue.Queue(PREFETCH)
        stop = threading.Event()

        def produce() -> None:
            try:
                for page in self.pages(plan):
                    while not stop.is_set():
                        try:
                            pages.put(page, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                pages.put(None)
            except BaseException as error:
                pages.put(error)

        thread = threading.Thread(target=produce, name="weaviate-cursor", daemon=True)
        thread.start()
        try:
            while True:
                item = pages.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join()

    def pages(self, plan: CollectionPlan) -> Iterator[list[MigrationObject]]:
        """Pages in uuid order, fetched in the caller's thread: the cursor through the client's
        connection, decoded by grpc_results (see there)."""
        if not self.client.collections.exists(plan.collection):
            return  # nothing copied yet: every row is missing, which the diff reports
        connection = self.client._connection
        decoder = ResultDecoder(plan)
        after: UUID | None = None
        while True:
            reply = connection.grpc_search(page_request(plan, self.page_size, after))
            if not reply.results:
                return
            page = decoder.decode_reply(reply)
            yield page
            if len(page) < self.page_size:
                return
            after = page[-1].uuid

    def fetch(self, plan: CollectionPlan, uuids: Sequence[UUID]) -> dict[UUID, MigrationObject]:
        """The objects of these ids that exist."""
        if not uuids or not self.client.collections.exists(plan.collection):
            return {}
        collection = self.client.collections.get(plan.collection)
        found: dict[UUID, MigrationObject] = {}
        for start in range(0, len(uuids), self.page_size):
            chunk = list(uuids[start : start + self.page_size])
            result = collection.query.fetch_objects(
                filters=Filter.by_id().contains_any(chunk),
                limit=len(chunk),
                **self._query_options(plan),
            )
            for obj in result.objects:
                converted = self._convert(plan, obj)
                found[converted.uuid] = converted
        return found

    @staticmethod
    def _convert(plan: CollectionPlan, obj: Any) -> MigrationObject:
        references: dict[str, tuple[UUID, ...]] = {}
        for name, ref in (obj.references or {}).items():
            references[name] = tuple(target.uuid for target in ref.objects)
        vector = obj.vector.get("default") if plan.vector_column is not None else None
        return object_from_weaviate(plan, obj.uuid, obj.properties, references, vector)
