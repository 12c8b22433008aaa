"""The real tier: one real control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, the process kubelet, weaviate-server) for the whole session.

The binaries come from scripts/build-servers.sh (scripts/test.sh builds them before pytest;
a cold build takes ~16 min, a warm call 0.1 s). The kubelet syncs pods every second here (a
real one every 60-90 s) so ConfigMap volume changes arrive fast. Containers of the image
JOB_STAND_IN_IMAGE find the acceptance suite's Job stand-in as `dmctl` (the operator of
tests/real/operator_acceptance runs its Jobs with that image); every other image runs this
checkout's own commands.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config

from datamigration_operator.api.job_contract import JobTarget
from datamigration_operator.api.spec import Endpoint
from datamigration_sandbox.real.control_plane import RealControlPlane
from datamigration_sandbox.real.server_binaries import locate_binaries
from tests.integration.operator_acceptance.conftest import install_job_stand_in

REPO = Path(__file__).resolve().parents[2]
KUBECTL = "/usr/bin/kubectl"
# Weaviate takes this key only (no anonymous access), as the walk's Secret carries it
WEAVIATE_API_KEY = "real-tier-" + uuid.uuid4().hex[:12]
JOB_STAND_IN_IMAGE = "localhost/datamigration-job-stand-in:test"
T = TypeVar("T")


@dataclass
class RealCluster:
    plane: RealControlPlane
    api: client.ApiClient

    @property
    def kubeconfig(self) -> Path:
        return self.plane.kubeconfig

    @property
    def weaviate_target(self) -> JobTarget:
        """The real weaviate-server's endpoints (plain HTTP and gRPC on loopback)."""
        ports = self.plane.ports
        return JobTarget(
            http=Endpoint(host="127.0.0.1", port=ports.weaviate_http),
            grpc=Endpoint(host="127.0.0.1", port=ports.weaviate_grpc),
            tls=False,
        )

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        result = subprocess.run(
            [KUBECTL, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}")
        return result

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)


def eventually(probe: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    binaries = locate_binaries()  # never skips: builds them when absent
    stand_in = install_job_stand_in(tmp_path_factory.mktemp("job-stand-in"))
    plane = RealControlPlane(
        tmp_path_factory.mktemp("real-cluster"),
        binaries=binaries,
        kubelet_sync_period=1.0,
        kubelet_image_path_prefix={JOB_STAND_IN_IMAGE: (stand_in,)},
        crd_dir=REPO / "crds",
        weaviate_api_key=WEAVIATE_API_KEY,
    )
    plane.start()
    api = config.new_client_from_config(str(plane.kubeconfig))
    try:
        yield RealCluster(plane, api)
    finally:
        api.close()
        plane.stop()


@pytest.fixture
def namespace(real_cluster: RealCluster) -> Iterator[str]:
    """A fresh namespace whose `default` ServiceAccount exists (pods can be admitted)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    core = real_cluster.core
    core.create_namespace({"metadata": {"name": name}})

    def account() -> bool:
        try:
            core.read_namespaced_service_account("default", name)
        except client.ApiException:
            return False
        return True

    eventually(account, "the default ServiceAccount", 30)
    yield name
    core.delete_namespace(name, grace_period_seconds=0)


def python_pod_spec(code: str, *args: str, **extra: Any) -> dict[str, Any]:
    """A pod spec whose one container runs `python -c code args` (this machine's Python)."""
    container: dict[str, Any] = {
        "name": "main",
        "image": "python:3.11-slim",
        "command": ["python", "-c", code, *args],
    }
    container.update(extra.pop("container", {}))
    return {"containers": [container], **extra}
