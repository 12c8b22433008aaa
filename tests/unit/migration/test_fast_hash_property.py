"""Property: the fast hash paths give exactly the hashes of the object paths they replace.

Validation hashes SQLite rows with ObjectBuilder.parts + hash_canonical and Weaviate results
with ResultDecoder.hashes, never building MigrationObjects; these must agree with
content_hash(build(row)) and content_hash(decode(result)) for any input, or a validation would
report differences that are not there (or miss real ones).
"""

from __future__ import annotations

import struct
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st
from weaviate.proto.v1 import properties_pb2, search_get_pb2

from datamigration_operator.migration.canonical import content_hash, hash_canonical
from datamigration_operator.migration.grpc_results import ResultDecoder
from datamigration_operator.migration.mapping import ObjectBuilder, RowError
from tests.unit.migration.test_round_trip_property import (
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


def _packed(fmt: str, values: list[object]) -> bytes:
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
