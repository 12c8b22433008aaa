"""The environment of each node of a replicated Weaviate on loopback, and `--weaviate-nodes`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from datamigration_operator.cli.main import app
from datamigration_sandbox.real.weaviate_cluster import cluster_env
from datamigration_sandbox.real.weaviate_node import WeaviatePorts

PORTS = [WeaviatePorts(8080 + i, 50051 + i, 7100 + 2 * i, 8300 + 2 * i) for i in range(3)]


def test_every_node_has_its_name_and_ports_and_joins_the_first() -> None:
    envs = [cluster_env(Path(f"/data/{i}"), PORTS, i, "key") for i in range(3)]
    assert [e["CLUSTER_HOSTNAME"] for e in envs] == ["node1", "node2", "node3"]
    assert [e["CLUSTER_GOSSIP_BIND_PORT"] for e in envs] == ["7100", "7102", "7104"]
    assert [e["CLUSTER_DATA_BIND_PORT"] for e in envs] == ["7101", "7103", "7105"]
    assert [e["GRPC_PORT"] for e in envs] == ["50051", "50052", "50053"]
    assert [e.get("CLUSTER_JOIN") for e in envs] == [None, "127.0.0.1:7100", "127.0.0.1:7100"]
    assert {e["RAFT_JOIN"] for e in envs} == {"node1:8300,node2:8302,node3:8304"}
    assert {e["RAFT_BOOTSTRAP_EXPECT"] for e in envs} == {"3"}
    assert {e["AUTHENTICATION_APIKEY_ALLOWED_KEYS"] for e in envs} == {"key"}


def test_several_weaviate_nodes_need_the_real_servers(tmp_path: Path) -> None:
    refused = CliRunner().invoke(
        app, ["sandbox", "up", "--weaviate-nodes", "3", "--data-dir", str(tmp_path)]
    )
    assert refused.exit_code == 2
    assert "--weaviate-nodes needs --real" in refused.output
    assert list(tmp_path.iterdir()) == []  # nothing started
