"""A sandbox Weaviate loaded by the migration mapping from a generated chat-history database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import weaviate
from weaviate.auth import Auth

from datamigration_operator.migration.mapping import CollectionPlan, plan_collections, row_to_object
from datamigration_operator.migration.sink.weaviate_sink import ensure_collections, to_data_object
from datamigration_operator.migration.source.reflection import reflect_tables
from datamigration_sandbox.sample_data import generate_database, sample_collections
from datamigration_sandbox.weaviate.background import serving_in_background
from datamigration_sandbox.weaviate.server import WeaviateServer

NAMESPACE, NAME = "apps", "chat"
API_KEY = "reads-test-key"
MIGRATION_NAMESPACE = f"{NAMESPACE}/{NAME}"


@dataclass
class Loaded:
    server: WeaviateServer
    client: weaviate.WeaviateClient
    db: sqlite3.Connection
    plans: tuple[CollectionPlan, ...]

    def plan(self, table: str) -> CollectionPlan:
        return next(p for p in self.plans if p.table == table)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    path = tmp_path_factory.mktemp("reads") / "chat.db"
    generate_database(path, rows=200)
    db = sqlite3.connect(path, check_same_thread=False)
    db.row_factory = sqlite3.Row
    plans = plan_collections(sample_collections(), reflect_tables(db))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
        patch.setenv("NO_PROXY", "127.0.0.1,localhost")
        server = WeaviateServer(api_key=API_KEY)
        with (
            serving_in_background(server) as (http_port, grpc_port),
            weaviate.connect_to_custom(
                http_host="127.0.0.1",
                http_port=http_port,
                http_secure=False,
                grpc_host="127.0.0.1",
                grpc_port=grpc_port,
                grpc_secure=False,
                auth_credentials=Auth.api_key(API_KEY),
            ) as client,
        ):
            ensure_collections(client, plans, owner=MIGRATION_NAMESPACE)
            for plan in plans:
                rows = db.execute(f"SELECT * FROM {plan.table}").fetchall()
                objects = [
                    to_data_object(
                        row_to_object(plan, dict(row), migration_namespace=MIGRATION_NAMESPACE)
                    )
                    for row in rows
                ]
                result = client.collections.use(plan.collection).data.insert_many(objects)
                assert not result.errors, result.errors
            yield Loaded(server, client, db, plans)
    db.close()
