"""A replicated weaviate-server cluster on 127.0.0.1: N nodes that gossip and agree on the schema
by raft, each on its own ports and data directory (what `--weaviate-nodes 3` starts).

    with WeaviateCluster(data_dir, nodes=3) as cluster:   # ready when every node is ready
        cluster.http_port, cluster.grpc_port               # node 1's: clients talk to it
        cluster.node_names                                 # node1, node2, node3

Every node joins the first one's gossip (which must listen before they start: a node tries to
join only when it starts) and lists every node as a raft voter, so the schema needs a majority:
the cluster is ready once each node answers /v1/.well-known/ready.
"""

from __future__ import annotations

import socket
from functools import partial
from pathlib import Path

from datamigration_sandbox.real.server_binaries import locate_binaries, server_versions
from datamigration_sandbox.real.server_process import ServerProcess, http_ok
from datamigration_sandbox.real.weaviate_node import WeaviatePorts, weaviate_argv, weaviate_env


def cluster_env(
    data_path: Path,
    ports: list[WeaviatePorts],
    index: int,
    api_key: str | None,
) -> dict[str, str]:
    """Node `index`'s environment: its own name and ports, node 1's gossip to join, every
    node's raft port as a voter."""
    name = f"node{index + 1}"
    env = weaviate_env(data_path, ports[index], api_key)
    env["CLUSTER_HOSTNAME"] = name
    env["RAFT_BOOTSTRAP_EXPECT"] = str(len(ports))
    env["RAFT_JOIN"] = ",".join(f"node{i + 1}:{p.raft}" for i, p in enumerate(ports))
    if index:
        env["CLUSTER_JOIN"] = f"127.0.0.1:{ports[0].gossip}"
    return env


class WeaviateCluster:
    def __init__(
        self,
        data_dir: Path,
        *,
        nodes: int = 3,
        binaries: Path | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        if nodes < 1:
            raise ValueError(f"a Weaviate cluster needs at least one node, not {nodes}")
        self.data_dir = data_dir.resolve()
        self._binaries = binaries
        self.api_key = api_key
        self.timeout = timeout
        self.ports = distinct_ports(nodes)
        self.version = ""
        self._servers: list[ServerProcess] = []

    @property
    def node_names(self) -> list[str]:
        return [f"node{i + 1}" for i in range(len(self.ports))]

    @property
    def http_port(self) -> int:
        return self.ports[0].http

    @property
    def grpc_port(self) -> int:
        return self.ports[0].grpc

    def start(self) -> WeaviateCluster:
        binaries = self._binaries or locate_binaries()
        self.version = server_versions(binaries).get("weaviate-server", "")
        try:
            for index, ports in enumerate(self.ports):
                node = self.data_dir / f"node{index + 1}"
                server = ServerProcess(
                    f"weaviate-server-{index + 1}",
                    weaviate_argv(binaries, ports),
                    node / "logs" / "weaviate-server.log",
                    env=cluster_env(node / "weaviate", self.ports, index, self.api_key),
                )
                server.start()
                self._servers.append(server)
                if index == 0:  # the others join its gossip once, at start: it must listen
                    server.wait_ready(partial(listens, ports.gossip), self.timeout)
            # raft elects a leader only once a majority runs: wait after starting them all
            for server, ports in zip(self._servers, self.ports, strict=True):
                ready = http_ok(f"http://127.0.0.1:{ports.http}/v1/.well-known/ready")
                server.wait_ready(ready, self.timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in reversed(self._servers):
            server.stop()
        self._servers = []

    def __enter__(self) -> WeaviateCluster:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def distinct_ports(nodes: int, *, taken: set[int] | None = None) -> list[WeaviatePorts]:
    """Ports for each node, none shared between nodes nor in `taken` (each pick avoids its
    own only)."""
    picked: list[WeaviatePorts] = []
    taken = set(taken or ())
    while len(picked) < nodes:
        ports = WeaviatePorts.pick()
        used = {ports.http, ports.grpc, ports.gossip, ports.gossip + 1, ports.raft, ports.raft + 1}
        if used & taken:
            continue
        taken |= used
        picked.append(ports)
    return picked
