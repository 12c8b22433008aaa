"""Batch properties decode from the client's own encoding; results encode as it decodes them."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime

from weaviate.collections.batch.grpc_batch import _BatchGRPC
from weaviate.collections.classes.batch import _BatchObject
from weaviate.util import _ServerVersion

from datamigration_sandbox.weaviate.grpc_codec import (
    decode_properties,
    decode_vectors,
    encode_value,
)

ID = str(uuid.uuid4())


def client_encoded(properties: dict[str, object], vector: object = None) -> object:
    batch = _BatchGRPC(_ServerVersion.from_string("1.32.0"), None, None)
    return batch.grpc_object(
        _BatchObject(
            collection="A",
            vector=vector,  # type: ignore[arg-type]
            uuid=ID,
            properties=properties,
            tenant=None,
            references=None,
            index=0,
            retry_count=0,
        )
    )


def test_every_property_shape_decodes() -> None:
    obj = client_encoded(
        {
            "text": "t",
            "int": 3,
            "when": datetime(2024, 1, 2, tzinfo=UTC),
            "ints": [1, 2],
            "floats": [1.5, 2.5],
            "texts": ["a", "b"],
            "flags": [True, False],
            "empty": [],
            "nested": {"k": "v", "deep": {"n": 1.5}},
            "nested_list": [{"k": "v"}],
        }
    )
    decoded = decode_properties(obj.properties)  # type: ignore[attr-defined]
    assert decoded == {
        "text": "t",
        "int": 3.0,  # a Struct number is a double; the schema check makes it an int
        "when": "2024-01-02T00:00:00.000000+00:00",
        "ints": [1, 2],
        "floats": [1.5, 2.5],
        "texts": ["a", "b"],
        "flags": [True, False],
        "empty": [],
        "nested": {"k": "v", "deep": {"n": 1.5}},
        "nested_list": [{"k": "v"}],
    }


def test_vectors_decode_to_float32_bytes() -> None:
    single, named = decode_vectors(client_encoded({}, vector=[1.0, 2.0]))
    assert single == struct.pack("<2f", 1.0, 2.0)
    assert named == {}
    single, named = decode_vectors(client_encoded({}, vector={"v": [0.5]}))
    assert single is None
    assert named == {"v": (struct.pack("<f", 0.5), False)}


def test_values_encode_with_the_kind_of_their_data_type() -> None:
    ints = encode_value([1, -2], {"name": "x", "dataType": ["int[]"]})
    assert struct.unpack("<2q", ints.list_value.int_values.values) == (1, -2)
    numbers = encode_value([0.5], {"name": "x", "dataType": ["number[]"]})
    assert struct.unpack("<d", numbers.list_value.number_values.values) == (0.5,)
    assert encode_value("2024-01-01T00:00:00Z", {"name": "x", "dataType": ["date"]}).date_value
    assert encode_value(None, {"name": "x", "dataType": ["text"]}).HasField("null_value")
    nested = encode_value(
        {"n": 2},
        {
            "name": "o",
            "dataType": ["object"],
            "nestedProperties": [{"name": "n", "dataType": ["int"]}],
        },
    )
    assert nested.object_value.fields["n"].int_value == 2
