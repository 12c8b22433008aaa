"""Reads migrated objects back from Weaviate: the uuid-ordered cursor and lookups by id.

Objects come back with their properties, reference uuids and vector, turned into the same
MigrationObject the mapping builds from a row, so both sides hash the same way.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID

from weaviate.classes.query import Filter, QueryReference

from datamigration_operator.migration.mapping import (
    CollectionPlan,
    MigrationObject,
    object_from_weaviate,
)
from datamigration_operator.migration.sink.grpc_results import ResultDecoder, id_bytes, page_request

# Weaviate serves at most QUERY_MAXIMUM_RESULTS (10,000) objects per page.
MAX_PAGE = 10_000
PREFETCH = 2
T = TypeVar("T")


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
        """Pages of every object of the collection in uuid order (the cursor API), the next
        one fetched while the caller works on this one (see _prefetched)."""
        return _prefetched(self.pages(plan))

    def hashes(self, plan: CollectionPlan) -> Iterator[list[tuple[bytes, bytes]]]:
        """(id bytes, content hash) of every object in uuid order, page by page: what
        validation compares, without building the objects (ResultDecoder.hashes). The
        next page is fetched while this one is hashed."""
        decoder = ResultDecoder(plan)
        for reply in _prefetched(self._replies(plan)):
            yield decoder.hashes(reply)

    def pages(self, plan: CollectionPlan) -> Iterator[list[MigrationObject]]:
        """Pages in uuid order, fetched in the caller's thread: the cursor through the client's
        connection, decoded by grpc_results (see there)."""
        decoder = ResultDecoder(plan)
        for reply in self._replies(plan):
            yield decoder.decode_reply(reply)

    def _replies(self, plan: CollectionPlan) -> Iterator[Any]:
        if not self.client.collections.exists(plan.collection):
            return  # nothing copied yet: every row is missing, which the diff reports
        connection = self.client._connection
        after: UUID | None = None
        while True:
            reply = connection.grpc_search(page_request(plan, self.page_size, after))
            if not reply.results:
                return
            yield reply
            if len(reply.results) < self.page_size:
                return
            after = UUID(bytes=id_bytes(reply.results[-1].metadata))

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

    def holding_references(
        self, plan: CollectionPlan, reference: str, uuids: Sequence[UUID], *, more_than: int = 0
    ) -> set[UUID]:
        """Of these objects, those storing more than `more_than` references in property
        `reference`, dangling ones included: reads resolve references and leave a dangling
        one out, but the reference count filter counts what is stored (on the real server
        too)."""
        stored = Filter.by_ref_count(reference).greater_than(more_than)
        return self._ids(plan.collection, uuids, stored)

    def holding_several(self, plan: CollectionPlan, reference: str) -> list[UUID]:
        """Objects storing more than one reference in property `reference` (a foreign key
        names one row, so none should), at most MAX_PAGE of them: a filtered search has no
        cursor, and Weaviate serves no more than that many results of one."""
        if not self.client.collections.exists(plan.collection):
            return []
        result = self.client.collections.get(plan.collection).query.fetch_objects(
            filters=Filter.by_ref_count(reference).greater_than(1),
            limit=MAX_PAGE,
            return_properties=[],
        )
        return [UUID(str(obj.uuid)) for obj in result.objects]

    def existing(self, collection: str, uuids: Sequence[UUID]) -> set[UUID]:
        """The ids among `uuids` of objects the collection holds."""
        return self._ids(collection, uuids, None)

    def _ids(self, name: str, uuids: Sequence[UUID], also: Any) -> set[UUID]:
        """The ids among `uuids` of objects of collection `name` matching `also`, one
        id-only request per page of ids."""
        if not uuids or not self.client.collections.exists(name):
            return set()
        collection = self.client.collections.get(name)
        found: set[UUID] = set()
        for start in range(0, len(uuids), self.page_size):
            chunk = list(uuids[start : start + self.page_size])
            by_id = Filter.by_id().contains_any(chunk)
            result = collection.query.fetch_objects(
                filters=by_id if also is None else by_id & also,
                limit=len(chunk),
                return_properties=[],
            )
            found.update(UUID(str(obj.uuid)) for obj in result.objects)
        return found

    @staticmethod
    def _convert(plan: CollectionPlan, obj: Any) -> MigrationObject:
        references: dict[str, tuple[UUID, ...]] = {}
        for name, ref in (obj.references or {}).items():
            references[name] = tuple(target.uuid for target in ref.objects)
        vector = obj.vector.get("default") if plan.vector_column is not None else None
        return object_from_weaviate(plan, obj.uuid, obj.properties, references, vector)


def _prefetched(items: Iterator[T]) -> Iterator[T]:
    """The items of `items`, produced by a thread while the caller works on the previous one
    (the server's time overlaps ours; gRPC waits release the GIL). At most PREFETCH items
    wait, so memory stays bounded."""
    ready: queue.Queue[tuple[T] | BaseException | None] = queue.Queue(PREFETCH)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put((item,), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(None)
        except BaseException as error:
            ready.put(error)

    thread = threading.Thread(target=produce, name="weaviate-cursor", daemon=True)
    thread.start()
    try:
        while True:
            got = ready.get()
            if got is None:
                return
            if isinstance(got, BaseException):
                raise got
            yield got[0]
    finally:
        stop.set()
        thread.join()
