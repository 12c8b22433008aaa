"""The hand-written wire encoding parses to the messages the protobuf classes build."""

from __future__ import annotations

import uuid as uuid_module

from hypothesis import given, settings
from hypothesis import strategies as st
from weaviate.proto.v1 import properties_pb2, search_get_pb2

from datamigration_sandbox.weaviate import wire
from datamigration_sandbox.weaviate.grpc_codec import encode_value

TEXT = st.text(max_size=200)  # lengths past 127 need a two-byte varint
VALUES = {
    "text": TEXT,
    "int": st.integers(-(2**63), 2**63 - 1),
    "number": st.one_of(st.floats(allow_nan=False), st.integers(-(2**53), 2**53)),
    "boolean": st.booleans(),
    "date": st.just("2024-01-02T03:04:05.5Z"),
    "uuid": st.uuids().map(str),
    "blob": st.binary(max_size=40).map(lambda raw: raw.hex()),
    "text[]": st.lists(TEXT, max_size=3),
    "int[]": st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3),
}
KIND_AND_VALUE = st.sampled_from(sorted(VALUES)).flatmap(
    lambda kind: st.tuples(st.just(kind), st.one_of(st.none(), VALUES[kind]))
)


@settings(max_examples=300, deadline=None)
@given(KIND_AND_VALUE)
def test_a_value_parses_to_what_encode_value_builds(kind_and_value: tuple[str, object]) -> None:
    kind, value = kind_and_value
    prop = {"name": "p", "dataType": [kind]}
    encoded = wire.value_bytes(value, prop)
    assert properties_pb2.Value.FromString(encoded) == encode_value(value, prop)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=140), KIND_AND_VALUE, max_size=4))
def test_map_entries_parse_to_the_properties_map(
    values: dict[str, tuple[str, object]],
) -> None:
    entries = b"".join(
        wire.map_entry(name, wire.value_bytes(value, {"name": name, "dataType": [kind]}))
        for name, (kind, value) in values.items()
    )
    expected = properties_pb2.Properties(
        fields={
            name: encode_value(value, {"name": name, "dataType": [kind]})
            for name, (kind, value) in values.items()
        }
    )
    assert properties_pb2.Properties.FromString(entries) == expected


@given(st.integers(-(2**63), 2**64 - 1))
def test_varint_round_trips_through_an_int64_field(number: int) -> None:
    encoded = wire.tag(8, wire.VARINT) + wire.varint(number)
    parsed = properties_pb2.Value.FromString(encoded).int_value
    assert parsed == (number if number < 2**63 else number - 2**64)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=140).filter(lambda name: name != "ref"),
        KIND_AND_VALUE,
        max_size=5,
    ),
    st.uuids().map(str),
)
def test_a_stored_object_is_encoded_as_its_values_are(
    values: dict[str, tuple[str, object]], uuid: str
) -> None:
    schema = {name: {"name": name, "dataType": [kind]} for name, (kind, _) in values.items()}
    schema["ref"] = {"name": "ref", "dataType": ["Other"]}
    properties = {name: value for name, (_, value) in values.items()}
    properties["ref"] = [{"beacon": "weaviate://localhost/Other/" + uuid}]
    encoded = wire.encode_object(uuid, properties, schema)
    entries = [
        (name, wire.map_entry(name, wire.value_bytes(value, schema[name])))
        for name, (_, value) in values.items()
    ]
    assert list(encoded.entries.items()) == entries  # in the properties' order
    # named: every value property of the schema in schema order (here the reverse of the
    # properties' order), a null entry for one the object lacks
    schema = dict(reversed(schema.items()))
    dropped = entries[0][0] if entries else None
    properties.pop(dropped, None)  # type: ignore[arg-type]
    encoded = wire.encode_object(uuid, properties, schema)
    present = dict(entries[1:])
    names = [name for name in schema if name != "ref"]
    null = wire.value_bytes(None, {})
    assert encoded.layout.names == tuple(names)
    assert encoded.named == b"".join(
        present.get(name, wire.map_entry(name, null)) for name in names
    )
    assert list(encoded.entries.items()) == entries[1:]
    metadata = search_get_pb2.MetadataResult.FromString(encoded.id_fields)
    assert metadata == search_get_pb2.MetadataResult(
        id=uuid, id_as_bytes=uuid_module.UUID(uuid).bytes
    )
