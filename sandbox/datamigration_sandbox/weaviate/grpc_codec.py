"""Protobuf <-> Python values for the gRPC API, in the encodings weaviate-client decodes.

Batch properties arrive split over a `Struct` (scalars; every number is a double) and typed
arrays; results go back as `properties_pb2.Properties` whose `Value` kind follows the property's
dataType (int arrays as packed int64, number arrays as packed float64, ids as 16 bytes).
"""

from __future__ import annotations

import struct
import uuid as uuid_module
from collections.abc import Mapping
from typing import Any

from weaviate.proto.v1 import properties_pb2

_SINGLE = 1  # base_pb2.Vectors.VECTOR_TYPE_SINGLE_FP32
_MULTI = 2  # base_pb2.Vectors.VECTOR_TYPE_MULTI_FP32


def _struct_value(value: Any) -> Any:
    """A google.protobuf.Value as a plain Python value, nested Structs and lists included
    (Struct's generic item access is several times slower; this runs for every property of
    every batch object)."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return {k: _struct_value(v) for k, v in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_struct_value(v) for v in value.list_value.values]
    if kind == "null_value":
        return None
    raise ValueError(f"Value has no kind set: {kind!r}")


def decode_properties(props: Any) -> dict[str, Any]:
    """Non-reference properties of a BatchObject.Properties or an ObjectPropertiesValue."""
    out: dict[str, Any] = {}
    fields = props.non_ref_properties.fields
    for key in fields:  # by key: the map's items() view is a slow pure-Python wrapper
        value = fields[key]
        kind = value.WhichOneof("kind")
        if kind == "string_value":  # most values: spare the call
            out[key] = value.string_value
        elif kind == "number_value":
            out[key] = value.number_value
        else:
            out[key] = _struct_value(value)
    for text_array in props.text_array_properties:
        out[text_array.prop_name] = list(text_array.values)
    for int_array in props.int_array_properties:
        out[int_array.prop_name] = list(int_array.values)
    for number_array in props.number_array_properties:
        raw = number_array.values_bytes
        out[number_array.prop_name] = (
            list(struct.unpack(f"<{len(raw) // 8}d", raw)) if raw else list(number_array.values)
        )
    for bool_array in props.boolean_array_properties:
        out[bool_array.prop_name] = list(bool_array.values)
    for nested in props.object_properties:
        out[nested.prop_name] = decode_properties(nested.value)
    for nested_array in props.object_array_properties:
        out[nested_array.prop_name] = [decode_properties(item) for item in nested_array.values]
    for name in props.empty_list_props:
        out[name] = []
    return out


def decode_vectors(obj: Any) -> tuple[bytes | None, dict[str, tuple[bytes, bool]]]:
    """(unnamed float32 vector bytes, {name: (bytes, is_multi)}) of a BatchObject."""
    single: bytes | None = None
    if obj.vector_bytes:
        single = bytes(obj.vector_bytes)
    elif len(obj.vector):
        single = struct.pack(f"<{len(obj.vector)}f", *obj.vector)
    named = {
        vector.name: (bytes(vector.vector_bytes), vector.type == _MULTI) for vector in obj.vectors
    }
    return single, named


def uuid_bytes(uuid: str) -> bytes:
    if len(uuid) == 36:  # the canonical form every stored id has: skip UUID's parsing
        return bytes.fromhex(uuid.replace("-", ""))
    return uuid_module.UUID(uuid).bytes


def encode_value(value: Any, prop: Mapping[str, Any]) -> Any:
    """A `properties_pb2.Value` for one stored value of `prop`."""
    return properties_pb2.Value(**value_fields(value, prop))


def value_fields(value: Any, prop: Mapping[str, Any]) -> dict[str, Any]:
    """encode_value's Value as the dict its constructor takes: building results from dicts
    is ~2.5x faster with upb than one Value(...) call per property, and equal."""
    if value is None:
        return {"null_value": 0}
    kind: str = prop["dataType"][0]
    field = _SCALAR_FIELDS.get(kind)
    if field is not None:
        return {field: value}
    if kind == "geoCoordinates":
        return {
            "geo_value": properties_pb2.GeoCoordinate(
                latitude=value.get("latitude", 0.0), longitude=value.get("longitude", 0.0)
            )
        }
    if kind == "phoneNumber":
        return {"phone_value": _phone(value)}
    if kind == "object":
        return {"object_value": encode_nested(value, prop["nestedProperties"])}
    return {"list_value": _encode_list(kind, value, prop)}


_SCALAR_FIELDS = {
    "text": "text_value",
    "int": "int_value",
    "number": "number_value",
    "boolean": "bool_value",
    "date": "date_value",
    "uuid": "uuid_value",
    "blob": "blob_value",
}


def _phone(value: Mapping[str, Any]) -> Any:
    return properties_pb2.PhoneNumber(
        country_code=int(value.get("countryCode", 0)),
        default_country=str(value.get("defaultCountry", "")),
        input=str(value.get("input", "")),
        international_formatted=str(value.get("internationalFormatted", "")),
        national=int(value.get("national", 0)),
        national_formatted=str(value.get("nationalFormatted", "")),
        valid=bool(value.get("valid", False)),
    )


def _encode_list(kind: str, values: list[Any], prop: Mapping[str, Any]) -> Any:
    pb = properties_pb2
    if kind == "text[]":
        return pb.ListValue(text_values=pb.TextValues(values=values))
    if kind == "int[]":
        return pb.ListValue(
            int_values=pb.IntValues(values=struct.pack(f"<{len(values)}q", *values))
        )
    if kind == "number[]":
        packed = struct.pack(f"<{len(values)}d", *values)
        return pb.ListValue(number_values=pb.NumberValues(values=packed))
    if kind == "boolean[]":
        return pb.ListValue(bool_values=pb.BoolValues(values=values))
    if kind == "date[]":
        return pb.ListValue(date_values=pb.DateValues(values=values))
    if kind == "uuid[]":
        return pb.ListValue(uuid_values=pb.UuidValues(values=values))
    if kind == "object[]":
        nested = [encode_nested(item, prop["nestedProperties"]) for item in values]
        return pb.ListValue(object_values=pb.ObjectValues(values=nested))
    raise ValueError(f"cannot encode dataType {kind}")


def encode_nested(value: Mapping[str, Any], nested_props: list[dict[str, Any]]) -> Any:
    by_name = {prop["name"]: prop for prop in nested_props}
    fields = {
        key: encode_value(item, by_name[key]) for key, item in value.items() if key in by_name
    }
    return properties_pb2.Properties(fields=fields)
