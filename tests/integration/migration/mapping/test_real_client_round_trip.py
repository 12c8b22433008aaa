"""The mapping against the real weaviate-client and the sandbox Weaviate over HTTP and gRPC.

Every row of the bad-data sample database is written as row_to_object builds it, read back
with the client, normalised by object_from_weaviate and hashed: each hash equals the written
one, and exactly the rows the sample declares unrepresentable were reported by key instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import weaviate
from weaviate.classes.config import DataType, Property, ReferenceProperty
from weaviate.classes.data import DataObject
from weaviate.classes.query import QueryReference

from datamigration_operator.migration.mapping import (
    CollectionPlan,
    MigrationObject,
    RowError,
    collection_schema,
    object_from_weaviate,
    plan_collections,
    row_to_object,
)
from datamigration_operator.migration.mapping.canonical import content_hash
from datamigration_operator.migration.mapping.values import to_weaviate_payload, vector_to_floats
from datamigration_operator.migration.source.sqlite_source import SqliteSource
from datamigration_sandbox.sample_data import generate_database, sample_collections
from datamigration_sandbox.weaviate.server import WeaviateServer

NAMESPACE = "it/mapping"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[weaviate.WeaviateClient]:
    # connect() asks PyPI for the latest client version; keep everything on loopback.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = WeaviateServer(auto_schema=False)
    http_port, grpc_port = asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    connection = weaviate.connect_to_custom(
        http_host="127.0.0.1",
        http_port=http_port,
        http_secure=False,
        grpc_host="127.0.0.1",
        grpc_port=grpc_port,
        grpc_secure=False,
    )
    try:
        yield connection
    finally:
        connection.close()
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


def create_collections(client: weaviate.WeaviateClient, plans: tuple[CollectionPlan, ...]) -> None:
    schemas = [collection_schema(plan) for plan in plans]
    for schema in schemas:
        client.collections.create(
            schema.name,
            properties=[
                Property(name=p.name, data_type=DataType(p.data_type)) for p in schema.properties
            ],
        )
    for schema in schemas:
        for ref in schema.references:
            client.collections.get(schema.name).config.add_reference(
                ReferenceProperty(name=ref.name, target_collection=ref.target_collection)
            )


def read_back(client: weaviate.WeaviateClient, plan: CollectionPlan) -> dict[Any, MigrationObject]:
    collection = client.collections.get(plan.collection)
    result = collection.query.fetch_objects(
        limit=10_000,
        include_vector=True,
        return_properties=[p.name for p in plan.properties],
        return_references=[QueryReference(link_on=r.name) for r in plan.references] or None,
    )
    read = {}
    for obj in result.objects:
        vector = obj.vector.get("default") if obj.vector else None
        references = {
            name: [target.uuid for target in ref.objects]
            for name, ref in (obj.references or {}).items()
        }
        read[obj.uuid] = object_from_weaviate(plan, obj.uuid, obj.properties, references, vector)
    return read


def test_every_row_round_trips_through_weaviate_or_is_reported(
    client: weaviate.WeaviateClient, tmp_path: Path
) -> None:
    database = generate_database(tmp_path / "bad.db", rows=200, bad_data=True)
    reported: dict[str, list[tuple[object, ...]]] = {}
    with SqliteSource(database.path, snapshot=True, scratch_dir=tmp_path / "scratch") as source:
        tables = source.tables()
        stats = {name: source.column_stats(name) for name in tables}
        plans = plan_collections(sample_collections(bad_data=True), tables, column_stats=stats)
        create_collections(client, plans)
        for plan in plans:
            written: dict[Any, MigrationObject] = {}
            for batch in source.rows(plan, batch_size=100):
                for row in batch:
                    try:
                        obj = row_to_object(plan, row, migration_namespace=NAMESPACE)
                    except RowError as error:
                        reported.setdefault(plan.table, []).append(error.key)
                        continue
                    written[obj.uuid] = obj
            outcome = client.collections.get(plan.collection).data.insert_many(
                [
                    DataObject(
                        uuid=obj.uuid,
                        properties={k: to_weaviate_payload(v) for k, v in obj.properties.items()},
                        references={k: list(v) for k, v in obj.references.items()} or None,
                        vector=vector_to_floats(obj.vector) if obj.vector else None,
                    )
                    for obj in written.values()
                ]
            )
            assert outcome.errors == {}, plan.table
            read = read_back(client, plan)
            assert read.keys() == written.keys(), plan.table
            mismatched = [
                u for u, obj in written.items() if content_hash(obj) != content_hash(read[u])
            ]
            assert mismatched == [], plan.table
    assert reported == database.unrepresentable
