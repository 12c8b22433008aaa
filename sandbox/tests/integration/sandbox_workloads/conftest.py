"""A ControlPlaneThread (no RBAC, no CRDs) talked to by the real kubernetes client, a namespace
per test, and a Deployment of `mode_app.py` that opts in to running its pods."""

from __future__ import annotations

import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import kubernetes
import pytest
from kubernetes.config import new_client_from_config

from datamigration_sandbox.control_plane import ControlPlane, ControlPlaneThread
from datamigration_sandbox.kube.rollout_controller import RUN_PODS_ANNOTATION

APP = Path(__file__).with_name("mode_app.py")
CONFIG_MAP = "app-config"
MODE_PATH = "/etc/app/migration_mode"
T = TypeVar("T")


@dataclass
class Sandbox:
    plane: ControlPlane
    thread: ControlPlaneThread
    kubeconfig: str
    api: kubernetes.client.ApiClient

    @property
    def core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.api)

    @property
    def apps(self) -> kubernetes.client.AppsV1Api:
        return kubernetes.client.AppsV1Api(self.api)

    def pods_of(self, namespace: str, deployment: str) -> list[Any]:
        """Pods owned by the Deployment (not yet deleted)."""
        pods = self.core.list_namespaced_pod(namespace).items
        return [
            p
            for p in pods
            if any(
                r.kind == "Deployment" and r.name == deployment
                for r in p.metadata.owner_references or []
            )
        ]

    def pod_log(self, namespace: str, pod: str, container: str | None = "app") -> str:
        """The container's log; naming the container also finds the log of a deleted pod."""
        return self.plane.runner.pod_log(namespace, pod, container) or ""


def start_sandbox(data_dir: Path) -> Sandbox:
    plane = ControlPlane(data_dir)
    thread = ControlPlaneThread(plane)
    info = thread.start()
    return Sandbox(
        plane, thread, info.kubeconfig, new_client_from_config(config_file=str(info.kubeconfig))
    )


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    box = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    try:
        yield box
    finally:
        box.api.close()
        box.thread.stop()


@pytest.fixture
def namespace(sandbox: Sandbox) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    sandbox.core.create_namespace({"metadata": {"name": name}})
    sandbox.core.create_namespaced_config_map(
        name, {"metadata": {"name": CONFIG_MAP}, "data": {"migration_mode": "sqlite_only"}}
    )
    return name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_deployment(
    name: str,
    port: int,
    *,
    replicas: int = 1,
    run_pods: bool = True,
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
    container: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Deployment of mode_app.py with the app ConfigMap mounted at /etc/app."""
    variables = {"PORT": str(port), "MODE_FILE": MODE_PATH, **(env or {})}
    main: dict[str, Any] = {
        "name": "app",
        "image": "sandbox/chat-history:dev",
        "command": command or [sys.executable, str(APP)],
        "env": [{"name": k, "value": v} for k, v in variables.items()],
        "ports": [{"name": "http", "containerPort": port}],
        "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": True}],
        **(container or {}),
    }
    annotations = {RUN_PODS_ANNOTATION: "true"} if run_pods else {}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [main],
                    "volumes": [{"name": "config", "configMap": {"name": CONFIG_MAP}}],
                },
            },
        },
    }


def wait_for(predicate: Callable[[], T | None], what: str, within: float = 30.0) -> T:
    """Polls until `predicate` returns a truthy value (a generous bound, not a timing check)."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def http_get(port: int, path: str) -> tuple[int, str] | None:
    """(status, body), or None while nothing answers on the port."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return None


def rollout_complete(deployment: Any) -> bool:
    """kubectl rollout status' check on a V1Deployment."""
    status, desired = deployment.status, deployment.spec.replicas
    return status is not None and bool(
        (status.observed_generation or 0) >= deployment.metadata.generation
        and (status.updated_replicas or 0) == desired
        and (status.replicas or 0) == desired
        and (status.available_replicas or 0) == desired
    )


def process_alive(pid: int) -> bool:
    """True while the process runs (a zombie not yet reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def rolled_out(sandbox: Sandbox, namespace: str, name: str, what: str) -> Any:
    """Waits until the Deployment's rollout is complete; returns it (a V1Deployment)."""
    return wait_for(
        lambda: (
            (d := sandbox.apps.read_namespaced_deployment(name, namespace))
            and rollout_complete(d)
            and d
        ),
        what,
    )
