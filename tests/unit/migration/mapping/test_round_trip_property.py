"""Property: row -> object -> what weaviate-client sends and reads back -> the same content hash.

The simulated round trip uses the client's real encodings: scalars travel in a protobuf Struct
(doubles), number arrays as float64 bytes, vectors as float32, dates come back the way Weaviate
formats them (RFC 3339, trailing zeros trimmed) parsed by the client's own date parser.
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone

from google.protobuf.struct_pb2 import Struct
from hypothesis import given, settings
from hypothesis import strategies as st
from weaviate.util import _datetime_from_weaviate_str

from datamigration_operator.migration.mapping import (
    CollectionPlan,
    MigrationObject,
    PropertyPlan,
    ReferencePlan,
    RowError,
    object_from_weaviate,
    row_to_object,
)
from datamigration_operator.migration.mapping.canonical import content_hash, differing_fields
from datamigration_operator.migration.mapping.values import InvalidText, to_weaviate_payload

NS = "ns/migration"
PLAN = CollectionPlan(
    table="things",
    collection="Thing",
    key_columns=("id",),
    properties=(
        PropertyPlan("c_text", "cText", "text"),
        PropertyPlan("c_int", "cInt", "int"),
        PropertyPlan("c_number", "cNumber", "number"),
        PropertyPlan("c_bool", "cBool", "boolean"),
        PropertyPlan("c_blob", "cBlob", "blob"),
        PropertyPlan("c_date", "cDate", "date"),
        PropertyPlan("c_uuid", "cUuid", "uuid"),
        PropertyPlan("c_big", "cBig", "text", numbers_as_text=True),
        PropertyPlan("c_mixed", "cMixed", "text", numbers_as_text=True),
        PropertyPlan("c_texts", "cTexts", "text[]"),
        PropertyPlan("c_ints", "cInts", "int[]"),
        PropertyPlan("c_numbers", "cNumbers", "number[]"),
    ),
    references=(ReferencePlan("c_ref", "cRef", "others", "Other", "INTEGER"),),
    vector_column="c_vector",
)
TYPES = {p.name: p.data_type for p in PLAN.properties}

INT64 = st.integers(-(2**63), 2**63 - 1)
EXACT_INT = st.integers(-(2**53), 2**53)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)  # NUL included
FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


def sqlite_date(moment: datetime, style: int, offset_minutes: int) -> str:
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    text = f"{moment.year:04d}" + text[text.index("-") :]
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    if style == 1:
        return text.replace(" ", "T") + "Z"
    if style == 2:
        sign = "+" if offset_minutes >= 0 else "-"
        hours, minutes = divmod(abs(offset_minutes), 60)
        return f"{text.replace(' ', 'T')}{sign}{hours:02d}:{minutes:02d}"
    return text


VALID = {
    "c_text": TEXT,
    "c_int": EXACT_INT,
    "c_number": st.one_of(FINITE, EXACT_INT),
    "c_bool": st.sampled_from([0, 1]),
    "c_blob": st.binary(max_size=40),
    "c_date": st.builds(
        sqlite_date,
        st.datetimes(datetime(2, 1, 1), datetime(9998, 12, 31)),
        st.integers(0, 2),
        st.integers(-14 * 60, 14 * 60),
    ),
    "c_uuid": st.uuids().map(str),
    "c_big": INT64,
    "c_mixed": st.one_of(INT64, FINITE, TEXT),
    "c_texts": st.lists(TEXT, max_size=4).map(json.dumps),
    "c_ints": st.lists(EXACT_INT, max_size=4).map(json.dumps),
    "c_numbers": st.lists(FINITE, max_size=4).map(json.dumps),
    "c_ref": st.one_of(INT64, st.integers(0, 99).map(str)),
    "c_vector": st.one_of(
        st.lists(FLOAT32, min_size=1, max_size=6).map(lambda v: struct.pack(f"<{len(v)}f", *v)),
        st.lists(FLOAT32, min_size=1, max_size=6).map(json.dumps),
    ),
}
# Dates over the whole range, offsets that cross year 1 or 9999 in UTC, and impossible dates.
DATE_LIKE = st.one_of(
    st.builds(
        sqlite_date,
        st.one_of(
            st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59)),
            # the first and the last day, which an offset can move out of range in UTC
            st.datetimes(datetime(1, 1, 1), datetime(1, 1, 1, 23, 59, 59)),
            st.datetimes(datetime(9999, 12, 31), datetime(9999, 12, 31, 23, 59, 59)),
        ),
        st.integers(0, 2),
        st.integers(-14 * 60, 14 * 60),
    ),
    st.sampled_from(["2024-02-30", "0000-01-01", "2024-13-01T25:61", "2024-01-01T10:00+01"]),
)
# UTF-8 of a UTF-16 surrogate, overlong forms, truncated sequences: SQLite TEXT, not UTF-8.
NOT_UTF8 = st.one_of(
    st.sampled_from([b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xc0\xaf", b"\xe2\x82", b"\x80"]),
    st.binary(min_size=1, max_size=8).filter(lambda raw: not _is_utf8(raw)),
).map(InvalidText)
ANY_SQLITE_VALUE = st.one_of(
    st.none(),
    INT64,
    DATE_LIKE,
    NOT_UTF8,
    st.floats(allow_nan=False),  # SQLite stores NaN as NULL; infinities stay
    TEXT,
    st.binary(max_size=20),
)
INJECTIVE = ("c_text", "c_int", "c_bool", "c_blob", "c_uuid", "c_big")


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


def valid_rows() -> st.SearchStrategy[dict[str, object]]:
    columns = {name: st.one_of(st.none(), strategy) for name, strategy in VALID.items()}
    return st.fixed_dictionaries({"id": INT64, **columns})


def weaviate_date(value: str) -> str:
    """How Weaviate (Go, RFC3339Nano) formats a stored date."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    text = f"{moment.year:04d}" + text[text.index("-") :]
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def through_weaviate(obj: MigrationObject) -> MigrationObject:
    sent: dict[str, object] = {}
    for name, value in obj.properties.items():
        payload = to_weaviate_payload(value)
        if isinstance(payload, list):
            if TYPES[name] == "number[]":
                payload = list(
                    struct.unpack(f"<{len(payload)}d", struct.pack(f"<{len(payload)}d", *payload))
                )
            sent[name] = payload
        else:
            wire = Struct()
            wire.update({name: payload})  # ints become doubles here
            sent[name] = wire[name]
    read: dict[str, object] = {}
    for name, value in sent.items():
        kind = TYPES[name]
        if kind == "int":
            assert isinstance(value, float)
            assert value.is_integer()
            read[name] = int(value)
        elif kind == "date":
            read[name] = _datetime_from_weaviate_str(weaviate_date(str(value)))
        elif kind == "uuid":
            read[name] = uuid.UUID(str(value))
        else:
            read[name] = value
    references: Mapping[str, list[str]] = {
        name: [str(u) for u in targets] for name, targets in obj.references.items()
    }
    vector = None
    if obj.vector is not None:
        vector = list(struct.unpack(f"<{len(obj.vector) // 4}f", obj.vector))
    return object_from_weaviate(PLAN, obj.uuid, read, references, vector)


