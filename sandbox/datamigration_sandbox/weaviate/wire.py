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

from datamigration_operator.migration.sink.protowire import (
    LENGTHS,
    TWO_BYTE_LIMIT,
    length_delimited,
    length_prefix,
    varint,
)
from datamigration_sandbox.weaviate.grpc_codec import uuid_bytes, value_fields

__all__ = ["LENGTHS", "TWO_BYTE_LIMIT", "length_delimited", "length_prefix", "varint"]

# wire types
VARINT: Final = 0
_I64: Final = 1
LEN: Final = 2
_I32: Final = 5
_double = struct.Struct("<d").pack
_float = struct.Struct("<f").pack


def tag(field: int, wire_type: int) -> bytes:
    return varint((field << 3) | wire_type)


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
class Layout:
    """What an EncodedObject.named holds. `names`: every non-reference property of the schema
    when the object was written, in schema order (the tuple is shared: see value_names);
    `order`: the indexes in `names` of those the object has, in its properties' order."""

    names: tuple[str, ...]
    order: tuple[int, ...]


class EncodedObject:
    """What a stored object contributes to every Search result, encoded once when written:
    `Properties.fields` entries of its non-reference properties and the id fields (id,
    id_as_bytes) of its MetadataResult.

    `named` is the entry of every name of `layout.names` in that order, a null_value one for
    a property the object lacks: what a request naming exactly those properties (as
    validation does) gets, as one bytes object. `entries` (by name, in the object's properties
    order, absent ones left out) is split from it when another shape asks, and kept."""

    __slots__ = ("_entries", "id_fields", "layout", "named")

    def __init__(self, named: bytes, layout: Layout, id_fields: bytes) -> None:
        self.named = named
        self.layout = layout
        self.id_fields = id_fields
        self._entries: dict[str, bytes] | None = None

    @property
    def entries(self) -> dict[str, bytes]:
        entries = self._entries
        if entries is None:
            parts = _split_entries(self.named)
            names = self.layout.names
            entries = self._entries = {names[i]: parts[i] for i in self.layout.order}
        return entries


def _split_entries(data: bytes) -> list[bytes]:
    """The `Properties.fields` entries written one after another in `data`."""
    parts = []
    position = 0
    while position < len(data):
        start = position
        position += 1  # the _FIELDS tag
        size = shift = 0
        while True:
            byte = data[position]
            position += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        position += size
        parts.append(data[start:position])
    return parts


# Interned tuples, so that a request's names are recognised by identity; bounded, as an
# uninterned tuple only misses the fast path.
_INTERN_LIMIT: Final = 100_000
_names: dict[tuple[str, ...], tuple[str, ...]] = {}
_layouts: dict[tuple[tuple[str, ...], tuple[int, ...]], Layout] = {}
_positions: dict[tuple[str, ...], tuple[dict[str, int], list[bytes]]] = {}


def value_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """The shared tuple equal to `names`."""
    found = _names.get(names)
    if found is None:
        if len(_names) >= _INTERN_LIMIT:
            return names
        found = _names[names] = names
    return found


def _layout(names: tuple[str, ...], order: tuple[int, ...]) -> Layout:
    key = (names, order)
    found = _layouts.get(key)
    if found is None:
        found = Layout(names, order)
        if len(_layouts) < _INTERN_LIMIT:
            _layouts[key] = found
    return found


def _positions_of(names: tuple[str, ...]) -> tuple[dict[str, int], list[bytes]]:
    """Each name's index and the null_value entries of all of them."""
    found = _positions.get(names)
    if found is None:
        found = (
            {name: index for index, name in enumerate(names)},
            [map_entry(name, _NULL) for name in names],
        )
        if len(_positions) < _INTERN_LIMIT:
            _positions[names] = found
    return found


def encode_object(
    uuid: str,
    properties: dict[str, Any],
    schema: dict[str, dict[str, Any]],
    names: tuple[str, ...] | None = None,
) -> EncodedObject:
    """Every batch-written object goes through here, so text (most values) is inlined.
    `names`: the schema's non-reference properties in order (value_names), when known."""
    if names is None:
        names = value_names(
            tuple(name for name, prop in schema.items() if not prop["dataType"][0][:1].isupper())
        )
    positions, nulls = _positions_of(names)
    parts = list(nulls)
    order = []
    keys = _keys
    for name, value in properties.items():
        index = positions.get(name)
        if index is None:
            continue  # a reference, or not in the schema
        prop = schema[name]
        if prop["dataType"][0] == "text" and type(value) is str:
            key = keys.get(name)
            if key is None:
                key = keys[name] = string_field(_MAP_KEY, name)
            text = value.encode("utf-8", "surrogatepass")
            inner = _TEXT + length_prefix(len(text)) + text
            entry = key + _MAP_VALUE + length_prefix(len(inner)) + inner
            parts[index] = _FIELDS + length_prefix(len(entry)) + entry
        else:
            parts[index] = map_entry(name, value_bytes(value, prop))
        order.append(index)
    return EncodedObject(b"".join(parts), _layout(names, tuple(order)), id_fields(uuid))


def id_fields(uuid: str) -> bytes:
    return length_delimited(_ID, uuid.encode()) + length_delimited(_ID_AS_BYTES, uuid_bytes(uuid))
