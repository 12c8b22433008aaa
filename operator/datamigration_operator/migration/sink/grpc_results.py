"""The Search request of a cursor page and its reply, decoded straight into MigrationObjects.

weaviate-client's fetch_objects turns every result into an Object with per-field HasField
chains, metadata, dataclasses and a float list for the vector: ~50 us per object, more than the
rest of validation. Knowing the plan, we ask for exactly its properties, references (ids only)
and vector, and read each Value by its set field. The Python values handed to
object_from_weaviate are those the client would produce (a unit test compares the two for every
data type), so both paths normalise and hash the same. Sending goes through the client's
connection (its auth headers, timeouts and UNAVAILABLE retries).
"""

from __future__ import annotations

import contextlib
import struct
import uuid as uuid_module
from collections.abc import Callable
from hashlib import blake2b
from typing import Any, Final
from uuid import UUID, SafeUUID

from weaviate.proto.v1 import base_pb2, search_get_pb2
from weaviate.util import _datetime_from_weaviate_str

from datamigration_operator.migration.mapping import (
    CollectionPlan,
    MigrationObject,
    object_from_weaviate,
)
from datamigration_operator.migration.mapping.canonical import encode_present
from datamigration_operator.migration.mapping.values import converter_from_weaviate

_SINGLE_FP32: Final = base_pb2.Vectors.VECTOR_TYPE_SINGLE_FP32


def _list_value(value: Any) -> object:
    kind = value.WhichOneof("kind")
    if kind == "text_values":
        return list(value.text_values.values)
    if kind == "int_values":
        raw = value.int_values.values
        return list(struct.unpack(f"<{len(raw) // 8}q", raw))
    if kind == "number_values":
        raw = value.number_values.values
        return list(struct.unpack(f"<{len(raw) // 8}d", raw))
    if kind == "bool_values":
        return list(value.bool_values.values)
    if kind == "date_values":
        return [_datetime_from_weaviate_str(v) for v in value.date_values.values]
    if kind == "uuid_values":
        return [uuid_module.UUID(v) for v in value.uuid_values.values]
    if kind == "object_values":
        return [_properties(v) for v in value.object_values.values]
    return None


def _properties(message: Any) -> dict[str, object]:
    return {name: _value(value) for name, value in message.fields.items()}


# Value oneof field -> the Python value weaviate-client makes of it.
_VALUES: Final[dict[str, Callable[[Any], object]]] = {
    "text_value": lambda v: v.text_value,
    "int_value": lambda v: v.int_value,
    "number_value": lambda v: v.number_value,
    "bool_value": lambda v: v.bool_value,
    "date_value": lambda v: _datetime_from_weaviate_str(v.date_value),
    "uuid_value": lambda v: uuid_module.UUID(v.uuid_value),
    "blob_value": lambda v: v.blob_value,
    "list_value": lambda v: _list_value(v.list_value),
    "object_value": lambda v: _properties(v.object_value),
    "null_value": lambda v: None,
}


def _value(value: Any) -> object:
    kind = value.WhichOneof("kind")
    read = _VALUES.get(kind) if kind is not None else None
    return None if read is None else read(value)


def page_request(plan: CollectionPlan, limit: int, after: UUID | None) -> Any:
    """The SearchRequest of one cursor page: the plan's properties, reference ids and vector."""
    metadata = search_get_pb2.MetadataRequest(uuid=True, vector=plan.vector_column is not None)
    references = [
        search_get_pb2.RefPropertiesRequest(
            reference_property=ref.name,
            properties=search_get_pb2.PropertiesRequest(),
            metadata=search_get_pb2.MetadataRequest(uuid=True),
        )
        for ref in plan.references
    ]
    properties = search_get_pb2.PropertiesRequest(
        non_ref_properties=[prop.name for prop in plan.properties],
        ref_properties=references,
        return_all_nonref_properties=False,
    )
    return search_get_pb2.SearchRequest(
        collection=plan.collection,
        limit=limit,
        after="" if after is None else str(after),
        metadata=metadata,
        properties=properties,
        uses_123_api=True,
        uses_125_api=True,
        uses_127_api=True,
    )


