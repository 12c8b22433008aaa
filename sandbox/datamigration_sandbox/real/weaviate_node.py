"""One weaviate-server node on 127.0.0.1: its environment (ports, auth, quiet defaults) for the
real control plane, and a node on its own for the benchmarks (no Kubernetes needed).

    with WeaviateNode(data_dir) as node:      # ready when /v1/.well-known/ready answers
        node.http_port, node.grpc_port, node.pid
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datamigration_sandbox.real.loopback_ports import free_port_pair, free_ports
from datamigration_sandbox.real.server_binaries import locate_binaries, server_versions
from datamigration_sandbox.real.server_process import ServerProcess, http_ok


@dataclass(frozen=True)
class WeaviatePorts:
    http: int
    grpc: int
    gossip: int  # the cluster data port is gossip + 1
    raft: int  # the raft internal RPC port is raft + 1

    @classmethod
    def pick(cls) -> WeaviatePorts:
        gossip, raft = free_port_pair(), free_port_pair()
        taken = {gossip, gossip + 1, raft, raft + 1}
        http, grpc = [p for p in free_ports(6) if p not in taken][:2]
        return cls(http, grpc, gossip, raft)


def weaviate_argv(binaries: Path, ports: WeaviatePorts) -> list[str]:
    return [
        str(binaries / "weaviate-server"),
        "--host",
        "127.0.0.1",
        "--port",
        str(ports.http),
        "--scheme",
        "http",
    ]


def weaviate_env(data_path: Path, ports: WeaviatePorts, api_key: str | None) -> dict[str, str]:
    if api_key is None:
        auth = {"AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true"}
    else:  # one key, no anonymous access; an authenticated user may do everything
        auth = {
            "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "false",
            "AUTHENTICATION_APIKEY_ENABLED": "true",
            "AUTHENTICATION_APIKEY_ALLOWED_KEYS": api_key,
            "AUTHENTICATION_APIKEY_USERS": "sandbox",
        }
    return {
        "PATH": "/usr/bin:/bin",
        "PERSISTENCE_DATA_PATH": str(data_path),
        **auth,
        "DEFAULT_VECTORIZER_MODULE": "none",
        "DISABLE_TELEMETRY": "true",
        "GO_PROFILING_DISABLE": "true",
        "LOG_LEVEL": "warning",
        "CLUSTER_HOSTNAME": "node1",
        "CLUSTER_IN_LOCALHOST": "true",
        "CLUSTER_BIND_ADDR": "127.0.0.1",
        "CLUSTER_ADVERTISE_ADDR": "127.0.0.1",
        "CLUSTER_GOSSIP_BIND_PORT": str(ports.gossip),
        "CLUSTER_DATA_BIND_PORT": str(ports.gossip + 1),
        "RAFT_PORT": str(ports.raft),
        "RAFT_INTERNAL_RPC_PORT": str(ports.raft + 1),
        "RAFT_BOOTSTRAP_EXPECT": "1",
        "GRPC_PORT": str(ports.grpc),
    }


class WeaviateNode:
    """A single weaviate-server in `data_dir` (data in weaviate/, its log in logs/)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        binaries: Path | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self._binaries = binaries
        self.api_key = api_key
        self.timeout = timeout
        self.ports = WeaviatePorts.pick()
        self.version = ""
        self._server: ServerProcess | None = None

    @property
    def http_port(self) -> int:
        return self.ports.http

    @property
    def grpc_port(self) -> int:
        return self.ports.grpc

    @property
    def pid(self) -> int | None:
        return self._server.pid if self._server is not None else None

    def start(self) -> WeaviateNode:
        binaries = self._binaries or locate_binaries()
        self.version = server_versions(binaries).get("weaviate-server", "")
        self._server = ServerProcess(
            "weaviate-server",
            weaviate_argv(binaries, self.ports),
            self.data_dir / "logs" / "weaviate-server.log",
            env=weaviate_env(self.data_dir / "weaviate", self.ports, self.api_key),
        )
        self._server.start()
        try:
            ready = http_ok(f"http://127.0.0.1:{self.ports.http}/v1/.well-known/ready")
            self._server.wait_ready(ready, self.timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> WeaviateNode:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
