"""The sandbox control plane: the Kubernetes API emulator, the Job runner, the Deployment runner
(pods of Deployments annotated `sandbox.gremlins.ai/run-pods: "true"`) and the Weaviate server
on one asyncio loop, with the CRDs of `crds/` loaded and a kubeconfig written.

`ControlPlane` is the async core; `ControlPlaneThread` runs it on a loop in a background thread so
synchronous clients (the kubernetes client, kubectl, weaviate-client, kopf) can talk to it.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import yaml

from datamigration_sandbox.info import SandboxInfo
from datamigration_sandbox.jobs.pod_worker import KubeletSettings
from datamigration_sandbox.jobs.runner import JobRunner
from datamigration_sandbox.kube.auth import Authenticator, UserInfo
from datamigration_sandbox.kube.kubeconfig import write_kubeconfig
from datamigration_sandbox.kube.server import KubeApiServer
from datamigration_sandbox.kube.serving_certificate import generate_serving_certificate
from datamigration_sandbox.kube.store import Store
from datamigration_sandbox.weaviate.server import WeaviateServer
from datamigration_sandbox.workloads.deployment_runner import DeploymentRunner

T = TypeVar("T")

ADMIN_USER = UserInfo(name="sandbox-admin", groups=("system:masters", "system:authenticated"))
CRD_GROUP = "apiextensions.k8s.io"


def load_manifests(directory: Path) -> list[dict[str, Any]]:
    """Every YAML document in `directory/*.yaml` (sorted, so loading is reproducible)."""
    documents: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                documents.append(doc)
    return documents


class ControlPlane:
    """Starts and stops the three sandbox servers on the running loop."""

    def __init__(
        self,
        data_dir: Path,
        *,
        crd_dir: Path | None = None,
        rbac: bool = False,
        weaviate_api_key: str | None = None,
        kubeconfig: Path | None = None,
        job_path_prefix: tuple[Path, ...] = (),
    ) -> None:
        """`job_path_prefix`: folders searched first for Job container executables."""
        self.data_dir = data_dir
        self.job_path_prefix = job_path_prefix
        self.crd_dir = crd_dir
        self.rbac = rbac
        self.kubeconfig = kubeconfig or data_dir / "kubeconfig"
        self.admin_token = secrets.token_urlsafe(24)
        self.store = Store()
        self.certificate = generate_serving_certificate()
        self.authenticator = Authenticator({self.admin_token: ADMIN_USER})
        self.weaviate = WeaviateServer(api_key=weaviate_api_key)
        self._api: KubeApiServer | None = None
        self._runner: JobRunner | None = None
        self._deployments: DeploymentRunner | None = None
        self.info: SandboxInfo | None = None

    @property
    def runner(self) -> JobRunner:
        if self._runner is None:
            raise RuntimeError("the control plane is not started")
        return self._runner

    async def start(self) -> SandboxInfo:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.crd_dir is not None:
            self.load_crds(self.crd_dir)
        # The API server needs the runner's log source and the runner needs the API URL:
        # construct the server first, start it, then hand its URL to the runner.
        self._api = KubeApiServer(
            self.store,
            authenticator=self.authenticator,
            authorization=self.rbac,
            log_source=self._pod_log,
            tls=self.certificate,
        )
        kube_url = await self._api.start()
        self._runner = JobRunner(
            self.store,
            data_dir=self.data_dir,
            api_url=kube_url,
            certificate_authority=self.certificate.ca_pem,
            path_prefix=self.job_path_prefix,
            authenticator=self.authenticator,
        )
        self._runner.start()  # registers the node, before any Deployment pod is scheduled
        self._deployments = DeploymentRunner(
            KubeletSettings(
                store=self.store,
                data_dir=self.data_dir,  # the Job runner's: pod_log finds these pods' logs
                api_url=kube_url,
                certificate_authority=self.certificate.ca_pem,
                path_prefix=self.job_path_prefix,
                tokens=self.authenticator,
                retry_base_delay=0.2,  # CrashLoopBackOff: 0.2 s doubling to 5 s
                retry_max_delay=5.0,
                kill_grace=2.0,
                # an app's graceful shutdown (drain, then exit) is what a rollout relies on
                honor_grace_period=True,
            )
        )
        self._deployments.start()
        http_port, grpc_port = await self.weaviate.start()
        write_kubeconfig(
            self.kubeconfig,
            kube_url,
            token=self.admin_token,
            certificate_authority=self.certificate.ca_pem,
        )
        self.info = SandboxInfo(
            kube_url=kube_url,
            kubeconfig=str(self.kubeconfig),
            weaviate_http_port=http_port,
            weaviate_grpc_port=grpc_port,
            data_dir=str(self.data_dir),
            rbac=self.rbac,
        )
        return self.info

    def _pod_log(self, namespace: str, pod: str, container: str | None) -> str | None:
        return self._runner.pod_log(namespace, pod, container) if self._runner else None

    def load_crds(self, directory: Path) -> list[str]:
        """Create (or replace) every CRD found in `directory`; returns their names."""
        crd_type = self.store.lookup(CRD_GROUP, "v1", "customresourcedefinitions")
        names: list[str] = []
        for doc in load_manifests(directory):
            if doc.get("kind") != "CustomResourceDefinition":
                continue
            name = doc["metadata"]["name"]
            existing = {o["metadata"]["name"] for o in self.store.list(crd_type, None)[0]}
            if name in existing:
                self.store.update(crd_type, None, name, doc)
            else:
                self.store.create(crd_type, None, doc)
            names.append(name)
        return names

    async def stop(self) -> None:
        if self._deployments is not None:
            await self._deployments.stop()
        if self._runner is not None:
            await self._runner.stop()
        if self._api is not None:
            await self._api.stop()
        await self.weaviate.stop()


class ControlPlaneThread:
    """Runs a `ControlPlane` on its own event loop in a daemon thread."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sandbox", daemon=True)

    def start(self, timeout: float = 30.0) -> SandboxInfo:
        self._thread.start()
        return self.call(self.plane.start(), timeout)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run `coro` on the sandbox loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        try:
            self.call(self.plane.stop(), timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
            self.loop.close()

    def __enter__(self) -> SandboxInfo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
