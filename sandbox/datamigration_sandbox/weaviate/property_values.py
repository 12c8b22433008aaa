"""Property values checked against their dataType, and dataTypes inferred for auto-schema.

Messages follow real Weaviate's validator, e.g. "invalid integer property 'age' on class
'Person': requires an integer, the given value is 'abc'": the copy Job reports them per object.
"""

from __future__ import annotations

import math
import uuid as uuid_module
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from datamigration_sandbox.weaviate.schema import OBJECT_TYPES

Coercer = Callable[[Any], Any]


class PropertyValueError(ValueError):
    """A value that does not fit its property's dataType."""


def parse_date(text: str) -> datetime:
    """RFC 3339 with an offset (or Z), as Weaviate requires; ValueError otherwise."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"date {text!r} has no time zone offset")
    return parsed


def _is_date(value: str) -> bool:
    try:
        parse_date(value)
    except ValueError:
        return False
    return True


def _is_uuid(value: str) -> bool:
    try:
        uuid_module.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def coercer_for(prop: Mapping[str, Any], class_name: str) -> Coercer:
    """A function that checks and normalises one value of `prop` (None passes through)."""
    name: str = prop["name"]
    kind: str = prop["dataType"][0]
    where = f"property '{name}' on class '{class_name}'"
    if kind in OBJECT_TYPES:
        return _object_coercer(prop, class_name, many=kind == "object[]")
    if kind.endswith("[]"):
        scalar = _scalar_coercer(kind[:-2], where)

        def many(value: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, list):
                raise PropertyValueError(
                    f"invalid {kind} {where}: not a list, but {go_type(value)}"
                )
            return [scalar(item) for item in value]

        return many
    return _scalar_coercer(kind, where)


def go_type(value: Any) -> str:
    """The Go type weaviate-server names in its errors for a decoded JSON/protobuf value
    (every number is a float64 there)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, str):
        return "string"
    return type(value).__name__  # not a JSON value


def _scalar_coercer(kind: str, where: str) -> Coercer:
    def text(value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        raise PropertyValueError(f"invalid text {where}: not a string, but {go_type(value)}")

    def integer(value: Any) -> Any:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        raise PropertyValueError(
            f"invalid integer {where}: requires an integer, the given value is '{value}'"
        )

    def number(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise PropertyValueError(
            f"invalid number {where}: requires a float, the given value is '{value}'"
        )

    def boolean(value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        raise PropertyValueError(f"invalid boolean {where}: not a boolean, but {go_type(value)}")

    def date(value: Any) -> Any:
        if value is None or (isinstance(value, str) and _is_date(value)):
            return value
        raise PropertyValueError(
            f"invalid date {where}: requires a string with a RFC3339 formatted date, "
            f"but the given value is '{value}'"
        )

    def uuid(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str) and _is_uuid(value):
            return value.lower()
        raise PropertyValueError(f"invalid uuid {where}: '{value}' is not a valid uuid")

    def structured(value: Any) -> Any:
        if value is None or isinstance(value, dict):
            return value
        raise PropertyValueError(f"invalid {kind} {where}: not an object, but {go_type(value)}")

    def blob(value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        raise PropertyValueError(f"invalid blob {where}: not a base64 string")

    table: dict[str, Coercer] = {
        "text": text,
        "int": integer,
        "number": number,
        "boolean": boolean,
        "date": date,
        "uuid": uuid,
        "geoCoordinates": structured,
        "phoneNumber": structured,
        "blob": blob,
    }
    return table[kind]


def _object_coercer(prop: Mapping[str, Any], class_name: str, *, many: bool) -> Coercer:
    nested = {child["name"]: coercer_for(child, class_name) for child in prop["nestedProperties"]}
    name = prop["name"]

    def one(value: Any) -> Any:
        if not isinstance(value, dict):
            raise PropertyValueError(
                f"invalid object property '{name}' on class '{class_name}': "
                f"not an object, but {go_type(value)}"
            )
        result: dict[str, Any] = {}
        for key, item in value.items():
            check = nested.get(key)
            if check is None:
                raise PropertyValueError(
                    f"invalid object property '{name}' on class '{class_name}': "
                    f"no such nested property '{key}'"
                )
            result[key] = check(item)
        return result

    def coerce(value: Any) -> Any:
        if value is None:
            return None
        if many:
            if not isinstance(value, list):
                raise PropertyValueError(
                    f"invalid object[] property '{name}' on class '{class_name}': not a list"
                )
            return [one(item) for item in value]
        return one(value)

    return coerce


def infer_property(name: str, value: Any, *, rest: bool = False) -> dict[str, Any] | None:
    """The property auto-schema adds for an unknown `name`; None when the value says nothing.

    `rest`: the value came in a REST JSON body, where weaviate-server 1.35 (checked against it)
    types a null as text, an empty list as text[] and every JSON number as number (int only
    from gRPC's typed values)."""
    if rest:
        if value is None:
            return {"name": name, "dataType": ["text"]}
        if isinstance(value, list) and not value:
            return {"name": name, "dataType": ["text[]"]}
        if isinstance(value, int) and not isinstance(value, bool):
            return {"name": name, "dataType": ["number"]}
    if isinstance(value, list):
        if not value:
            return None
        first = infer_property(name, value[0])
        if first is None or first["dataType"][0] in ("geoCoordinates", "phoneNumber"):
            return None
        kind = first["dataType"][0]
        if kind == "object":
            return {"name": name, "dataType": ["object[]"], **_nested_of(value[0])}
        return {"name": name, "dataType": [kind + "[]"]}
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, int):
        kind = "int"
    elif isinstance(value, float):
        kind = "number"
    elif isinstance(value, str):
        kind = "uuid" if _is_uuid(value) else "date" if _is_date(value) else "text"
    elif isinstance(value, dict):
        if {"latitude", "longitude"} == set(value):
            return {"name": name, "dataType": ["geoCoordinates"]}
        return {"name": name, "dataType": ["object"], **_nested_of(value)}
    else:
        return None
    return {"name": name, "dataType": [kind]}


def _nested_of(value: Mapping[str, Any]) -> dict[str, Any]:
    children = [infer_property(key, item) for key, item in value.items()]
    return {"nestedProperties": [child for child in children if child is not None]}
