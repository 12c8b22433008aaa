"""The real control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, the process kubelet (a child process) and one weaviate-server node.

    with RealControlPlane(data_dir) as plane:   # or plane.start() / plane.stop()
        info = plane.info                       # kubeconfig, API URL, Weaviate ports

Start-up: credentials, then etcd and Weaviate together, the API server once etcd answers, then
the controller manager, the scheduler and the kubelet; ready when the node is Ready, the
`default` ServiceAccount exists (pods can be admitted) and Weaviate answers /v1/.well-known/ready.
Stop: the reverse order. Every server logs to `<data-dir>/logs/<server>.log`.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import astuple, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from datamigration_sandbox.info import SandboxInfo
from datamigration_sandbox.kube.kubeconfig import write_kubeconfig
from datamigration_sandbox.real.cluster_credentials import ClusterCredentials
from datamigration_sandbox.real.kubelet import NODE_NAME
from datamigration_sandbox.real.kubelet_settings import DEFAULT_SYNC_PERIOD
from datamigration_sandbox.real.loopback_ports import free_port_pair, free_ports
from datamigration_sandbox.real.server_binaries import locate_binaries, server_versions
from datamigration_sandbox.real.server_process import (
    ServerProcess,
    ServerStartError,
    http_ok,
)
from datamigration_sandbox.real.weaviate_cluster import cluster_env, distinct_ports, listens
from datamigration_sandbox.real.weaviate_node import WeaviatePorts, weaviate_argv, weaviate_env

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


@dataclass
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kubelet: int
    weaviate_http: int
    weaviate_grpc: int
    weaviate_gossip: int
    weaviate_data: int
    weaviate_raft: int
    weaviate_raft_rpc: int

    @classmethod
    def pick(cls) -> Ports:
        gossip, raft = free_port_pair(), free_port_pair()
        taken = {gossip, gossip + 1, raft, raft + 1}
        etcd_client, etcd_peer, api, kcm, scheduler, kubelet, http, grpc = [
            p for p in free_ports(16) if p not in taken
        ][:8]
        return cls(
            etcd_client,
            etcd_peer,
            api,
            kcm,
            scheduler,
            kubelet,
            http,
            grpc,
            weaviate_gossip=gossip,
            weaviate_data=gossip + 1,
            weaviate_raft=raft,
            weaviate_raft_rpc=raft + 1,
        )


@dataclass
class StartupTimes:
    """Seconds from the start of `start()` until each piece was ready."""

    marks: dict[str, float] = field(default_factory=dict)


class RealControlPlane:
    def __init__(
        self,
        data_dir: Path,
        *,
        binaries: Path | None = None,
        kubeconfig: Path | None = None,
        kubelet_sync_period: float = DEFAULT_SYNC_PERIOD,
        kubelet_path_prefix: tuple[Path, ...] = (),
        kubelet_image_path_prefix: Mapping[str, tuple[Path, ...]] | None = None,
        weaviate: bool = True,
        weaviate_api_key: str | None = None,
        weaviate_nodes: int = 1,
        crd_dir: Path | None = None,
        timeout: float = 120.0,
    ) -> None:
        """`weaviate_nodes` > 1: a replicated Weaviate cluster on loopback (weaviate_cluster);
        node 1 serves the ports in `info`, nodes 2.. run as weaviate-server-2, ...
        `kubelet_path_prefix`: folders every container searches first for executables;
        `kubelet_image_path_prefix`: the same for the containers of one image only."""
        if weaviate_nodes < 1:
            raise ValueError(f"--weaviate-nodes must be at least 1, not {weaviate_nodes}")
        self.data_dir = data_dir.resolve()
        self._binaries = binaries
        self.kubeconfig = (kubeconfig or self.data_dir / "kubeconfig").resolve()
        self.kubelet_sync_period = kubelet_sync_period
        self.kubelet_path_prefix = kubelet_path_prefix
        self.kubelet_image_path_prefix = dict(kubelet_image_path_prefix or {})
        self.with_weaviate = weaviate
        self.weaviate_api_key = weaviate_api_key
        self.weaviate_nodes = weaviate_nodes
        self.crd_dir = crd_dir
        self.timeout = timeout
        self.ports = Ports.pick()
        self.times = StartupTimes()
        self.versions: dict[str, str] = {}
        self.credentials: ClusterCredentials | None = None
        self._servers: list[ServerProcess] = []  # in start order
        self._cluster_ports: list[WeaviatePorts] | None = None

    # --- public ---------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    @property
    def info(self) -> SandboxInfo:
        return SandboxInfo(
            kube_url=self.api_url,
            kubeconfig=str(self.kubeconfig),
            weaviate_http_port=self.ports.weaviate_http,
            weaviate_grpc_port=self.ports.weaviate_grpc,
            data_dir=str(self.data_dir),
            rbac=True,
        )

    @property
    def admin_token(self) -> str:
        assert self.credentials is not None
        return self.credentials.tokens["admin"]

    def __enter__(self) -> RealControlPlane:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> SandboxInfo:
        began = time.monotonic()
        try:
            self._start(began)
        except BaseException:
            self.stop()
            raise
        self.times.marks["total"] = time.monotonic() - began
        return self.info

    def stop(self) -> None:
        for server in reversed(self._servers):
            server.stop()
        self._servers.clear()

    def server(self, name: str) -> ServerProcess:
        return next(s for s in self._servers if s.name == name)

    def weaviate_down(self) -> None:
        """weaviate-server stopped (SIGTERM, as a pod deletion): both ports refuse connections."""
        self.server("weaviate-server").stop()

    def weaviate_up(self) -> None:
        """weaviate-server started again on the same ports and data; returns once ready."""
        weaviate = self.server("weaviate-server")
        weaviate.start()
        weaviate.wait_ready(self._weaviate_ready(), self.timeout)

    def claim_folder(self, namespace: str, claim: str, timeout: float = 60.0) -> Path:
        """The local folder behind a claim once the PV controller bound it to our provisioner's
        hostPath volume (what the process kubelet mounts into the claim's pods)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                pvc = self._api_get(
                    f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{claim}"
                )
                volume = (pvc.get("spec") or {}).get("volumeName")
                if volume and (pvc.get("status") or {}).get("phase") == "Bound":
                    pv = self._api_get(f"/api/v1/persistentvolumes/{volume}")
                    folder = Path(pv["spec"]["hostPath"]["path"])
                    folder.mkdir(parents=True, exist_ok=True)
                    return folder
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"claim {namespace}/{claim} not bound within {timeout:.0f} s")
            time.sleep(0.2)

    # --- start-up -------------------------------------------------------------------------

    def _start(self, began: float) -> None:
        binaries = self._binaries or locate_binaries()
        self.versions = server_versions(binaries)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        credentials = ClusterCredentials.generate(self.data_dir / "pki")
        self.credentials = credentials
        ports = self.ports
        etcd = self._spawn("etcd", [str(binaries / "etcd"), *self._etcd_args()])
        weaviates = []
        if self.with_weaviate:
            weaviates = self._spawn_weaviate(binaries)
        self._ready(etcd, http_ok(f"http://127.0.0.1:{ports.etcd_client}/health"), began)
        apiserver = self._spawn(
            "kube-apiserver", [str(binaries / "kube-apiserver"), *self._apiserver_args()]
        )
        self._ready(
            apiserver,
            http_ok(f"{self.api_url}/readyz", ca_file=credentials.ca_cert, token=self.admin_token),
            began,
        )
        for name in ("admin", "controller-manager", "scheduler", "kubelet"):
            write_kubeconfig(
                self._kubeconfig_path(name),
                self.api_url,
                token=credentials.tokens[name],
                context="real",
                certificate_authority=credentials.ca_cert.read_bytes(),
            )
        self.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        if self.kubeconfig != self._kubeconfig_path("admin"):
            self.kubeconfig.write_bytes(self._kubeconfig_path("admin").read_bytes())
            self.kubeconfig.chmod(0o600)
        kcm = self._spawn(
            "kube-controller-manager",
            [str(binaries / "kube-controller-manager"), *self._controller_manager_args()],
        )
        scheduler = self._spawn(
            "kube-scheduler",
            [
                str(binaries / "kube-scheduler"),
                f"--kubeconfig={self._kubeconfig_path('scheduler')}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={ports.scheduler}",
            ],
        )
        kubelet = self._spawn("kubelet", self._kubelet_argv())
        self._ready(kcm, http_ok(f"https://127.0.0.1:{ports.controller_manager}/healthz"), began)
        self._ready(scheduler, http_ok(f"https://127.0.0.1:{ports.scheduler}/readyz"), began)
        self._ready(kubelet, self._node_ready, began)
        if self.crd_dir is not None:
            served = self._apply_crds(self.crd_dir)
            # a new CRD's storage answers 429 "(re)initializing" for a moment after it is created
            self._ready(apiserver, lambda: all(map(self._lists, served)), began, mark="crds")
        self._ready(kcm, self._default_service_account, began, mark="default-serviceaccount")
        for weaviate, node in zip(weaviates, self._weaviate_cluster_ports(), strict=False):
            ready = http_ok(f"http://127.0.0.1:{node.http}/v1/.well-known/ready")
            self._ready(weaviate, ready, began)

    def _spawn_weaviate(self, binaries: Path) -> list[ServerProcess]:
        if self.weaviate_nodes == 1:
            argv = weaviate_argv(binaries, self._weaviate_ports())
            return [self._spawn("weaviate-server", argv, env=self._weaviate_env())]
        nodes = self._weaviate_cluster_ports()
        spawned = []
        for index, ports in enumerate(nodes):
            name = "weaviate-server" if index == 0 else f"weaviate-server-{index + 1}"
            data = self.data_dir / ("weaviate" if index == 0 else f"weaviate-{index + 1}")
            env = cluster_env(data, nodes, index, self.weaviate_api_key)
            spawned.append(self._spawn(name, weaviate_argv(binaries, ports), env=env))
            if index == 0:  # the others join its gossip once, when they start
                spawned[0].wait_ready(partial(listens, ports.gossip), self.timeout)
        return spawned

    def _weaviate_cluster_ports(self) -> list[WeaviatePorts]:
        if self._cluster_ports is None:
            self._cluster_ports = [self._weaviate_ports()]
            self._cluster_ports += distinct_ports(
                self.weaviate_nodes - 1, taken=set(astuple(self.ports))
            )
        return self._cluster_ports

    def _weaviate_ready(self) -> Any:
        return http_ok(f"http://127.0.0.1:{self.ports.weaviate_http}/v1/.well-known/ready")

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> ServerProcess:
        server = ServerProcess(name, argv, self.data_dir / "logs" / f"{name}.log", env=env)
        server.start()
        self._servers.append(server)
        return server

    def _ready(self, server: ServerProcess, check: Any, began: float, mark: str = "") -> None:
        server.wait_ready(check, self.timeout)
        self.times.marks[mark or server.name] = time.monotonic() - began

    def _kubeconfig_path(self, identity: str) -> Path:
        return self.data_dir / "kubeconfigs" / f"{identity}.kubeconfig"

    def _etcd_args(self) -> list[str]:
        client = f"http://127.0.0.1:{self.ports.etcd_client}"
        peer = f"http://127.0.0.1:{self.ports.etcd_peer}"
        return [
            "--name=default",
            f"--data-dir={self.data_dir / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}",
            "--log-level=warn",
            "--unsafe-no-fsync",  # test data: speed over durability
        ]

    def _apiserver_args(self) -> list[str]:
        c = self.credentials
        assert c is not None
        return [
            f"--etcd-servers=http://127.0.0.1:{self.ports.etcd_client}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.ports.apiserver}",
            "--advertise-address=127.0.0.1",
            "--endpoint-reconciler-type=none",
            f"--cert-dir={self.data_dir / 'apiserver-certs'}",
            f"--tls-cert-file={c.serving_cert}",
            f"--tls-private-key-file={c.serving_key}",
            f"--client-ca-file={c.ca_cert}",
            f"--token-auth-file={c.token_file}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={c.service_account_pub}",
            f"--service-account-signing-key-file={c.service_account_key}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--kubelet-preferred-address-types=InternalIP",
            f"--kubelet-certificate-authority={c.ca_cert}",
            "--profiling=false",
        ]

    def _controller_manager_args(self) -> list[str]:
        c = self.credentials
        assert c is not None
        return [
            f"--kubeconfig={self._kubeconfig_path('controller-manager')}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.ports.controller_manager}",
            f"--cert-dir={self.data_dir / 'kcm-certs'}",
            f"--service-account-private-key-file={c.service_account_key}",
            f"--root-ca-file={c.ca_cert}",
            "--use-service-account-credentials",
            f"--cluster-signing-cert-file={c.ca_cert}",
            f"--cluster-signing-key-file={c.ca_key}",
            "--profiling=false",
        ]

    def _kubelet_argv(self) -> list[str]:
        c = self.credentials
        assert c is not None
        argv = [
            sys.executable,
            "-m",
            "datamigration_sandbox.real.kubelet",
            f"--kubeconfig={self._kubeconfig_path('kubelet')}",
            f"--data-dir={self.data_dir / 'kubelet'}",
            f"--node-name={NODE_NAME}",
            f"--port={self.ports.kubelet}",
            f"--tls-cert={c.kubelet_cert}",
            f"--tls-key={c.kubelet_key}",
            f"--sync-period={self.kubelet_sync_period}",
        ]
        argv += [f"--path-prefix={p}" for p in self.kubelet_path_prefix]
        argv += [
            f"--image-path-prefix={image}={folder}"
            for image, folders in self.kubelet_image_path_prefix.items()
            for folder in folders
        ]
        return argv

    def _weaviate_ports(self) -> WeaviatePorts:
        p = self.ports
        return WeaviatePorts(p.weaviate_http, p.weaviate_grpc, p.weaviate_gossip, p.weaviate_raft)

    def _weaviate_env(self) -> dict[str, str]:
        ports, key = self._weaviate_ports(), self.weaviate_api_key
        return weaviate_env(self.data_dir / "weaviate", ports, key)

    # --- API checks (admin token, stdlib only) --------------------------------------------

    def _api_get(self, path: str) -> Any:
        import ssl

        assert self.credentials is not None
        context = ssl.create_default_context(cafile=str(self.credentials.ca_cert))
        request = urllib.request.Request(
            self.api_url + path, headers={"Authorization": f"Bearer {self.admin_token}"}
        )
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return json.loads(response.read())

    def _node_ready(self) -> bool:
        try:
            node = self._api_get(f"/api/v1/nodes/{NODE_NAME}")
        except OSError:
            return False
        conditions = (node.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    def _default_service_account(self) -> bool:
        try:
            self._api_get("/api/v1/namespaces/default/serviceaccounts/default")
        except OSError:
            return False
        return True

    def _lists(self, path: str) -> bool:
        try:
            self._api_get(path + "?limit=1")
        except (urllib.error.URLError, OSError):
            return False
        return True

    def _apply_crds(self, directory: Path) -> list[str]:
        """Creates the CRDs in `directory`; the API paths of their collections (cluster-wide)."""
        import ssl

        assert self.credentials is not None
        context = ssl.create_default_context(cafile=str(self.credentials.ca_cert))
        served: list[str] = []
        for path in sorted(directory.glob("*.y*ml")):
            for document in yaml.safe_load_all(path.read_text()):
                if not document or document.get("kind") != "CustomResourceDefinition":
                    continue
                request = urllib.request.Request(
                    f"{self.api_url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                    data=json.dumps(document).encode(),
                    method="POST",
                    headers={
                        "Authorization": f"Bearer {self.admin_token}",
                        "Content-Type": "application/json",
                    },
                )
                try:
                    with urllib.request.urlopen(request, timeout=10, context=context):
                        pass
                except urllib.error.HTTPError as exc:
                    if exc.code != 409:
                        raise ServerStartError(
                            f"CRD {path.name}: {exc.code} {exc.read()[:500]!r}"
                        ) from exc
                spec = document["spec"]
                served += [
                    f"/apis/{spec['group']}/{version['name']}/{spec['names']['plural']}"
                    for version in spec["versions"]
                    if version.get("served")
                ]
        return served