@settings(max_examples=200, deadline=None)
@given(valid_rows())
def test_valid_rows_survive_the_weaviate_round_trip(row: dict[str, object]) -> None:
    written = row_to_object(PLAN, row, migration_namespace=NS)
    read = through_weaviate(written)
    assert content_hash(read) == content_hash(written)
    assert differing_fields(read, written) == []
    # And the stored values are the row's values, not just self-consistent.
    props = read.properties
    for column, prop in (("c_text", "cText"), ("c_int", "cInt"), ("c_blob", "cBlob")):
        assert props.get(prop) == row[column]
    if row["c_big"] is not None:
        assert int(str(props["cBig"])) == row["c_big"]
    if row["c_date"] is not None:
        original = datetime.fromisoformat(str(row["c_date"]).replace("Z", "+00:00"))
        if original.tzinfo is None:
            original = original.replace(tzinfo=UTC)
        assert datetime.fromisoformat(str(props["cDate"]).replace("Z", "+00:00")) == original


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({"id": INT64, **dict.fromkeys(VALID, ANY_SQLITE_VALUE)}))
def test_any_row_is_stored_faithfully_or_reported_by_key(row: dict[str, object]) -> None:
    try:
        written = row_to_object(PLAN, row, migration_namespace=NS)
    except RowError as error:
        reported: RowError | None = error
    else:
        reported = None
        assert content_hash(through_weaviate(written)) == content_hash(written)
    if reported is not None:
        assert reported.key == (row["id"],)
        assert row[reported.column] is not None


@settings(max_examples=200, deadline=None)
@given(valid_rows(), st.sampled_from(INJECTIVE), st.data())
def test_rows_that_differ_in_a_field_hash_differently(
    row: dict[str, object], column: str, data: st.DataObject
) -> None:
    other = dict(row)
    other[column] = data.draw(
        st.one_of(st.none(), VALID[column]).filter(lambda v: v != row[column])
    )
    first = row_to_object(PLAN, row, migration_namespace=NS)
    second = row_to_object(PLAN, other, migration_namespace=NS)
    assert content_hash(first) != content_hash(second)
    prop = next(p.name for p in PLAN.properties if p.column == column)
    assert differing_fields(first, second) == [prop]


def test_a_date_with_an_offset_is_the_same_instant_after_the_round_trip() -> None:
    row = {"id": 1, "c_date": "2024-06-01T12:00:00.250+05:30"}
    read = through_weaviate(row_to_object(PLAN, row, migration_namespace=NS))
    expected = datetime(2024, 6, 1, 12, 0, 0, 250_000, tzinfo=timezone(timedelta(minutes=330)))
    assert datetime.fromisoformat(str(read.properties["cDate"]).replace("Z", "+00:00")) == expected


@settings(max_examples=300, deadline=None)
@given(DATE_LIKE)
def test_any_date_text_converts_exactly_or_is_refused(text: str) -> None:
    try:  # RowError or nothing: another exception would stop the whole copy
        converted = row_to_object(PLAN, {"id": 1, "c_date": text}, migration_namespace=NS)
    except RowError as error:
        refused: RowError | None = error
    else:
        refused = None
    if refused is not None:
        assert refused.column == "c_date"
        return
    stored = datetime.fromisoformat(str(converted.properties["cDate"]).replace("Z", "+00:00"))
    original = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert stored == (original if original.tzinfo else original.replace(tzinfo=UTC))
