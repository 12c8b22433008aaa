"""A copy into a three-node Weaviate cluster with replication factor 3, validated, and every
object read back from each node at consistency ALL (all three replicas answer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from weaviate.classes.config import ConsistencyLevel

from datamigration_operator.api.job_contract import JobTarget
from datamigration_operator.api.spec import Endpoint
from datamigration_operator.migration.mapping import collection_schema
from datamigration_operator.migration.runs.run import copy_run, diff_run, open_source
from datamigration_operator.migration.sink.weaviate_sink import connect
from datamigration_operator.migration.source.collection_plans import source_plans
from datamigration_sandbox.real.weaviate_cluster import WeaviateCluster
from datamigration_sandbox.sample_data import generate_database, sample_collections
from tests.integration.migration.conftest import RecordingReporter, settings

API_KEY = "replicated-" + "0123456789ab"
NODES = 3


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeaviateCluster]:
    with WeaviateCluster(
        tmp_path_factory.mktemp("weaviate-cluster"), nodes=NODES, api_key=API_KEY
    ) as running:
        yield running


def _client(http: int, grpc: int) -> Any:
    target = JobTarget(
        http=Endpoint(host="127.0.0.1", port=http),
        grpc=Endpoint(host="127.0.0.1", port=grpc),
        tls=False,
    )
    return connect(target, API_KEY)


def test_a_copy_with_replication_factor_3_validates_and_every_replica_holds_it(
    cluster: WeaviateCluster, tmp_path: Path
) -> None:
    database = generate_database(tmp_path / "app.db", rows=600)
    run = settings(database, tmp_path / "scratch", collections=sample_collections())
    client = _client(cluster.http_port, cluster.grpc_port)
    try:
        assert len(client.cluster.nodes()) == NODES
        with open_source(run) as source:
            plans = source_plans(source, run.collections)
        for plan in plans:  # what a platform team creates first: the operator keeps its config
            schema = collection_schema(plan)
            client.collections.create_from_dict(
                {
                    "class": schema.name,
                    "vectorizer": "none",
                    "replicationConfig": {"factor": NODES},
                }
            )
        copied, _ = copy_run(run, client, RecordingReporter())
        validated = diff_run(run, client, RecordingReporter(), repair=False)
        factors = {
            plan.collection: client.collections.get(plan.collection)
            .config.get()
            .replication_config.factor
            for plan in plans
        }
    finally:
        client.close()
    assert copied.failed_count == 0, copied.failed[:3]
    assert copied.written == sum(database.counts.values())
    assert validated.differences == 0, validated.samples
    assert validated.checked == copied.written
    assert factors == dict.fromkeys(factors, NODES)

    expected = {plan.collection: database.counts[plan.table] for plan in plans}
    for ports in cluster.ports:  # each node coordinates a read all three replicas answer
        node = _client(ports.http, ports.grpc)
        try:
            counts = {
                name: sum(
                    1
                    for _ in node.collections.get(name)
                    .with_consistency_level(ConsistencyLevel.ALL)
                    .iterator()
                )
                for name in expected
            }
        finally:
            node.close()
        assert counts == expected, ports
