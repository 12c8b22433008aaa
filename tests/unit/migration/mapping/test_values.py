"""The value codec stores what Weaviate can hold exactly and refuses the rest with a reason."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta, timezone

import pytest

from datamigration_operator.migration.mapping.values import (
    MAX_EXACT_INT,
    InvalidText,
    converter_from_weaviate,
    converter_to_weaviate,
    key_from_json,
    key_to_json,
    to_weaviate_payload,
    vector_from_floats,
    vector_from_sqlite,
    vector_to_floats,
)


@pytest.mark.parametrize(
    ("data_type", "value", "expected"),
    [
        ("text", "a\x00b", "a\x00b"),
        ("text", "", ""),
        ("int", MAX_EXACT_INT, MAX_EXACT_INT),
        ("int", -MAX_EXACT_INT, -MAX_EXACT_INT),
        ("number", 3, 3.0),
        ("number", -0.0, 0.0),
        ("number", 5e-324, 5e-324),
        ("boolean", 1, True),
        ("boolean", 0, False),
        ("uuid", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ("blob", b"\x00\xff", b"\x00\xff"),
        ("date", "2024-01-02", "2024-01-02T00:00:00Z"),
        ("date", "2024-01-02 03:04:05.5", "2024-01-02T03:04:05.500000Z"),
        ("date", "2024-06-01T12:00:00+05:30", "2024-06-01T06:30:00Z"),
        ("date", "0001-01-01", "0001-01-01T00:00:00Z"),
        ("date", "0001-01-01T01:00:00+01:00", "0001-01-01T00:00:00Z"),
        ("date", "9999-12-31T22:00:00-01:00", "9999-12-31T23:00:00Z"),
        ("text[]", '["a", "\\u0000"]', ("a", "\x00")),
        ("int[]", "[1, -2]", (1, -2)),
        ("number[]", "[1, 2.5]", (1.0, 2.5)),
        ("text[]", "[]", None),
    ],
)
def test_values_convert_exactly(data_type: str, value: object, expected: object) -> None:
    converted = converter_to_weaviate(data_type)(value)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("data_type", "value", "reason"),
    [
        ("text", InvalidText(b"caf\xe9"), "not valid UTF-8"),
        ("text", b"blob", "BLOB"),
        ("text", 5, "INTEGER 5"),
        ("int", MAX_EXACT_INT + 1, r"2\^53"),
        ("int", 2**63 - 1, r"2\^53"),
        ("int", 1.5, "REAL"),
        ("number", math.inf, "finite"),
        ("number", -math.inf, "finite"),
        ("number", "1.5", "TEXT"),
        ("boolean", 2, "0 and 1"),
        ("date", "2024-02-30", "day is out of range"),
        ("date", "yesterday", "YYYY-MM-DD"),
        ("date", "0000-01-01", "year 0 is out of range"),
        ("date", "2024-13-01T25:61", "month must be in 1..12"),
        # an offset that moves the instant past year 1 or 9999 in UTC (was an OverflowError
        # that crashed the copy instead of reporting the row)
        ("date", "0001-01-01T00:30:00+01:00", "out of range in UTC"),
        ("date", "9999-12-31T23:30:00-01:00", "out of range in UTC"),
        ("date", 20240101, "INTEGER"),
        ("date", "2024-01-01T00:00:00.1234567Z", "YYYY-MM-DD"),
        ("uuid", "not-a-uuid", "uuid"),
        ("blob", "text", "blob"),
        ("int[]", "[1, 2.5]", "integer"),
        ("number[]", "[1, NaN]", "JSON array"),
        ("text[]", '{"a": 1}', "JSON array"),
    ],
)
def test_values_weaviate_cannot_hold_are_refused_with_a_reason(
    data_type: str, value: object, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        converter_to_weaviate(data_type)(value)


def test_negative_zero_is_zero_as_sqlite_stores_it() -> None:
    assert str(converter_to_weaviate("number")(-0.0)) == "0.0"
    assert str(converter_to_weaviate("number[]")("[-0.0]")) == "(0.0,)"
    assert str(converter_from_weaviate("number")(-0.0)) == "0.0"


def test_numbers_as_text_keeps_int64_bounds_and_reals_exactly() -> None:
    convert = converter_to_weaviate("text", numbers_as_text=True)
    assert convert(2**63 - 1) == "9223372036854775807"
    assert convert(-(2**63)) == "-9223372036854775808"
    assert float(str(convert(0.1))) == 0.1
    assert convert("text stays") == "text stays"
    with pytest.raises(ValueError, match="BLOB"):
        convert(b"x")


def test_reads_from_weaviate_normalise_to_the_written_form() -> None:
    assert converter_from_weaviate("int")(5.0) == 5
    assert type(converter_from_weaviate("number")(5)) is float
    moment = datetime(2024, 6, 1, 12, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert converter_from_weaviate("date")(moment) == "2024-06-01T06:30:00Z"
    assert (
        converter_from_weaviate("date")("2024-01-02T03:04:05.5Z") == "2024-01-02T03:04:05.500000Z"
    )
    assert converter_from_weaviate("blob")(to_weaviate_payload(b"\x00\x01")) == b"\x00\x01"
    assert converter_from_weaviate("number[]")([1, 2]) == (1.0, 2.0)
    assert converter_from_weaviate("text[]")([]) is None
    with pytest.raises(ValueError, match="boolean"):
        converter_from_weaviate("int")(True)


def test_a_utc_date_written_and_read_back_is_identical() -> None:
    written = converter_to_weaviate("date")("2024-01-02 03:04:05.123456")
    read = datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert converter_from_weaviate("date")(read) == written


def test_vectors_are_float32_from_blobs_and_json_arrays() -> None:
    blob = struct.pack("<3f", 0.5, -1.0, 2.0)
    assert vector_from_sqlite(blob) == blob
    assert vector_from_sqlite("[0.5, -1, 2]") == blob
    assert vector_to_floats(blob) == [0.5, -1.0, 2.0]
    for bad in (b"\x00\x00\x00", "[]", "[1, NaN]", '["a"]', 3, struct.pack("<f", math.inf)):
        with pytest.raises(ValueError, match="vector"):
            vector_from_sqlite(bad)
    with pytest.raises(ValueError, match="float32 range"):
        vector_from_floats([1e300])


def test_keys_survive_json_with_their_storage_class() -> None:
    key = (1, "1", 1.5, b"\x01", InvalidText(b"\xff"), 2**63 - 1)
    assert key_from_json(key_to_json(key)) == key
    with pytest.raises(ValueError, match="unknown key part tag"):
        key_from_json([{"nope": "x"}])
