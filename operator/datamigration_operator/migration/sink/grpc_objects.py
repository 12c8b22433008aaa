"""MigrationObject -> the BatchObject protobuf weaviate-client's insert_many sends, built directly.

insert_many turns each object into a DataObject, a _BatchObject and then a protobuf with one
Struct.update per property: ~30 us of Python per object, more than reading and mapping the row.
Knowing each property's type from the plan, one Struct.update per object and the vector's
float32 bytes as they are give the same message (a unit test compares it with the client's own
translation, so a client upgrade that changes the encoding fails the tests) at a fraction of the
cost. Only the message building is ours: sending goes through the client's connection.

`encode_framed` goes one step further for the common object (scalar text, number and boolean
properties, single-target references, a float32 vector): it writes the message's wire bytes
directly, framed as one `objects` entry of a BatchObjectsRequest, which upb then parses in C.
Anything else falls back to `encode`; a property test holds both equal.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, Final

from google.protobuf.struct_pb2 import Struct
from weaviate.proto.v1 import base_pb2, batch_pb2

from datamigration_operator.migration.mapping import CollectionPlan, MigrationObject
from datamigration_operator.migration.mapping.values import to_weaviate_payload
from datamigration_operator.migration.sink.protowire import length_delimited, length_prefix

_ARRAYS = {"text[]", "int[]", "number[]"}
_double = struct.Struct("<d").pack
# tags (field number << 3 | wire type) of the fields written by hand
_OBJECTS: Final = b"\x0a"  # BatchObjectsRequest.objects = 1, LEN
_UUID: Final = b"\x0a"  # BatchObject.uuid = 1, LEN
_PROPERTIES: Final = b"\x1a"  # BatchObject.properties = 3, LEN
_COLLECTION: Final = b"\x22"  # BatchObject.collection = 4, LEN
_VECTOR_BYTES: Final = b"\x32"  # BatchObject.vector_bytes = 6, LEN
_NON_REF: Final = b"\x0a"  # Properties.non_ref_properties = 1, LEN
_SINGLE_REFS: Final = b"\x12"  # Properties.single_target_ref_props = 2, LEN
_REF_UUIDS: Final = b"\x0a"  # SingleTargetRefProps.uuids = 1, LEN
_REF_NAME: Final = b"\x12"  # SingleTargetRefProps.prop_name = 2, LEN
_FIELDS: Final = b"\x0a"  # Struct.fields = 1 (map entries), LEN
_MAP_KEY: Final = b"\x0a"  # map entry key = 1, LEN
_MAP_VALUE: Final = b"\x12"  # map entry value = 2, LEN
_NUMBER: Final = b"\x11"  # Value.number_value = 2, I64
_STRING: Final = b"\x1a"  # Value.string_value = 3, LEN
_BOOL: Final = b"\x20"  # Value.bool_value = 4, VARINT


def _scalar_value(value: object) -> bytes | None:
    """A google.protobuf.Value as Struct.update writes it (every number a double), or None
    for values the fast path leaves to the protobuf classes."""
    if isinstance(value, str) and type(value) is str:
        try:
            text = value.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: the protobuf classes decide
            return None
        return _STRING + length_prefix(len(text)) + text
    if type(value) is bool:
        return _BOOL + (b"\x01" if value else b"\x00")
    if type(value) is float or (type(value) is int and -(2**53) <= value <= 2**53):
        return _NUMBER + _double(float(value))
    return None


class ObjectEncoder:
    """Encodes the objects of one plan."""

    def __init__(self, plan: CollectionPlan) -> None:
        self.collection = plan.collection
        self._arrays = {p.name: p.data_type for p in plan.properties if p.data_type in _ARRAYS}
        self._keys: dict[str, bytes] = {}
        self._collection = length_delimited(_COLLECTION, plan.collection.encode("utf-8"))

    def encode(self, obj: MigrationObject) -> batch_pb2.BatchObject:
        scalars: dict[str, Any] = {}
        texts: list[base_pb2.TextArrayProperties] = []
        ints: list[base_pb2.IntArrayProperties] = []
        numbers: list[base_pb2.NumberArrayProperties] = []
        booleans: list[base_pb2.BooleanArrayProperties] = []
        empty: list[str] = []
        arrays = self._arrays
        for name, value in obj.properties.items():
            if name not in arrays and not isinstance(value, list | tuple):
                scalars[name] = to_weaviate_payload(value)
                continue
            items: list[Any] = list(value) if isinstance(value, list | tuple) else [value]
            if not items:
                empty.append(name)
            elif isinstance(items[0], bool):
                booleans.append(base_pb2.BooleanArrayProperties(prop_name=name, values=items))
            elif isinstance(items[0], str):
                texts.append(base_pb2.TextArrayProperties(prop_name=name, values=items))
            elif isinstance(items[0], int):
                ints.append(base_pb2.IntArrayProperties(prop_name=name, values=items))
            else:
                packed = struct.pack(f"<{len(items)}d", *items)
                numbers.append(base_pb2.NumberArrayProperties(prop_name=name, values_bytes=packed))
        non_ref = Struct()
        if scalars:
            non_ref.update(scalars)
        references = [
            batch_pb2.BatchObject.SingleTargetRefProps(
                uuids=[str(target) for target in targets], prop_name=name
            )
            for name, targets in obj.references.items()
            if targets
        ]
        properties = batch_pb2.BatchObject.Properties(
            non_ref_properties=non_ref,
            single_target_ref_props=references,
            text_array_properties=texts,
            number_array_properties=numbers,
            int_array_properties=ints,
            boolean_array_properties=booleans,
            empty_list_props=empty,
        )
        return batch_pb2.BatchObject(
            collection=self.collection,
            uuid=str(obj.uuid),
            properties=properties,
            vector_bytes=obj.vector,
        )

    def encode_all(self, objects: Sequence[MigrationObject]) -> list[batch_pb2.BatchObject]:
        return [self.encode(obj) for obj in objects]

    def encode_framed(self, obj: MigrationObject) -> bytes:
        """encode(obj) serialized as one `objects` entry of a BatchObjectsRequest."""
        body = self._wire(obj)
        if body is None:
            body = self.encode(obj).SerializeToString()
        return _OBJECTS + length_prefix(len(body)) + body

    def _wire(self, obj: MigrationObject) -> bytes | None:
        keys = self._keys
        entries = []
        for name, value in obj.properties.items():
            if name in self._arrays:
                return None
            encoded = _scalar_value(value)
            if encoded is None:
                return None
            key = keys.get(name)
            if key is None:
                key = keys[name] = length_delimited(_MAP_KEY, name.encode("utf-8"))
            entry = key + _MAP_VALUE + length_prefix(len(encoded)) + encoded
            entries.append(_FIELDS + length_prefix(len(entry)) + entry)
        # encode() always sets non_ref_properties and properties, even when empty
        properties = length_delimited(_NON_REF, b"".join(entries))
        for name, targets in obj.references.items():
            if targets:
                ids = b"".join([_REF_UUIDS + b"\x24" + str(t).encode() for t in targets])
                properties += length_delimited(
                    _SINGLE_REFS, ids + length_delimited(_REF_NAME, name.encode())
                )
        out = _UUID + b"\x24" + str(obj.uuid).encode() + length_delimited(_PROPERTIES, properties)
        out += self._collection
        if obj.vector:
            out += length_delimited(_VECTOR_BYTES, obj.vector)
        return out
