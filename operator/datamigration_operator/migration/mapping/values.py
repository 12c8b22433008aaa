"""SQLite values <-> Weaviate property values, exact or refused (pure).

A converted value is what the sink sends and what a read from Weaviate normalises back to, so
both sides of a validation hash the same representation:

| dataType | from SQLite | value in a MigrationObject |
|---|---|---|
| text | TEXT; INTEGER/REAL only for columns the plan maps to text (decimal / repr) | str |
| int | INTEGER within +-2^53 (weaviate-client sends scalars as protobuf doubles) | int |
| number | REAL (finite) or INTEGER within +-2^53 | float |
| boolean | INTEGER 0 or 1 | bool |
| date | TEXT in SQLite's ISO 8601 forms; no offset means UTC | str, RFC 3339 UTC |
| uuid | TEXT holding a UUID | str, lower-case canonical |
| blob | BLOB | bytes (the sink base64-encodes) |
| text[], int[], number[] | TEXT holding a JSON array | tuple |

NULL is an absent property. SQLite turns NaN into NULL on write, so a REAL is NaN never;
+-infinity and invalid UTF-8 cannot be stored by Weaviate and are refused (ValueError, which
the mapping reports by row key). An empty array is absent too: Weaviate does not tell it from
a missing list on read.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
import uuid as uuid_module
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

# Largest integer a float64 (protobuf Struct number_value) holds exactly.
MAX_EXACT_INT: Final = 2**53
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

SCALAR_TYPES: Final = ("text", "int", "number", "boolean", "date", "uuid", "blob")
ARRAY_TYPES: Final = ("text[]", "int[]", "number[]")
DATA_TYPES: Final = SCALAR_TYPES + ARRAY_TYPES

Converter = Callable[[object], object]


def affinity(declared_type: str) -> str:
    """SQLite's column affinity rules (https://sqlite.org/datatype3.html#affinity_name_examples)."""
    upper = declared_type.upper()
    if "INT" in upper:
        return "INTEGER"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in upper or not upper:
        return "BLOB"
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


class InvalidText:
    """A TEXT value that is not valid UTF-8, kept as its raw bytes (see source.text_factory)."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InvalidText) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash((InvalidText, self.raw))

    def __repr__(self) -> str:
        return f"InvalidText({self.raw!r})"


def describe(value: object) -> str:
    """A short, type-naming description of a value for error messages (never the whole value)."""
    if isinstance(value, InvalidText):
        return f"TEXT that is not valid UTF-8 ({len(value.raw)} bytes)"
    if isinstance(value, bytes):
        return f"BLOB ({len(value)} bytes)"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"TEXT {shown!r}"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, int):
        return f"INTEGER {value}"
    if isinstance(value, float):
        return f"REAL {value!r}"
    return type(value).__name__


def _refuse(value: object, data_type: str, why: str = "") -> ValueError:
    reason = f": {why}" if why else ""
    return ValueError(f"{describe(value)} cannot be stored as Weaviate {data_type}{reason}")


def _exact_int(value: int, data_type: str) -> int:
    if -MAX_EXACT_INT <= value <= MAX_EXACT_INT:
        return value
    raise _refuse(
        value, data_type, "beyond +-2^53, weaviate-client would round it (map the column to text)"
    )


def _finite(value: float, data_type: str) -> float:
    if math.isfinite(value):
        return value
    raise _refuse(value, data_type, "Weaviate stores finite numbers only")


def to_text(value: object) -> object:
    if type(value) is str:
        return value
    raise _refuse(value, "text")


def to_text_from_number(value: object) -> object:
    """For columns the plan maps to text because they hold numbers beyond 2^53 or mixed classes."""
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return repr(_finite(value, "text"))
    raise _refuse(value, "text")


def to_int(value: object) -> object:
    if type(value) is int:
        return _exact_int(value, "int")
    raise _refuse(value, "int")


def to_number(value: object) -> object:
    if type(value) is float:
        return _finite(value, "number") + 0.0  # -0.0 -> 0.0, as SQLite itself stores it
    if type(value) is int:
        return float(_exact_int(value, "number"))
    raise _refuse(value, "number")


def to_boolean(value: object) -> object:
    if type(value) is int and value in (0, 1):
        return value == 1
    if type(value) is bool:
        return value
    raise _refuse(value, "boolean", "only 0 and 1 are booleans")


_DATE_RE: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?"
    r"(Z|[+-]\d{2}:\d{2})?"
)


def to_date(value: object) -> object:
    """SQLite's date text forms -> RFC 3339 in UTC; refuses what it cannot convert exactly."""
    if type(value) is not str:
        raise _refuse(value, "date")
    match = _DATE_RE.fullmatch(value)
    if match is None:
        raise _refuse(value, "date", "not YYYY-MM-DD[ HH:MM[:SS[.ffffff]]][Z|+HH:MM]")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=UTC,
        )
    except ValueError as error:
        raise _refuse(value, "date", str(error)) from None
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        try:
            moment -= sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
        except OverflowError:  # before year 1 or after 9999 once in UTC
            raise _refuse(value, "date", "out of range in UTC") from None
    return format_date(moment)


