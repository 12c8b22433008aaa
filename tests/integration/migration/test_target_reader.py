"""The cursor's own Search decoding reads exactly what weaviate-client's parsing reads."""

from __future__ import annotations

import struct
import uuid

import pytest

from datamigration_operator.migration.mapping import (
    CollectionPlan,
    MigrationObject,
    PropertyPlan,
    ReferencePlan,
)
from datamigration_operator.migration.mapping.canonical import content_hash
from datamigration_operator.migration.sink.target_reader import TargetReader
from datamigration_operator.migration.sink.weaviate_sink import (
    SinkSettings,
    WeaviateSink,
    ensure_collections,
)
from tests.integration.migration.conftest import RunningWeaviate

OWNERS = CollectionPlan(
    table="owners",
    collection="Owner",
    key_columns=("id",),
    properties=(PropertyPlan("name", "name", "text"),),
    references=(),
    vector_column=None,
)
DOCS = CollectionPlan(
    table="docs",
    collection="Doc",
    key_columns=("id",),
    properties=(
        PropertyPlan("title", "title", "text"),
        PropertyPlan("size", "size", "int"),
        PropertyPlan("score", "score", "number"),
        PropertyPlan("ok", "ok", "boolean"),
        PropertyPlan("at", "at", "date"),
        PropertyPlan("ref_id", "ref_id", "uuid"),
        PropertyPlan("raw", "raw", "blob"),
        PropertyPlan("tags", "tags", "text[]"),
        PropertyPlan("ranks", "ranks", "int[]"),
        PropertyPlan("weights", "weights", "number[]"),
    ),
    references=(ReferencePlan("owner_id", "owner", "owners", "Owner"),),
    vector_column="embedding",
)


def _docs(owners: list[uuid.UUID]) -> list[MigrationObject]:
    full = {
        "title": "tête\x00à-tête 🦆",
        "size": 2**53,  # exact: Struct sends scalars as doubles
        "score": -0.1,
        "ok": False,
        "at": "2025-01-01T10:20:30.123456Z",
        "ref_id": str(uuid.uuid4()),
        "raw": b"\x00\xff\x10",
        "tags": ("a", "", "ü"),
        "ranks": (1, -(2**63)),
        "weights": (0.5, 1e300),
    }
    docs = [
        MigrationObject(uuid.uuid4(), full, {"owner": (owners[0],)}, struct.pack("<2f", 0.1, -2)),
        MigrationObject(uuid.uuid4(), {"title": "only", "at": "1999-12-31T23:59:59Z"}, {}, None),
        MigrationObject(uuid.uuid4(), {}, {"owner": (owners[1],)}, struct.pack("<2f", 1, 2)),
    ]
    docs += [
        MigrationObject(uuid.uuid4(), {"size": i, "score": i / 3}, {}, struct.pack("<2f", i, 0))
        for i in range(40)
    ]
    return docs


@pytest.fixture
def written(weaviate: RunningWeaviate) -> tuple[TargetReader, list[MigrationObject]]:
    client = weaviate.client()
    ensure_collections(client, [OWNERS, DOCS], owner="test/docs")
    sink = WeaviateSink(client, SinkSettings(batch_size=50))
    owners = [MigrationObject(uuid.uuid4(), {"name": f"o{i}"}, {}, None) for i in range(2)]
    docs = _docs([owner.uuid for owner in owners])
    assert sink.write(OWNERS, owners, list(range(2))).written == 2
    assert sink.write(DOCS, docs, list(range(len(docs)))).written == len(docs)
    return TargetReader(client, page_size=7), docs


def test_cursor_pages_equal_the_clients_own_parsing_for_every_data_type(
    written: tuple[TargetReader, list[MigrationObject]],
) -> None:
    reader, docs = written
    scanned = [obj for page in reader.scan(DOCS) for obj in page]
    assert [obj.uuid for obj in scanned] == sorted(obj.uuid for obj in docs)
    # fetch() parses through weaviate-client's fetch_objects
    by_client = reader.fetch(DOCS, [obj.uuid for obj in docs])
    assert len(by_client) == len(docs)
    for obj in scanned:
        assert obj == by_client[obj.uuid]
        assert content_hash(obj) == content_hash(by_client[obj.uuid])


def test_cursor_reads_back_what_was_written(
    written: tuple[TargetReader, list[MigrationObject]],
) -> None:
    reader, docs = written
    scanned = {obj.uuid: obj for page in reader.scan(DOCS) for obj in page}
    for doc in docs:
        assert content_hash(scanned[doc.uuid]) == content_hash(doc), doc


def test_a_collection_that_does_not_exist_yet_scans_empty(weaviate: RunningWeaviate) -> None:
    assert list(TargetReader(weaviate.client()).scan(OWNERS)) == []