def _uuid(metadata: Any) -> UUID:
    raw = metadata.id_as_bytes
    if len(raw) != 16:
        return UUID(metadata.id)
    # UUID(bytes=...) validates what 16 bytes always are; this is the client's own shortcut
    uuid = object.__new__(UUID)
    object.__setattr__(uuid, "int", int.from_bytes(raw))
    object.__setattr__(uuid, "is_safe", SafeUUID.unknown)
    return uuid


def _vector(metadata: Any) -> bytes | None:
    if metadata.vector_bytes:
        return bytes(metadata.vector_bytes)
    for named in metadata.vectors:
        if named.name == "default" and named.type in (_SINGLE_FP32, 0):
            return bytes(named.vector_bytes)
    if len(metadata.vector):
        return struct.pack(f"<{len(metadata.vector)}f", *metadata.vector)
    return None


# plan data type -> the Value field whose Python value object_from_weaviate keeps as it is
_AS_IS: Final = {"text": "text_value", "int": "int_value", "boolean": "bool_value"}


def id_bytes(metadata: Any) -> bytes:
    raw: bytes = metadata.id_as_bytes
    return raw if len(raw) == 16 else UUID(metadata.id).bytes


class ResultDecoder:
    """Decodes the SearchResults of one plan's page requests."""

    def __init__(self, plan: CollectionPlan) -> None:
        self.plan = plan
        self._names = tuple(prop.name for prop in plan.properties)
        self._with_vector = plan.vector_column is not None
        # in name order, as canonical.encode_present wants them
        self._readers = tuple(
            sorted(
                (prop.name, _AS_IS.get(prop.data_type), converter_from_weaviate(prop.data_type))
                for prop in plan.properties
            )
        )
        self._reference_names = frozenset(ref.name for ref in plan.references)

    def hashes(self, reply: search_get_pb2.SearchReply) -> list[tuple[bytes, bytes]]:
        """(id, content hash) of every result: the hash of decode_reply's objects, computed
        from the protobuf values without building them (validation's hot path: every
        attribute read of a protobuf message costs, so each is read once)."""
        readers = self._readers
        reference_names = self._reference_names
        with_vector = self._with_vector
        encode = encode_present
        out = []
        for result in reply.results:
            result_properties = result.properties
            fields = result_properties.non_ref_props.fields
            properties: dict[str, object] = {}
            for name, as_is, convert in readers:
                if name not in fields:
                    continue
                message = fields[name]
                kind = message.WhichOneof("kind")
                if kind == as_is:
                    properties[name] = getattr(message, kind)
                    continue
                value = _value(message)
                if value is None:
                    continue
                with contextlib.suppress(ValueError):
                    value = convert(value)
                if value is not None:
                    properties[name] = value
            references: dict[str, list[bytes]] | None = None
            for ref in result_properties.ref_props:
                name = ref.prop_name
                if name in reference_names:
                    if references is None:
                        references = {}
                    references[name] = [id_bytes(t.metadata) for t in ref.properties]
            metadata = result.metadata
            raw_id = metadata.id_as_bytes
            vector = (_vector(metadata) or None) if with_vector else None
            content = blake2b(encode(properties, references, vector), digest_size=16).digest()
            out.append((raw_id if len(raw_id) == 16 else UUID(metadata.id).bytes, content))
        return out

    def decode(self, result: Any) -> MigrationObject:
        properties: dict[str, object] = {}
        fields = result.properties.non_ref_props.fields
        for name in self._names:
            if name in fields:
                properties[name] = _value(fields[name])
        references: dict[str, tuple[UUID, ...]] = {}
        for ref in result.properties.ref_props:
            references[ref.prop_name] = tuple([_uuid(target.metadata) for target in ref.properties])
        metadata = result.metadata
        obj = object_from_weaviate(self.plan, _uuid(metadata), properties, references, None)
        if self._with_vector:
            # float32 bytes as sent: what unpacking to floats and packing again would give
            vector = _vector(metadata)
            if vector:
                return MigrationObject(obj.uuid, obj.properties, obj.references, vector)
        return obj

    def decode_reply(self, reply: search_get_pb2.SearchReply) -> list[MigrationObject]:
        return [self.decode(result) for result in reply.results]