def format_date(moment: datetime) -> str:
    """The canonical RFC 3339 form: UTC, 'Z', microseconds only when non-zero."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.year < 1000:
        text = f"{utc.year:04d}" + text[text.index("-") :]
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


def to_uuid(value: object) -> object:
    if type(value) is str:
        try:
            return str(uuid_module.UUID(value))
        except ValueError:
            pass
    raise _refuse(value, "uuid")


def to_blob(value: object) -> object:
    if type(value) is bytes:
        return value
    raise _refuse(value, "blob")


def _json_array(value: object, data_type: str) -> list[object]:
    if type(value) is not str:
        raise _refuse(value, data_type, "expected TEXT holding a JSON array")
    try:
        parsed = json.loads(value, parse_constant=_reject_constant)
    except ValueError:
        raise _refuse(value, data_type, "not a JSON array") from None
    if not isinstance(parsed, list):
        raise _refuse(value, data_type, "not a JSON array")
    return parsed


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number Weaviate can store")


def to_text_array(value: object) -> object:
    items = _json_array(value, "text[]")
    if not all(type(item) is str for item in items):
        raise _refuse(value, "text[]", "every element must be a string")
    return tuple(items) or None


def to_int_array(value: object) -> object:
    items = _json_array(value, "int[]")
    if not all(type(item) is int for item in items):
        raise _refuse(value, "int[]", "every element must be an integer")
    return tuple(_exact_int(item, "int[]") for item in items) or None  # type: ignore[arg-type]


def to_number_array(value: object) -> object:
    items = _json_array(value, "number[]")
    if not all(type(item) in (int, float) for item in items):
        raise _refuse(value, "number[]", "every element must be a number")
    return tuple(float(item) + 0.0 for item in items) or None  # type: ignore[arg-type]


_TO_WEAVIATE: Final[dict[str, Converter]] = {
    "text": to_text,
    "int": to_int,
    "number": to_number,
    "boolean": to_boolean,
    "date": to_date,
    "uuid": to_uuid,
    "blob": to_blob,
    "text[]": to_text_array,
    "int[]": to_int_array,
    "number[]": to_number_array,
}


def converter_to_weaviate(data_type: str, *, numbers_as_text: bool = False) -> Converter:
    """The SQLite -> Weaviate converter of a property (None results mean: leave it absent)."""
    if numbers_as_text:
        if data_type != "text":
            raise ValueError("numbers_as_text applies to text properties only")
        return to_text_from_number
    return _TO_WEAVIATE[data_type]


# What a weaviate-client read returns -> the value representation above.


def _read_text(value: object) -> object:
    if isinstance(value, str):
        return value
    raise ValueError(f"expected text, Weaviate returned {type(value).__name__}")


def _read_int(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("expected int, Weaviate returned a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"expected int, Weaviate returned {value!r}")


def _read_number(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) + 0.0
    raise ValueError(f"expected number, Weaviate returned {type(value).__name__}")


def _read_boolean(value: object) -> object:
    if isinstance(value, bool):
        return value
    raise ValueError(f"expected boolean, Weaviate returned {type(value).__name__}")


def _read_date(value: object) -> object:
    if isinstance(value, datetime):
        return format_date(value)
    if isinstance(value, str):
        return format_date(datetime.fromisoformat(value.replace("Z", "+00:00")))
    raise ValueError(f"expected date, Weaviate returned {type(value).__name__}")


def _read_uuid(value: object) -> object:
    if isinstance(value, uuid_module.UUID):
        return str(value)
    if isinstance(value, str):
        return str(uuid_module.UUID(value))
    raise ValueError(f"expected uuid, Weaviate returned {type(value).__name__}")


def _read_blob(value: object) -> object:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError("Weaviate returned a blob that is not base64") from None
    raise ValueError(f"expected blob, Weaviate returned {type(value).__name__}")


def _read_array(item: Converter) -> Converter:
    def read(value: object) -> object:
        if not isinstance(value, list | tuple):
            raise ValueError(f"expected an array, Weaviate returned {type(value).__name__}")
        return tuple(item(element) for element in value) or None

    return read


_FROM_WEAVIATE: Final[dict[str, Converter]] = {
    "text": _read_text,
    "int": _read_int,
    "number": _read_number,
    "boolean": _read_boolean,
    "date": _read_date,
    "uuid": _read_uuid,
    "blob": _read_blob,
    "text[]": _read_array(_read_text),
    "int[]": _read_array(_read_int),
    "number[]": _read_array(_read_number),
}


def converter_from_weaviate(data_type: str) -> Converter:
    """Normalises a property value as weaviate-client returns it (None stays absent)."""
    return _FROM_WEAVIATE[data_type]


def to_weaviate_payload(value: object) -> object:
    """What the sink hands weaviate-client for a converted value (blob -> base64, tuple -> list)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, tuple):
        return list(value)
    return value


