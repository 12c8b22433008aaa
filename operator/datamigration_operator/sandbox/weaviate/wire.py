"""Protobuf wire encoding of Search results, assembled from bytes.

Building a SearchResult through upb costs one message object per field (~30 us an object);
a cursor page of 10,000 objects spent most of its time there. The common pieces (ids, scalar
property values, float32 vectors, reference ids) are written here straight in the wire format;
anything rarer (nested objects, lists, geo, phone, named vectors) goes through the protobuf
classes and is spliced in as bytes. A unit test parses what this writes and compares it with
the messages the protobuf classes build from the same values.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from weaviate.proto.v1 import properties_pb2

from datamigration_operator.sandbox.weaviate.grpc_codec import uuid_bytes, value_fields

# wire types
VARINT: Final = 0
_I64: Final = 1
LEN: Final = 2
_I32: Final = 5
_U64: Final = 2**64 - 1
_double = struct.Struct("<d").pack
_float = struct.Struct("<f").pack


def varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return bytes((value,))
    if 0 < value < 0x4000:  # two bytes: the length of most text values
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    value &= _U64  # negative int64: ten bytes of two's complement, as protobuf writes it
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def tag(field: int, wire_type: int) -> bytes:
    return varint((field << 3) | wire_type)


_SMALL_LENGTHS: Final = [bytes((n,)) for n in range(0x80)]


def length_delimited(field_tag: bytes, payload: bytes) -> bytes:
    size = len(payload)
    return field_tag + (_SMALL_LENGTHS[size] if size < 0x80 else varint(size)) + payload


def string_field(field_tag: bytes, text: str) -> bytes:
    return length_delimited(field_tag, text.encode("utf-8", "surrogatepass"))


def float_field(field: int, value: float) -> bytes:
    return tag(field, _I32) + _float(value)


# Value's oneof members (properties.proto); a set oneof member is written even when it holds
# its type's default, which is how the reader tells "" from absent.
_NUMBER: Final = tag(1, _I64)
_BOOL: Final = tag(3, VARINT)
_DATE: Final = tag(6, LEN)
_UUID: Final = tag(7, LEN)
_INT: Final = tag(8, VARINT)
_BLOB: Final = tag(10, LEN)
_NULL: Final = tag(12, VARINT) + b"\x00"
_TEXT: Final = tag(13, LEN)


def _text(value: Any) -> bytes:
    return string_field(_TEXT, value)


def _int(value: Any) -> bytes:
    return _INT + varint(int(value))


def _number(value: Any) -> bytes:
    return _NUMBER + _double(float(value))


def _bool(value: Any) -> bytes:
    return _BOOL + (b"\x01" if value else b"\x00")


def _date(value: Any) -> bytes:
    return string_field(_DATE, value)


def _uuid(value: Any) -> bytes:
    return string_field(_UUID, value)


def _blob(value: Any) -> bytes:
    return string_field(_BLOB, value)


_SCALARS: Final[dict[str, Callable[[Any], bytes]]] = {
    "text": _text,
    "int": _int,
    "number": _number,
    "boolean": _bool,
    "date": _date,
    "uuid": _uuid,
    "blob": _blob,
}


def value_bytes(value: Any, prop: dict[str, Any]) -> bytes:
    """The serialized `Value` of one stored value of `prop` (grpc_codec.encode_value's bytes)."""
    if value is None:
        return _NULL
    scalar = _SCALARS.get(prop["dataType"][0])
    if scalar is not None:
        return scalar(value)
    data: bytes = properties_pb2.Value(**value_fields(value, prop)).SerializeToString()
    return data


_MAP_KEY: Final = tag(1, LEN)
_MAP_VALUE: Final = tag(2, LEN)
_FIELDS: Final = tag(1, LEN)
_ID: Final = tag(1, LEN)
_ID_AS_BYTES: Final = tag(20, LEN)
_keys: dict[str, bytes] = {}


def map_entry(name: str, value: bytes) -> bytes:
    """One entry of `Properties.fields` (map<string, Value>)."""
    key = _keys.get(name)
    if key is None:
        key = _keys[name] = string_field(_MAP_KEY, name)
    return length_delimited(_FIELDS, key + length_delimited(_MAP_VALUE, value))


@dataclass(frozen=True, slots=True)
class EncodedObject:
    """What a stored object contributes to every Search result, encoded once when written:
    `Properties.fields` entries of its non-reference properties, by name, and the id fields
    (id, id_as_bytes) of its MetadataResult."""

    entries: dict[str, bytes]
    id_fields: bytes


def _length(size: int) -> bytes:
    if size < 0x80:
        return _SMALL_LENGTHS[size]
    if size < 0x4000:
        return bytes(((size & 0x7F) | 0x80, size >> 7))
    return varint(size)


def encode_object(
    uuid: str, properties: dict[str, Any], schema: dict[str, dict[str, Any]]
) -> EncodedObject:
    """Every batch-written object goes through here, so text (most values) is inlined."""
    entries = {}
    keys = _keys
    for name, value in properties.items():
        prop = schema.get(name)
        if prop is None:
            continue
        kind = prop["dataType"][0]
        if kind == "text" and type(value) is str:
            key = keys.get(name)
            if key is None:
                key = keys[name] = string_field(_MAP_KEY, name)
            text = value.encode("utf-8", "surrogatepass")
            inner = _TEXT + _length(len(text)) + text
            entry = key + _MAP_VALUE + _length(len(inner)) + inner
            entries[name] = _FIELDS + _length(len(entry)) + entry
        elif not kind[:1].isupper():
            entries[name] = map_entry(name, value_bytes(value, prop))
    return EncodedObject(entries, id_fields(uuid))


def id_fields(uuid: str) -> bytes:
    return length_delimited(_ID, uuid.encode()) + length_delimited(_ID_AS_BYTES, uuid_bytes(uuid))
