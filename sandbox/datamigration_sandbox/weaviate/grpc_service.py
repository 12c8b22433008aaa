"""The gRPC API weaviate-client v4 uses: BatchObjects, BatchReferences, Search, BatchDelete,
Aggregate, TenantsGet, and the health check.

Every call first waits `faults.latency_ms` and checks the API key; BatchObjects and Search may
then abort with UNAVAILABLE while `faults.unavailable_bursts` lasts (the client retries those).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid as uuid_module
from collections.abc import Callable, Iterable
from typing import Any, Final, NoReturn

import grpc
from weaviate.proto.v1 import (
    aggregate_pb2,
    base_pb2,
    batch_delete_pb2,
    batch_pb2,
    health_weaviate_pb2,
    search_get_pb2,
    tenants_pb2,
    weaviate_pb2_grpc,
)

from datamigration_sandbox.weaviate import wire
from datamigration_sandbox.weaviate.api_errors import WeaviateError
from datamigration_sandbox.weaviate.database import (
    Collection,
    Database,
    beacon,
    now_ms,
    parse_beacon,
)
from datamigration_sandbox.weaviate.faults import Faults
from datamigration_sandbox.weaviate.filters import Predicate, compile_filter
from datamigration_sandbox.weaviate.grpc_codec import (
    decode_properties,
    decode_vectors,
    uuid_bytes,
)
from datamigration_sandbox.weaviate.property_values import PropertyValueError
from datamigration_sandbox.weaviate.search import Hit, ranked

# Weaviate's QUERY_DEFAULTS_LIMIT and QUERY_MAXIMUM_RESULTS defaults.
DEFAULT_LIMIT = 10
MAXIMUM_RESULTS = 10_000
# the form str(UUID(...)) gives; any other spelling is parsed (and refused when invalid)
_CANONICAL_UUID: Final = re.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_UNSUPPORTED_SEARCH = (
    "hybrid_search",
    "near_object",
    "near_text",
    "near_image",
    "near_audio",
    "near_video",
    "near_depth",
    "near_thermal",
    "near_imu",
    "group_by",
    "generative",
    "rerank",
)
_GRPC_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    422: grpc.StatusCode.INVALID_ARGUMENT,
}


class WeaviateService(weaviate_pb2_grpc.WeaviateServicer):
    def __init__(self, database: Database, faults: Faults, api_key: str | None) -> None:
        self.database = database
        self.faults = faults
        self.api_key = api_key

    async def _enter(self, context: Any, *, may_be_unavailable: bool = False) -> None:
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        if self.api_key is not None:
            metadata = dict(context.invocation_metadata() or ())
            if metadata.get("authorization") != f"Bearer {self.api_key}":
                await context.abort(
                    grpc.StatusCode.UNAUTHENTICATED,
                    "unauthenticated: a valid API key is required (authorization: Bearer <key>)",
                )
        if may_be_unavailable and self.faults.take_unavailable():
            await context.abort(grpc.StatusCode.UNAVAILABLE, "sandbox: injected unavailability")

    async def _fail(self, context: Any, error: WeaviateError) -> NoReturn:
        await context.abort(_GRPC_CODES.get(error.status, grpc.StatusCode.UNKNOWN), error.message)
        raise AssertionError("context.abort returns only by raising")

    # ---- writes -------------------------------------------------------------------------

    async def BatchObjects(self, request: Any, context: Any) -> Any:  # noqa: N802
        await self._enter(context, may_be_unavailable=True)
        started = time.perf_counter()
        objects = request.objects
        failures = self.faults.failures([obj.uuid for obj in objects])
        stamp = now_ms()
        errors = []
        BatchError = batch_pb2.BatchObjectsReply.BatchError  # noqa: N806 - the protobuf class
        # as Weaviate does: every object is validated (its references' targets must exist)
        # before any of the batch is stored, so a reference to an object of the same batch fails
        valid: list[tuple[Collection, dict[str, Any]]] = []
        for index, obj in enumerate(objects):
            message = failures.get(index)
            if message is None:
                try:
                    valid.append(self._validated(obj, stamp))
                except WeaviateError as error:
                    message = error.message
                except (PropertyValueError, ValueError) as error:
                    message = str(error)
            if message is not None:
                errors.append(BatchError(index=index, error=message))
        for collection, record in valid:
            collection.put(record)
        self.database.stats.objects_written += len(objects) - len(errors)
        self.database.stats.failed_objects += len(errors)
        return batch_pb2.BatchObjectsReply(took=time.perf_counter() - started, errors=errors)

    def _reference_targets_exist(
        self, collection: Collection, name: str, beacons: list[dict[str, str]]
    ) -> None:
        for value in beacons:
            target_class, target = parse_beacon(value["beacon"])
            found = self.database.find(target_class or "")
            if found is None or target not in found.objects:
                raise ValueError(
                    f"invalid cref: 'cref' {collection.name}:{name}: "
                    f"no object with id {target} found"
                )

    def _validated(self, obj: Any, stamp: int) -> tuple[Collection, dict[str, Any]]:
        if not obj.uuid:
            raise ValueError("uuid is required for every object")
        uuid = obj.uuid
        if _CANONICAL_UUID.fullmatch(uuid) is None:  # what weaviate-client sends passes as is
            uuid = str(uuid_module.UUID(uuid))
        collection = self.database.find(obj.collection)
        if collection is None:
            raise ValueError(f"could not find class {obj.collection} in schema")
        _check_tenant(collection, obj.tenant)
        # each attribute read of a protobuf message costs: read the properties once
        batch_properties = obj.properties if obj.HasField("properties") else None
        values = {} if batch_properties is None else decode_properties(batch_properties)
        properties = collection.check_properties(
            values, auto_schema=self.database.auto_schema, known_classes=self.database.collections
        )
        if batch_properties is not None:
            for ref in batch_properties.single_target_ref_props:
                name = ref.prop_name
                target = _single_target(collection, name)
                properties[name] = [beacon(target, u.lower()) for u in ref.uuids]
                self._reference_targets_exist(collection, name, properties[name])
            for ref in batch_properties.multi_target_ref_props:
                _reference_property(collection, ref.prop_name, ref.target_collection)
                properties[ref.prop_name] = [
                    beacon(ref.target_collection, u.lower()) for u in ref.uuids
                ]
                self._reference_targets_exist(collection, ref.prop_name, properties[ref.prop_name])
        vector, vectors = decode_vectors(obj)
        record = {
            "id": uuid,
            "class": collection.name,
            "properties": properties,
            "vector": vector,
            "vectors": vectors,
            "creationTimeUnix": stamp,
            "lastUpdateTimeUnix": stamp,
        }
        return collection, record

    async def BatchReferences(self, request: Any, context: Any) -> Any:  # noqa: N802
        await self._enter(context)
        started = time.perf_counter()
        errors = []
        for index, ref in enumerate(request.references):
            try:
                self._add_reference(ref)
            except (WeaviateError, ValueError) as error:
                message = error.message if isinstance(error, WeaviateError) else str(error)
                errors.append(batch_pb2.BatchReferencesReply.BatchError(index=index, error=message))
        return batch_pb2.BatchReferencesReply(took=time.perf_counter() - started, errors=errors)

    def _add_reference(self, ref: Any) -> None:
        collection = self.database.get(ref.from_collection)
        source = collection.objects.get(ref.from_uuid.lower())
        if source is None:
            raise WeaviateError(404, f"source object {ref.from_uuid} not found")
        target = ref.to_collection or _single_target(collection, ref.name)
        _reference_property(collection, ref.name, target)
        source["properties"].setdefault(ref.name, []).append(beacon(target, ref.to_uuid.lower()))
        source["lastUpdateTimeUnix"] = now_ms()

    async def BatchDelete(self, request: Any, context: Any) -> Any:  # noqa: N802
        await self._enter(context)
        started = time.perf_counter()
        try:
            collection = self.database.get(request.collection)
            _check_tenant(collection, request.tenant)
            if not request.HasField("filters"):
                raise WeaviateError(422, "batch delete needs a filter")
            matches = _matching(
                collection, compile_filter(request.filters, collection, self.database)
            )
        except WeaviateError as error:
            await self._fail(context, error)
        # real Weaviate deletes at most QUERY_MAXIMUM_RESULTS objects per call
        matched_ids = [obj["id"] for obj in _take(matches, MAXIMUM_RESULTS)]
        if not request.dry_run:
            for uuid in matched_ids:
                collection.delete(uuid)
        objects = (
            [
                batch_delete_pb2.BatchDeleteObject(uuid=uuid_bytes(uuid), successful=True)
                for uuid in matched_ids
            ]
            if request.verbose
            else []
        )
        return batch_delete_pb2.BatchDeleteReply(
            took=time.perf_counter() - started,
            matches=len(matched_ids),
            successful=0 if request.dry_run else len(matched_ids),
            failed=0,
            objects=objects,
        )

    # ---- reads --------------------------------------------------------------------------

    async def Search(self, request: Any, context: Any) -> Any:  # noqa: N802
        """Replies as serialized bytes (see server.py's serializer and wire.py)."""
        await self._enter(context, may_be_unavailable=True)
        started = time.perf_counter()
        self.database.stats.search_calls += 1
        try:
            results = self._search(request)
        except WeaviateError as error:
            await self._fail(context, error)
        took = wire.float_field(1, time.perf_counter() - started)
        return took + b"".join(results)

    def _search(self, request: Any) -> list[bytes]:
        """The reply's results, each a framed SearchReply.results member."""
        for field in _UNSUPPORTED_SEARCH:
            if request.HasField(field):
                raise WeaviateError(400, f"the sandbox Weaviate does not support {field}")
        collection = self.database.get(request.collection)
        _check_tenant(collection, request.tenant)
        limit = request.limit or DEFAULT_LIMIT
        if request.offset + limit > MAXIMUM_RESULTS:
            raise WeaviateError(
                422, f"query maximum results exceeded: offset + limit > {MAXIMUM_RESULTS}"
            )
        has_filters = request.HasField("filters")
        if request.HasField("bm25_search") or request.HasField("near_vector"):
            return self._ranked_search(request, collection, limit)
        if request.after:
            if has_filters or request.offset or len(request.sort_by):
                raise WeaviateError(
                    422, "other params cannot be set with after and limit parameters"
                )
            page = collection.page(request.after.lower(), limit)
        else:
            found: Iterable[dict[str, Any]]
            if has_filters:
                # filtered results come back in insertion (doc id) order, as from the inverted
                # index
                predicate = compile_filter(request.filters, collection, self.database)
                found = _matching(collection, predicate)
            else:
                # an unfiltered list walks the objects bucket, which is keyed by uuid
                found = collection.sorted_objects()
            if len(request.sort_by):
                found = _sorted(list(found), request.sort_by, collection)
            page = list(_take(found, request.offset + limit))[request.offset :]
        properties = request.properties if request.HasField("properties") else None
        metadata = request.metadata if request.HasField("metadata") else None
        shape = _Shape(self, collection, properties)
        return shape.encode_page(page, metadata)

    def _ranked_search(self, request: Any, collection: Collection, limit: int) -> list[bytes]:
        if request.after or len(request.sort_by):
            raise WeaviateError(422, "after and sort cannot be combined with bm25 or near_vector")
        candidates: Iterable[dict[str, Any]] = collection.objects.values()
        if request.HasField("filters"):
            candidates = _matching(
                collection, compile_filter(request.filters, collection, self.database)
            )
        hits = ranked(request, collection.schema, candidates, collection.objects.values()) or []
        page = hits[request.offset : request.offset + limit]
        properties = request.properties if request.HasField("properties") else None
        metadata = request.metadata if request.HasField("metadata") else None
        shape = _Shape(self, collection, properties)
        return [
            _framed_result(
                shape.encode(hit.obj),
                _metadata_bytes(hit.obj, metadata) + _ranked_metadata(hit, metadata),
            )
            for hit in page
        ]

    async def Aggregate(self, request: Any, context: Any) -> Any:  # noqa: N802
        await self._enter(context)
        started = time.perf_counter()
        try:
            collection = self.database.get(request.collection)
            _check_tenant(collection, request.tenant)
            if len(request.aggregations) or request.HasField("group_by"):
                raise WeaviateError(
                    400, "the sandbox Weaviate aggregates only the total count (objects_count)"
                )
            if request.HasField("filters"):
                predicate = compile_filter(request.filters, collection, self.database)
                count = sum(1 for _ in _matching(collection, predicate))
            else:
                count = len(collection.objects)
        except WeaviateError as error:
            await self._fail(context, error)
        return aggregate_pb2.AggregateReply(
            took=time.perf_counter() - started,
            single_result=aggregate_pb2.AggregateReply.Single(objects_count=count),
        )

    async def TenantsGet(self, request: Any, context: Any) -> Any:  # noqa: N802
        await self._enter(context)
        try:
            collection = self.database.get(request.collection)
            if not collection.multi_tenant:
                raise WeaviateError(
                    422, f"multi-tenancy is not enabled for class {collection.name!r}"
                )
        except WeaviateError as error:
            await self._fail(context, error)
        return tenants_pb2.TenantsGetReply(took=0.0, tenants=[])


def _check_tenant(collection: Collection, tenant: str) -> None:
    if tenant and not collection.multi_tenant:
        raise WeaviateError(
            422,
            f"class {collection.name} has multi-tenancy disabled, but request was with tenant",
        )
    if collection.multi_tenant:
        raise WeaviateError(422, "the sandbox Weaviate does not support multi-tenant classes")


def _reference_property(collection: Collection, name: str, target: str) -> None:
    prop = collection.property(name)
    if prop is None:
        raise ValueError(f"no such prop with name '{name}' found in class '{collection.name}'")
    if prop["dataType"][0][:1].islower():
        raise ValueError(f"property '{name}' of class '{collection.name}' is not a reference")
    if target not in prop["dataType"]:
        raise ValueError(
            f"target class {target} is not allowed for reference property '{name}' "
            f"of class '{collection.name}'"
        )


def _single_target(collection: Collection, name: str) -> str:
    prop = collection.property(name)
    if prop is None:
        raise ValueError(f"no such prop with name '{name}' found in class '{collection.name}'")
    targets: list[str] = prop["dataType"]
    if targets[0][:1].islower():
        raise ValueError(f"property '{name}' of class '{collection.name}' is not a reference")
    if len(targets) != 1:
        raise ValueError(f"property '{name}' has several target classes: name the target")
    return targets[0]


def _matching(collection: Collection, predicate: Predicate) -> Iterable[dict[str, Any]]:
    return [obj for obj in collection.objects.values() if predicate(obj)]


def _take(items: Iterable[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    taken: list[dict[str, Any]] = []
    if count <= 0:
        return taken
    for item in items:
        taken.append(item)
        if len(taken) >= count:
            break
    return taken


def _sorted(objects: list[dict[str, Any]], sort_by: Any, collection: Collection) -> list[Any]:
    # stable sorts applied last key first give a multi-key ordering
    for spec in reversed(list(sort_by)):
        path = list(spec.path)
        if len(path) != 1:
            raise WeaviateError(422, f"sorting by {path} is not supported")
        name = path[0]
        key = _sort_key(name, collection)
        present = [obj for obj in objects if key(obj) is not None]
        missing = [obj for obj in objects if key(obj) is None]
        present.sort(key=key, reverse=not spec.ascending)
        # Weaviate puts objects without the property first when ascending
        objects = missing + present if spec.ascending else present + missing
    return objects


def _sort_key(name: str, collection: Collection) -> Callable[[dict[str, Any]], Any]:
    if name == "_id":
        return lambda obj: obj["id"]
    if name in ("_creationTimeUnix", "_lastUpdateTimeUnix"):
        field = name[1:]
        return lambda obj: obj[field]
    if collection.property(name) is None:
        raise WeaviateError(422, f"no such prop with name '{name}' found in class")
    return lambda obj: obj["properties"].get(name)


_REPLY_RESULT: Final = wire.tag(2, wire.LEN)
# Database.reference_members is cleared past this many beacons
_REMEMBERED_MEMBERS: Final = 1_000_000
_RESULT_PROPERTIES: Final = wire.tag(1, wire.LEN)
_RESULT_METADATA: Final = wire.tag(2, wire.LEN)
# PropertiesResult
_REF_PROPS: Final = wire.tag(2, wire.LEN)
_TARGET_COLLECTION: Final = wire.tag(3, wire.LEN)
_REF_METADATA: Final = wire.tag(4, wire.LEN)
_NON_REF_PROPS: Final = wire.tag(11, wire.LEN)
_REF_PROPS_REQUESTED: Final = wire.tag(12, wire.VARINT) + b"\x01"
# RefPropertiesResult
_REF_TARGET: Final = wire.tag(1, wire.LEN)
_REF_NAME: Final = wire.tag(2, wire.LEN)
# MetadataResult
_ID: Final = wire.tag(1, wire.LEN)
_CREATED: Final = wire.tag(3, wire.VARINT)
_CREATED_PRESENT: Final = wire.tag(4, wire.VARINT) + b"\x01"
_UPDATED: Final = wire.tag(5, wire.VARINT)
_UPDATED_PRESENT: Final = wire.tag(6, wire.VARINT) + b"\x01"
_DISTANCE_PRESENT: Final = wire.tag(8, wire.VARINT) + b"\x01"
_CERTAINTY_PRESENT: Final = wire.tag(10, wire.VARINT) + b"\x01"
_SCORE_PRESENT: Final = wire.tag(12, wire.VARINT) + b"\x01"
_VECTOR_BYTES: Final = wire.tag(19, wire.LEN)
_ID_AS_BYTES: Final = wire.tag(20, wire.LEN)
_VECTORS: Final = wire.tag(23, wire.LEN)


def _framed_result(properties: bytes, metadata: bytes) -> bytes:
    """A SearchReply.results member (tag, length, SearchResult) of these two parts."""
    return wire.length_delimited(
        _REPLY_RESULT,
        wire.length_delimited(_RESULT_PROPERTIES, properties)
        + wire.length_delimited(_RESULT_METADATA, metadata),
    )


def _reference_member(collection_name: str, id_fields: bytes) -> bytes:
    """A RefPropertiesResult.properties member for an object of `collection_name` asked for
    with no properties and only its id (_Shape.encode's bare shape with id-only metadata)."""
    bare = wire.length_delimited(_NON_REF_PROPS, b"") + wire.string_field(
        _TARGET_COLLECTION, collection_name
    )
    return wire.length_delimited(
        _REF_TARGET, bare + wire.length_delimited(_REF_METADATA, id_fields)
    )


def _no_member(beacon: str) -> bytes:
    raise AssertionError("encode_page follows no reference here")


def _bare_target(request: Any) -> bool:
    """Whether a reference's targets are asked for with no properties and at most their id,
    so each one encodes to its _reference_member."""
    if not request.HasField("properties"):
        return False  # no properties request: every non-reference property comes back
    properties = request.properties
    if (
        properties.return_all_nonref_properties
        or len(properties.non_ref_properties)
        or len(properties.object_properties)
        or len(properties.ref_properties)
    ):
        return False
    if not request.HasField("metadata"):
        return True
    metadata = request.metadata
    return not (
        metadata.creation_time_unix
        or metadata.last_update_time_unix
        or metadata.vector
        or len(metadata.vectors)
    )


class _Shape:
    """The PropertiesResult a properties request asks for, resolved once per request and
    written as bytes for each object (references recurse into their target's shape)."""

    def __init__(self, service: WeaviateService, collection: Collection, request: Any) -> None:
        self.service = service
        self.collection = collection
        self.request = request
        if request is None or request.return_all_nonref_properties:
            self.names: tuple[str, ...] | None = None  # every stored property but blobs
        else:
            self.names = tuple(request.non_ref_properties)
        self.target = wire.string_field(_TARGET_COLLECTION, collection.name)
        self.nested = tuple(request.object_properties) if request is not None else ()
        self.references = tuple(request.ref_properties) if request is not None else ()
        self._targets: dict[tuple[int, str], _Shape] = {}
        self._encoded_targets: dict[tuple[int, str], bytes] = {}
        # the same bytes for every object when nothing of the object is asked for
        self._bare: bytes | None = None
        if self.names == () and not self.nested and not self.references:
            self._bare = wire.length_delimited(_NON_REF_PROPS, b"") + self.target
        self._named = [
            (name, wire.map_entry(name, wire.value_bytes(None, {})))
            for name in self.names or ()
            if self._wanted(name) is not None
        ]
        # weaviate-server answers "every property" with each value property of the schema,
        # null where the object has none (blobs only when asked for by name)
        self._every = [
            (prop["name"], wire.map_entry(prop["name"], wire.value_bytes(None, {})))
            for prop in collection.schema["properties"]
            if prop["dataType"][0][:1].islower() and prop["dataType"] != ["blob"]
        ]
        for ref_request in self.references:
            name = ref_request.reference_property
            prop = collection.property(name)
            if prop is None or prop["dataType"][0][:1].islower():
                raise WeaviateError(
                    422, f"'{name}' is not a reference property of {collection.name}"
                )

    def _wanted(self, name: str) -> dict[str, Any] | None:
        prop = self.collection.property(name)
        if prop is None or prop["dataType"][0][:1].isupper():
            return None
        if prop["dataType"][0] == "blob" and self.names is None:
            return None
        return prop

    def encode(self, obj: dict[str, Any], metadata: bytes | None = None) -> bytes:
        if self._bare is not None:  # no properties asked for: a referenced object's id, say
            if metadata is None:
                return self._bare
            return self._bare + wire.length_delimited(_REF_METADATA, metadata)
        stored = obj["properties"]
        encoded: dict[str, bytes] = obj["encoded"].entries
        if self.names is None:  # every value property, null where the object has none
            entries = [encoded.get(name, null) for name, null in self._every]
        else:  # a requested property the object lacks comes back as null_value
            entries = [encoded.get(name, null) for name, null in self._named]
        for nested in self.nested:
            prop = self.collection.property(nested.prop_name)
            if prop is not None and stored.get(nested.prop_name) is not None:
                value = _select_nested(stored[nested.prop_name], nested)
                entries.append(wire.map_entry(nested.prop_name, wire.value_bytes(value, prop)))
        parts = [wire.length_delimited(_NON_REF_PROPS, b"".join(entries)), self.target]
        for ref_request in self.references:
            parts.append(wire.length_delimited(_REF_PROPS, self._reference(obj, ref_request)))
        if self.references:
            parts.append(_REF_PROPS_REQUESTED)
        if metadata is not None:
            parts.append(wire.length_delimited(_REF_METADATA, metadata))
        return b"".join(parts)

    def encode_page(self, page: list[dict[str, Any]], metadata: Any) -> list[bytes]:
        """Each object's framed SearchReply.results member, as
        `_framed_result(self.encode(obj), _metadata_bytes(obj, metadata))` writes it, through a
        fast path for the shapes validation's cursor pages ask for (named properties, at most
        one reference, to bare targets, ids and vectors): most of a page's time is here, so it
        is one loop with no call per object but the dict and bytes builtins."""
        fast = self._fast_plan()
        plain = metadata is None or not (
            metadata.creation_time_unix or metadata.last_update_time_unix
        )
        if fast is None or not plain:
            return [_framed_result(self.encode(o), _metadata_bytes(o, metadata)) for o in page]
        names, nulls, every_value, reference = fast
        want_vector = metadata is not None and bool(metadata.vector)
        # named vectors (rare) go through _metadata_bytes
        named_vectors = metadata is not None and (want_vector or len(metadata.vectors) > 0)
        if reference is None:
            ref_name = ""
            ref_head = name_field = b""
            find_member: Callable[[str], bytes | None] = _no_member
            resolve: Callable[[str], bytes] = _no_member
        else:
            ref_name, name_field, find_member, resolve = reference
            ref_head = _REF_PROPS
        lengths = wire.LENGTHS
        limit = wire.TWO_BYTE_LIMIT
        varint = wire.varint
        join = b"".join
        head = _NON_REF_PROPS
        target = self.target
        requested = _REF_PROPS_REQUESTED if reference is not None else b""
        # the PropertiesResult's bytes but the values, the reference's body and their lengths
        fixed = len(head) + len(target) + len(ref_head) + len(requested)
        results: list[bytes] = []
        append = results.append
        for obj in page:
            encoded = obj["encoded"]
            if encoded.layout.names is every_value:
                values = encoded.named
            else:
                values = join(map(encoded.entries.get, names, nulls))
            size = len(values)
            values_length = lengths[size] if size < limit else varint(size)
            if reference is None:
                body = body_length = b""
            else:
                refs = obj["properties"].get(ref_name)
                if not refs:
                    body = name_field
                elif len(refs) == 1:
                    beacon = refs[0]["beacon"]
                    body = (find_member(beacon) or resolve(beacon)) + name_field
                else:
                    members = [find_member(r["beacon"]) or resolve(r["beacon"]) for r in refs]
                    members.append(name_field)
                    body = join(members)
                size = len(body)
                body_length = lengths[size] if size < limit else varint(size)
            if named_vectors and obj["vectors"]:
                meta = _metadata_bytes(obj, metadata)
            else:
                meta = encoded.id_fields
                if want_vector:
                    vector = obj["vector"]
                    if vector is not None:
                        size = len(vector)
                        meta = join(
                            (
                                meta,
                                _VECTOR_BYTES,
                                lengths[size] if size < limit else varint(size),
                                vector,
                            )
                        )
            size = fixed + len(values_length) + len(values) + len(body_length) + len(body)
            properties_length = lengths[size] if size < limit else varint(size)
            meta_size = len(meta)
            meta_length = lengths[meta_size] if meta_size < limit else varint(meta_size)
            # the three field tags are one byte each
            result_size = 2 + len(properties_length) + size + len(meta_length) + meta_size
            append(
                join(
                    (
                        _REPLY_RESULT,
                        lengths[result_size] if result_size < limit else varint(result_size),
                        _RESULT_PROPERTIES,
                        properties_length,
                        head,
                        values_length,
                        values,
                        target,
                        ref_head,
                        body_length,
                        body,
                        requested,
                        _RESULT_METADATA,
                        meta_length,
                        meta,
                    )
                )
            )
        return results

    def _fast_plan(
        self,
    ) -> (
        tuple[
            tuple[str, ...],
            tuple[bytes, ...],
            tuple[str, ...],
            tuple[str, bytes, Callable[[str], bytes | None], Callable[[str], bytes]] | None,
        ]
        | None
    ):
        """What encode_page's fast path needs, or None when the shape is not one it writes:
        the named properties (names, their null entries, and the shared tuple that
        EncodedObject.layout.names is when they are every value property of the schema in
        order, so EncodedObject.named is their bytes) and the reference, if any (its name,
        its RefPropertiesResult name field, and its targets' remembered members by beacon
        with the function that resolves one)."""
        if self.names is None or self.nested or len(self.references) > 1:
            return None
        names = tuple(name for name, _ in self._named)
        nulls = tuple(null for _, null in self._named)
        reference = None
        if self.references:
            request = self.references[0]
            if request.target_collection or not _bare_target(request):
                return None  # remembered members are not filtered by target collection
            name = request.reference_property
            reference = (
                name,
                wire.string_field(_REF_NAME, name),
                self.service.database.reference_members.get,
                self._member_resolver(request),
            )
        return names, nulls, wire.value_names(names), reference

    def _member_resolver(self, request: Any) -> Callable[[str], bytes]:
        """The RefPropertiesResult member of a beacon's target for a reference asked for bare
        (_bare_target) and unfiltered, b"" when it is skipped; found members are remembered in
        Database.reference_members, which encode_page reads first."""
        prop = self.collection.property(request.reference_property)
        assert prop is not None  # checked in __init__
        default_class: str = prop["dataType"][0]
        find = self.service.database.find
        remembered = self.service.database.reference_members

        def resolve(beacon: str) -> bytes:
            target_class, uuid = parse_beacon(beacon)
            collection = find(target_class or default_class)
            target = None if collection is None else collection.objects.get(uuid)
            if collection is None or target is None:
                return b""  # a dangling reference is skipped, as Weaviate does
            member = _reference_member(collection.name, target["encoded"].id_fields)
            if target_class is not None:  # a classless beacon's target depends on the property
                if len(remembered) >= _REMEMBERED_MEMBERS:
                    remembered.clear()
                remembered[beacon] = member
            return member

        return resolve

    def _reference(self, obj: dict[str, Any], request: Any) -> bytes:
        name = request.reference_property
        prop = self.collection.property(name)
        assert prop is not None  # checked in __init__
        # many objects of a page point at the same target (messages -> conversation)
        cache = self._encoded_targets
        parts = []
        for ref in obj["properties"].get(name) or ():
            cache_key = (id(request), ref["beacon"])
            encoded = cache.get(cache_key)
            if encoded is None:
                encoded = cache[cache_key] = self._target(ref["beacon"], prop, request)
            parts.append(encoded)
        parts.append(wire.string_field(_REF_NAME, name))
        return b"".join(parts)

    def _target(self, beacon: str, prop: dict[str, Any], request: Any) -> bytes:
        """One referenced object as a RefPropertiesResult member; b"" when skipped."""
        target_class, uuid = parse_beacon(beacon)
        if request.target_collection and target_class != request.target_collection:
            return b""
        target_collection = self.service.database.find(target_class or prop["dataType"][0])
        target = None if target_collection is None else target_collection.objects.get(uuid)
        if target is None or target_collection is None:
            return b""  # a dangling reference is skipped, as Weaviate does
        properties = request.properties if request.HasField("properties") else None
        metadata = request.metadata if request.HasField("metadata") else None
        shape = self._target_shape(id(request), target_collection, properties)
        encoded = shape.encode(target, _metadata_bytes(target, metadata))
        return wire.length_delimited(_REF_TARGET, encoded)

    def _target_shape(self, request_id: int, collection: Collection, request: Any) -> _Shape:
        key = (request_id, collection.name)
        shape = self._targets.get(key)
        if shape is None:
            shape = self._targets[key] = _Shape(self.service, collection, request)
        return shape


def _metadata_bytes(obj: dict[str, Any], request: Any) -> bytes:
    """The MetadataResult of one object as bytes."""
    out: bytes = obj["encoded"].id_fields
    if request is None:
        return out
    if request.creation_time_unix:
        out += _CREATED + wire.varint(obj["creationTimeUnix"]) + _CREATED_PRESENT
    if request.last_update_time_unix:
        out += _UPDATED + wire.varint(obj["lastUpdateTimeUnix"]) + _UPDATED_PRESENT
    if request.vector and obj["vector"] is not None:
        out += wire.length_delimited(_VECTOR_BYTES, obj["vector"])
    if obj["vectors"]:
        wanted = set(request.vectors)
        for name, (data, multi) in obj["vectors"].items():
            if request.vector or name in wanted:
                vector_type = (
                    base_pb2.Vectors.VECTOR_TYPE_MULTI_FP32
                    if multi
                    else base_pb2.Vectors.VECTOR_TYPE_SINGLE_FP32
                )
                vector = base_pb2.Vectors(name=name, vector_bytes=data, type=vector_type)
                out += wire.length_delimited(_VECTORS, vector.SerializeToString())
    return out


def _ranked_metadata(hit: Hit, request: Any) -> bytes:
    """Score, distance and certainty fields appended to a MetadataResult (a later field of a
    serialized message adds to it). The client reads them only when *_present is set."""
    out = b""
    if hit.score is not None and (request is None or request.score):
        out += wire.float_field(11, hit.score) + _SCORE_PRESENT
    if hit.distance is not None:
        if request is None or request.distance:
            out += wire.float_field(7, hit.distance) + _DISTANCE_PRESENT
        if request is None or request.certainty:
            out += wire.float_field(9, 1 - hit.distance / 2) + _CERTAINTY_PRESENT
    return out


def _select_nested(value: Any, request: Any) -> Any:
    wanted = set(request.primitive_properties) | {o.prop_name for o in request.object_properties}
    if isinstance(value, list):
        return [{k: v for k, v in item.items() if k in wanted} for item in value]
    return {k: v for k, v in value.items() if k in wanted}


def _reply_bytes(reply: Any) -> bytes:
    """Search replies are already serialized (wire.py); other replies are messages."""
    if isinstance(reply, bytes):
        return reply
    data: bytes = reply.SerializeToString()
    return data


class _Handlers:
    """Collects the generated service's method handlers instead of registering them."""

    handlers: dict[str, Any]

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.handlers = dict(handlers)


def add_service(service: WeaviateService, server: Any) -> None:
    """Registers the Weaviate service as the generated code does, with Search's reply taken
    as bytes."""
    collected = _Handlers()
    weaviate_pb2_grpc.add_WeaviateServicer_to_server(service, collected)  # type: ignore[no-untyped-call]
    handlers = collected.handlers
    handlers["Search"] = grpc.unary_unary_rpc_method_handler(
        service.Search,
        request_deserializer=search_get_pb2.SearchRequest.FromString,
        response_serializer=_reply_bytes,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("weaviate.v1.Weaviate", handlers),)
    )
    server.add_registered_method_handlers("weaviate.v1.Weaviate", handlers)


async def health_check(request: bytes, context: Any) -> bytes:
    """`/grpc.health.v1.Health/Check` with the client's own message types."""
    health_weaviate_pb2.WeaviateHealthCheckRequest.FromString(request)
    reply = health_weaviate_pb2.WeaviateHealthCheckResponse(
        status=health_weaviate_pb2.WeaviateHealthCheckResponse.SERVING
    )
    data: bytes = reply.SerializeToString()
    return data


def health_handler() -> Any:
    handler = grpc.unary_unary_rpc_method_handler(health_check)
    return grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": handler})