# Vectors: a float32 blob (little-endian) or TEXT holding a JSON array of numbers.


def vector_from_sqlite(value: object) -> bytes:
    """Canonical float32 little-endian bytes: Weaviate stores float32, so we compare those."""
    if type(value) is bytes:
        if not value or len(value) % 4:
            raise ValueError(f"vector BLOB of {len(value)} bytes is not a float32 array")
        floats: Sequence[float] = struct.unpack(f"<{len(value) // 4}f", value)
        if not all(math.isfinite(f) for f in floats):
            raise ValueError("vector holds NaN or infinity")
        return value
    if type(value) is str:
        try:
            items = json.loads(value, parse_constant=_reject_constant)
        except ValueError:
            raise ValueError("vector TEXT is not a JSON array of numbers") from None
        return vector_from_floats(items)
    raise ValueError(f"{describe(value)} is not a vector (float32 BLOB or JSON array)")


def vector_from_floats(items: object) -> bytes:
    if not isinstance(items, list | tuple) or not items:
        raise ValueError("vector must be a non-empty array of numbers")
    if not all(type(item) in (int, float) for item in items):
        raise ValueError("vector elements must be numbers")
    try:
        packed = struct.pack(f"<{len(items)}f", *items)
    except OverflowError:
        raise ValueError("vector element out of float32 range") from None
    if not all(math.isfinite(f) for f in struct.unpack(f"<{len(items)}f", packed)):
        raise ValueError("vector holds NaN or infinity")
    return packed


def vector_to_floats(vector: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(vector) // 4}f", vector))


# Row keys in JSON (checkpoints) with their storage class kept, so a resumed keyset query binds
# the same SQLite types and compares the same way.


# A row's key: the values of its key columns, in order (one value for a rowid key).
Key = tuple[Any, ...]


def key_to_json(key: Sequence[object]) -> list[object]:
    encoded: list[object] = []
    for part in key:
        if type(part) is int or type(part) is str:
            encoded.append(part)
        elif type(part) is float:
            encoded.append({"real": repr(part)})
        elif type(part) is bytes:
            encoded.append({"blob": base64.b64encode(part).decode("ascii")})
        elif isinstance(part, InvalidText):
            encoded.append({"text_bytes": base64.b64encode(part.raw).decode("ascii")})
        elif part is None:
            encoded.append(None)
        else:
            raise ValueError(f"key part {describe(part)} has no JSON form")
    return encoded


def key_from_json(encoded: Sequence[object]) -> tuple[object, ...]:
    key: list[object] = []
    for part in encoded:
        if part is None or type(part) is int or type(part) is str:
            key.append(part)
        elif isinstance(part, dict) and len(part) == 1:
            (tag, text), *_ = part.items()
            if tag == "real":
                key.append(float(text))
            elif tag == "blob":
                key.append(base64.b64decode(text))
            elif tag == "text_bytes":
                key.append(InvalidText(base64.b64decode(text)))
            else:
                raise ValueError(f"unknown key part tag {tag!r}")
        else:
            raise ValueError(f"malformed key part {part!r}")
    return tuple(key)
