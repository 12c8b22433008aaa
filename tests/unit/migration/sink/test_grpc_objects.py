"""Our protobuf encoding equals what weaviate-client's insert_many would send."""

from __future__ import annotations

import struct
import uuid

from weaviate.collections.batch.grpc_batch import _BatchGRPC
from weaviate.collections.classes.batch import _BatchObject

from datamigration_operator.migration.mapping import (
    CollectionPlan,
    MigrationObject,
    PropertyPlan,
    ReferencePlan,
)
from datamigration_operator.migration.sink.grpc_objects import ObjectEncoder
from datamigration_operator.migration.sink.weaviate_sink import to_data_object

PLAN = CollectionPlan(
    table="docs",
    collection="Doc",
    key_columns=("id",),
    properties=(
        PropertyPlan("title", "title", "text"),
        PropertyPlan("size", "size", "int"),
        PropertyPlan("score", "score", "number"),
        PropertyPlan("ok", "ok", "boolean"),
        PropertyPlan("at", "at", "date"),
        PropertyPlan("raw", "raw", "blob"),
        PropertyPlan("tags", "tags", "text[]"),
        PropertyPlan("ranks", "ranks", "int[]"),
        PropertyPlan("weights", "weights", "number[]"),
    ),
    references=(ReferencePlan("owner_id", "owner_id", "owners", "Owner"),),
    vector_column="embedding",
)


def _client_encoding(obj: MigrationObject) -> object:
    data = to_data_object(obj)
    batch = _BatchObject(
        collection=PLAN.collection,
        vector=data.vector,
        uuid=str(data.uuid),
        properties=data.properties,
        tenant=None,
        references=data.references,
        index=0,
    )
    translator = _BatchGRPC.__new__(_BatchGRPC)
    return translator.grpc_object(batch)


def test_encoding_matches_the_client_for_every_data_type() -> None:
    obj = MigrationObject(
        uuid.uuid4(),
        {
            "title": "tête\x00à-tête",
            "size": 2**53,
            "score": 0.1,
            "ok": True,
            "at": "2025-01-01T00:00:00Z",
            "raw": b"\x00\xff",
            "tags": ("a", "b"),
            "ranks": (1, -2),
            "weights": (0.5, 1.25),
        },
        {"owner_id": (uuid.uuid4(),)},
        struct.pack("<3f", 0.1, -2.0, 3.5),
    )
    assert ObjectEncoder(PLAN).encode(obj) == _client_encoding(obj)


def test_encoding_matches_the_client_without_vector_references_or_properties() -> None:
    obj = MigrationObject(uuid.uuid4(), {}, {}, None)
    assert ObjectEncoder(PLAN).encode(obj) == _client_encoding(obj)
