"""Property: ObjectEncoder.encode_framed (wire bytes written by hand) parses to exactly the
BatchObject that ObjectEncoder.encode builds with the protobuf classes, for any object."""

from __future__ import annotations

import struct
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st
from weaviate.proto.v1 import batch_pb2

from datamigration_operator.migration.mapping import MigrationObject
from datamigration_operator.migration.sink.grpc_objects import ObjectEncoder
from tests.unit.migration.sink.test_grpc_objects import PLAN

SCALAR = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=100, max_size=400),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False),
    st.booleans(),
    st.binary(max_size=20),
    st.tuples(st.text(max_size=3)),
)
# "tags" is a text[] property of PLAN: arrays there, any scalar elsewhere
NAMES = st.sampled_from(["title", "size", "score", "ok", "at", "raw", "other", "é"])
PROPERTIES = st.builds(
    lambda scalars, tags: {**scalars, **({} if tags is None else {"tags": tags})},
    st.dictionaries(NAMES, SCALAR, max_size=6),
    st.none() | st.tuples(st.text(max_size=3)),
)
IDS = st.builds(uuid.UUID, st.uuids().map(str))
OBJECTS = st.builds(
    MigrationObject,
    IDS,
    PROPERTIES,
    st.dictionaries(st.sampled_from(["owner_id", "x"]), st.tuples(IDS) | st.just(()), max_size=2),
    st.none()
    | st.lists(st.floats(width=32, allow_nan=False), max_size=40).map(
        lambda fs: struct.pack(f"<{len(fs)}f", *fs)
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(OBJECTS, min_size=1, max_size=3))
def test_framed_bytes_parse_to_the_encoded_objects(objects: list[MigrationObject]) -> None:
    encoder = ObjectEncoder(PLAN)
    request = batch_pb2.BatchObjectsRequest.FromString(
        b"".join(encoder.encode_framed(obj) for obj in objects)
    )
    expected = [encoder.encode(obj) for obj in objects]
    assert list(request.objects) == expected
    # and byte for byte once upb serializes both (what goes over the wire)
    assert request.SerializeToString(deterministic=True) == batch_pb2.BatchObjectsRequest(
        objects=expected
    ).SerializeToString(deterministic=True)


def test_the_fast_path_writes_a_typical_object_by_hand() -> None:
    obj = MigrationObject(uuid.uuid4(), {"title": "x" * 300, "size": 3}, {}, b"\x00" * 8)
    encoder = ObjectEncoder(PLAN)
    assert encoder._wire(obj) is not None
    framed = encoder.encode_framed(obj)
    assert batch_pb2.BatchObjectsRequest.FromString(framed).objects[0] == encoder.encode(obj)
