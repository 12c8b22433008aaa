"""Property: the fast hash paths give exactly the hashes of the object paths they replace.

Validation hashes SQLite rows with ObjectBuilder.parts + hash_canonical and Weaviate results
with ResultDecoder.hashes, never building MigrationObjects; these must agree with
content_hash(build(row)) and content_hash(decode(result)) for any input, or a validation would
report differences that are not there (or miss real ones).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from weaviate.proto.v1 import properties_pb2, search_get_pb2

from datamigration_operator.migration.mapping import ObjectBuilder, RowError, objects
from datamigration_operator.migration.mapping.canonical import content_hash, hash_canonical
from datamigration_operator.migration.mapping.model import CollectionPlan, ReferencePlan
from datamigration_operator.migration.sink.grpc_results import ResultDecoder
from tests.unit.migration.mapping.test_round_trip_property import (
    ANY_SQLITE_VALUE,
    INT64,
    PLAN,
    TEXT,
    VALID,
    valid_rows,
)

NS = "ns/fast-hash"


def _row_outcome(row: dict[str, object]) -> tuple[str, object]:
    builder = ObjectBuilder(PLAN, migration_namespace=NS)
    try:
        obj = builder.build(row)
    except RowError as error:
        return "error", (error.key, error.column, error.message)
    return "hash", (obj.uuid.bytes, content_hash(obj), builder.key_of(row))


def _parts_outcome(row: dict[str, object]) -> tuple[str, object]:
    builder = ObjectBuilder(PLAN, migration_namespace=NS)
    try:
        key, uid, properties, references, vector = builder.parts(row)
    except RowError as error:
        return "error", (error.key, error.column, error.message)
    return "hash", (uid, hash_canonical(properties, references, vector), key)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({"id": INT64, **dict.fromkeys(VALID, ANY_SQLITE_VALUE)}))
def test_row_parts_hash_like_the_built_object_for_any_row(row: dict[str, object]) -> None:
    assert _parts_outcome(row) == _row_outcome(row)


@settings(max_examples=200, deadline=None)
@given(valid_rows())
def test_row_parts_hash_like_the_built_object_for_valid_rows(row: dict[str, object]) -> None:
    outcome = _parts_outcome(row)
    assert outcome[0] == "hash"
    assert outcome == _row_outcome(row)


# tuple_parts' own branches: composite keys, references to TEXT and BLOB-affinity keys (and
# PLAN's to an INTEGER one), each cached by the value as read.
PLAN2 = CollectionPlan(
    table="Things2",
    collection="Thing2",
    key_columns=("id", "k2"),
    properties=PLAN.properties,
    references=(
        ReferencePlan("c_ref", "cRef", "others", "Other", "TEXT"),
        ReferencePlan("c_ref2", "cRef2", "more", "More", ""),
    ),
    vector_column="c_vector",
)
FEW = st.sampled_from(["a", "b", "1", 1, b"a"])  # repeats: the reference cache hits
KEY = st.one_of(INT64, TEXT, st.none(), st.floats(allow_nan=False), st.binary(max_size=4))
ROW_OF = {
    PLAN: {"id": KEY, **dict.fromkeys(VALID, ANY_SQLITE_VALUE)},
    PLAN2: {
        "id": KEY,
        "k2": KEY,
        **dict.fromkeys(VALID, ANY_SQLITE_VALUE),
        "c_ref": st.one_of(FEW, ANY_SQLITE_VALUE),
        "c_ref2": st.one_of(FEW, ANY_SQLITE_VALUE),
    },
}
VALID_ROW_OF = {
    PLAN: {"id": INT64, **VALID},
    PLAN2: {"id": TEXT, "k2": INT64, **VALID, "c_ref": FEW, "c_ref2": FEW},
}


def _outcome(parts: Callable[[Any], Sequence[object]], row: object) -> tuple[str, object]:
    try:
        return "parts", tuple(parts(row))
    except RowError as error:
        return "error", (error.key, error.column, error.message, error.table)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([PLAN, PLAN2]).flatmap(
        lambda plan: st.tuples(
            st.just(plan),
            st.lists(
                st.one_of(
                    st.fixed_dictionaries(ROW_OF[plan]), st.fixed_dictionaries(VALID_ROW_OF[plan])
                ),
                min_size=1,
                max_size=6,
            ),
            st.permutations(list(ROW_OF[plan])),
        )
    ),
    st.integers(1, 4),
)
def test_tuple_parts_equal_parts_for_any_rows(
    case: tuple[CollectionPlan, list[dict[str, object]], list[str]], cache_size: int
) -> None:
    """Rows as tuples in any column order (a trailing rowid ignored), through one builder and
    a small reference cache that fills and clears: the same parts, or the same RowError."""
    plan, rows, columns = case
    builder = ObjectBuilder(plan, migration_namespace=NS)
    reference = ObjectBuilder(plan, migration_namespace=NS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(objects, "_REFERENCE_BYTES_CACHE_SIZE", cache_size)
        parts = builder.tuple_parts(columns)
        for row in rows:
            values = (*(row[c] for c in columns), 12345)
            assert _outcome(parts, values) == _outcome(reference.parts, row)


def test_tuple_parts_without_a_planned_column_reads_it_as_null() -> None:
    builder = ObjectBuilder(PLAN2, migration_namespace=NS)
    row = {"id": "x", "k2": 1, "c_text": "t", "c_ref": "a"}
    parts = builder.tuple_parts(list(row))
    assert tuple(parts(tuple(row.values()))) == tuple(builder.parts(row))


def _packed(fmt: str, values: Sequence[object]) -> bytes:
    return struct.pack(f"<{len(values)}{fmt}", *values)


PB = properties_pb2
# Any Value a server could send, whatever the property's data type: the decoder must hash
# unexpected kinds exactly as the object path does (as differences, not crashes).
VALUES = st.one_of(
    TEXT.map(lambda v: PB.Value(text_value=v)),
    INT64.map(lambda v: PB.Value(int_value=v)),
    st.floats(allow_nan=False).map(lambda v: PB.Value(number_value=v)),
    st.booleans().map(lambda v: PB.Value(bool_value=v)),
    st.just(PB.Value(null_value=0)),
    st.sampled_from(["2024-01-02T03:04:05Z", "2024-01-02T03:04:05.5+01:00"]).map(
        lambda v: PB.Value(date_value=v)
    ),
    st.uuids().map(lambda v: PB.Value(uuid_value=str(v))),
    st.sampled_from(["", "AAEC", "not base64!"]).map(lambda v: PB.Value(blob_value=v)),
    st.lists(TEXT, max_size=3).map(
        lambda v: PB.Value(list_value=PB.ListValue(text_values=PB.TextValues(values=v)))
    ),
    st.lists(INT64, max_size=3).map(
        lambda v: PB.Value(list_value=PB.ListValue(int_values=PB.IntValues(values=_packed("q", v))))
    ),
    st.lists(st.floats(allow_nan=False), max_size=3).map(
        lambda v: PB.Value(
            list_value=PB.ListValue(number_values=PB.NumberValues(values=_packed("d", v)))
        )
    ),
)
NAMES = [prop.name for prop in PLAN.properties] + ["notPlanned"]
IDS = st.uuids().map(lambda u: u.bytes)


@st.composite
def results(draw: st.DrawFn) -> search_get_pb2.SearchResult:
    fields = draw(st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=len(NAMES)))
    references = [
        search_get_pb2.RefPropertiesResult(
            prop_name=name,
            properties=[
                search_get_pb2.PropertiesResult(
                    metadata=search_get_pb2.MetadataResult(
                        id=str(uuid.UUID(bytes=t)), id_as_bytes=t
                    )
                )
                for t in draw(st.lists(IDS, max_size=3))
            ],
        )
        for name in draw(st.lists(st.sampled_from(["cRef", "other"]), max_size=2, unique=True))
    ]
    floats = draw(st.lists(st.floats(width=32), max_size=4))
    own = draw(IDS)
    metadata = search_get_pb2.MetadataResult(
        id=str(uuid.UUID(bytes=own)),
        id_as_bytes=own if draw(st.booleans()) else b"",
        vector_bytes=_packed("f", floats),
    )
    return search_get_pb2.SearchResult(
        properties=search_get_pb2.PropertiesResult(
            non_ref_props=PB.Properties(fields=fields), ref_props=references
        ),
        metadata=metadata,
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(results(), max_size=4))
def test_result_hashes_equal_the_hashes_of_decoded_objects(
    page: list[search_get_pb2.SearchResult],
) -> None:
    reply = search_get_pb2.SearchReply(results=page)
    decoder = ResultDecoder(PLAN)
    expected = [(obj.uuid.bytes, content_hash(obj)) for obj in decoder.decode_reply(reply)]
    assert decoder.hashes(reply) == expected


def test_a_changed_value_changes_the_result_hash() -> None:
    def reply(content: str) -> search_get_pb2.SearchReply:
        fields = {"cText": PB.Value(text_value=content)}
        result = search_get_pb2.SearchResult(
            properties=search_get_pb2.PropertiesResult(non_ref_props=PB.Properties(fields=fields)),
            metadata=search_get_pb2.MetadataResult(id_as_bytes=bytes(16)),
        )
        return search_get_pb2.SearchReply(results=[result])

    decoder = ResultDecoder(PLAN)
    assert decoder.hashes(reply("a")) != decoder.hashes(reply("b"))
