"""A migration walked on the sandbox with the sample app under load: the demo's world, the
scenario tests' and the real tier's.

The control plane is the emulator (in this process) or the real servers (`real=True`, or an
already started real plane), the operator runs as a child process (the command its Deployment
runs), the chat app as a Deployment whose pods are local processes (rolled by the operator at
every mode change), and a load generator writes and reads through all of it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any, Final, Protocol

import psutil
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient

from chat_app.loadgen import LoadGenerator, LoadSettings, verify
from datamigration_operator.api.names import GROUP, PLURAL, VERSION
from datamigration_operator.builders.workloads import rollout_complete
from datamigration_operator.cli.migrations import settled
from datamigration_operator.migration.source.app_outbox import AppOutbox
from datamigration_sandbox.info import SandboxInfo
from datamigration_sandbox.kube.rollout_controller import RUN_PODS_ANNOTATION
from datamigration_sandbox.planes import Plane, open_plane, repository_file
from datamigration_sandbox.sample_data import generate_database, sample_collections

NAMESPACE: Final = "chat"
NAME: Final = "chat-history"
APP_CONFIGMAP, CLAIM, SECRET = "chat-app", "chat-data", "weaviate-auth"
APP_DEPLOYMENT: Final = "chat-app"
DM_API_VERSION: Final = f"{GROUP}/{VERSION}"
ROWS: Final = 5_000
# The sandbox's stand-in for a Service is one port every app pod listens on (reuse_port): the
# kernel stops handing a pod connections the moment it stops listening, so no endpoint update
# has to propagate as in a cluster (the manifest's 5 s). Three seconds still outlast the load
# generator's 1 s keep-alive with room for a busy machine, so no pooled connection meets a
# closed port.
SANDBOX_SHUTDOWN_DELAY: Final = 3.0
# Reads per kind and run of the validate Job's read probe: a walk shows its figures, and the
# emulator answers BM25 and filtered reads by scanning every object (the default 200 would
# make each validate of a walk ~20 s longer).
WALK_READ_PROBE_REQUESTS: Final = 50


def data_migration(info: SandboxInfo, namespace: str = NAMESPACE) -> dict[str, Any]:
    collections = [c.model_dump(by_alias=True, exclude_none=True) for c in sample_collections()]
    return {
        "apiVersion": DM_API_VERSION,
        "kind": "DataMigration",
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {
            "phase": "migrate",
            "source": {"claimName": CLAIM, "path": "app.db"},
            "target": {
                "http": {"host": "127.0.0.1", "port": info.weaviate_http_port},
                "grpc": {"host": "127.0.0.1", "port": info.weaviate_grpc_port},
                "apiKeySecretRef": {"name": SECRET, "key": "api-key"},
            },
            "collections": collections,
            "app": {
                "configMapRef": {"name": APP_CONFIGMAP},
                "workloads": [{"kind": "Deployment", "name": APP_DEPLOYMENT}],
            },
            "validation": {"readProbe": {"requests": WALK_READ_PROBE_REQUESTS}},
        },
    }


@contextmanager
def operator_process(kubeconfig: str, log: Path) -> Iterator[None]:
    """The operator as the Deployment runs it, in its own process (no metrics port: walks and
    demos may run side by side)."""
    command = [sys.executable, "-m", "datamigration_operator.handlers", "-A", "--metrics-port=0"]
    with log.open("ab") as output:
        process = subprocess.Popen(
            [*command, "--kubeconfig", kubeconfig], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class OperatorRunner(Protocol):
    """How a World runs its operator: `run` once the app's namespace exists, for as long as
    the World lives; `log` what it wrote so far."""

    def run(self, world: World) -> AbstractContextManager[object]: ...

    def log(self, world: World) -> str: ...


class LocalOperator:
    """The operator as a child process of this one, serving every namespace."""

    def run(self, world: World) -> AbstractContextManager[object]:
        return operator_process(world.info.kubeconfig, world.data_dir / "operator.log")

    def log(self, world: World) -> str:
        path = world.data_dir / "operator.log"
        return path.read_text(errors="replace") if path.exists() else ""


def create_application(api: Any, plane: Plane, rows: int = ROWS, namespace: str = NAMESPACE) -> int:
    """The app's namespace, ConfigMap, database on a PVC, Weaviate key and the Jobs' RBAC."""

    def create(api_version: str, kind: str, body: dict[str, Any]) -> None:
        resource = api.resources.get(api_version=api_version, kind=kind)
        resource.create(body, namespace=body["metadata"].get("namespace"))

    create("v1", "Namespace", {"metadata": {"name": namespace}})
    meta = {"namespace": namespace}
    create(
        "v1",
        "ConfigMap",
        {"metadata": {**meta, "name": APP_CONFIGMAP}, "data": {"migration_mode": "sqlite_only"}},
    )
    claim_spec = {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}}
    create("v1", "PersistentVolumeClaim", {"metadata": {**meta, "name": CLAIM}, "spec": claim_spec})
    create(
        "v1",
        "Secret",
        {"metadata": {**meta, "name": SECRET}, "stringData": {"api-key": plane.weaviate_api_key}},
    )
    # No Job RBAC to apply: the operator creates each DataMigration's ServiceAccount, Role and
    # RoleBinding for its Jobs.
    # the emulator's claim folder at once; the real PV controller's binding first
    database = generate_database(plane.claim_dir(namespace, CLAIM) / "app.db", rows=rows)
    return sum(database.counts.values())


def chat_app_deployment(
    info: SandboxInfo,
    port: int,
    namespace: str = NAMESPACE,
    shutdown_delay: float | None = SANDBOX_SHUTDOWN_DELAY,
) -> dict[str, Any]:
    """manifests/sample-app/deployment.yaml, pointed at the sandbox: its pods run as local
    processes (the sandbox's opt-in annotation), all on 127.0.0.1, so the app gets its own port.
    `shutdown_delay` (seconds an app pod serves after SIGTERM) None keeps the manifest's."""
    path = repository_file("manifests/sample-app/deployment.yaml")
    manifest: dict[str, Any] = yaml.safe_load(path.read_text())
    manifest["metadata"]["namespace"] = namespace
    manifest["metadata"]["annotations"] = {RUN_PODS_ANNOTATION: "true"}
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    overrides = {
        "CHAT_LISTEN": f"127.0.0.1:{port}",
        "WEAVIATE_HTTP": f"127.0.0.1:{info.weaviate_http_port}",
        "WEAVIATE_GRPC": f"127.0.0.1:{info.weaviate_grpc_port}",
    }
    for variable in container["env"]:
        if variable["name"] in overrides:
            variable["value"] = overrides[variable["name"]]
    if shutdown_delay is not None:
        container["env"].append({"name": "CHAT_SHUTDOWN_DELAY", "value": f"{shutdown_delay:g}"})
    container["ports"][0]["containerPort"] = port
    return manifest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def load_running(url: str, rate: float) -> Iterator[LoadGenerator]:
    """The load generator against the app for as long as the block runs."""
    generator = LoadGenerator(LoadSettings(url=url, rate=rate, duration=3600))
    thread = threading.Thread(target=lambda: asyncio.run(generator.run()), daemon=True)
    thread.start()
    try:
        yield generator
    finally:
        generator.stop()
        thread.join(60)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)


class World:
    """The sandbox, the chat app under load, the operator and one DataMigration in phase
    migrate; `advance` drives it, the fault methods break things on the way.

    `real=True` starts the real servers; `plane=` runs on a plane the caller started (and stops).
    `namespace` holds the app and the DataMigration; `operator` runs the operator (default: a
    child process serving every namespace; the real tier also installs it with the Helm chart).
    `shutdown_delay` is how long app pods serve after SIGTERM (None: the manifest's 5 s, as in
    a cluster; it stretches every mode change, which waits for the old pods to exit).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        rate: float,
        rows: int = ROWS,
        replicas: int = 1,
        real: bool = False,
        plane: Plane | None = None,
        namespace: str = NAMESPACE,
        operator: OperatorRunner | None = None,
        shutdown_delay: float | None = SANDBOX_SHUTDOWN_DELAY,
    ) -> None:
        self.data_dir = data_dir
        self.shutdown_delay = shutdown_delay
        self.namespace = namespace
        self.operator: OperatorRunner = operator or LocalOperator()
        self.replicas = replicas
        self.rate = rate
        self.rows = rows
        self.real = real
        self._stack = ExitStack()
        self.load: LoadGenerator | None = None
        self.plane: Plane | None = plane

    def __enter__(self) -> World:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        plane = self.plane
        if plane is None:
            plane = open_plane(self.data_dir, os.urandom(12).hex(), real=self.real)
            self._stack.callback(plane.close)
            self.plane = plane
        self.info = plane.info
        api_client = k8s_config.new_client_from_config(config_file=self.info.kubeconfig)  # type: ignore[no-untyped-call]
        self._stack.callback(api_client.close)
        self.custom = k8s.CustomObjectsApi(api_client)
        self.apps = k8s.AppsV1Api(api_client)
        dynamic = DynamicClient(api_client)  # type: ignore[no-untyped-call]
        create_application(dynamic, plane, self.rows, self.namespace)
        port = free_port()
        deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
        deployment = chat_app_deployment(self.info, port, self.namespace, self.shutdown_delay)
        deployment["spec"]["replicas"] = self.replicas
        deployments.create(deployment, namespace=self.namespace)
        wait_until(self.app_rolled_out, 120, "the chat app's first rollout")
        self.app_url = f"http://127.0.0.1:{port}"
        self._stack.enter_context(self.operator.run(self))
        self.load = LoadGenerator(LoadSettings(url=self.app_url, rate=self.rate, duration=3600))
        self._load_thread = threading.Thread(
            target=lambda: asyncio.run(self._run_load()), daemon=True
        )
        self._load_thread.start()
        self._stack.callback(self._stop_load)
        self.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, data_migration(self.info, self.namespace)
        )

    # -- reading -------------------------------------------------------------------------------

    def operator_log(self) -> str:
        """The operator's log so far (what a failed step shows)."""
        return self.operator.log(self)

    def migration(self) -> dict[str, Any]:
        found = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, NAME
        )
        assert isinstance(found, dict)
        return found

    def app_rolled_out(self) -> bool:
        deployment = self.apps.read_namespaced_deployment(APP_DEPLOYMENT, self.namespace)
        return rollout_complete(self.apps.api_client.sanitize_for_serialization(deployment))

    # -- driving -------------------------------------------------------------------------------

    def patch_spec(self, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, NAME, {"spec": spec}
        )

    def settle(self, phase: str, timeout: float = 180.0) -> dict[str, Any]:
        """Waits until the operator reached a resting state for `phase`; returns the object."""
        found: dict[str, Any] = {}

        def rested() -> bool:
            found.update(self.migration())
            return settled(found, phase)

        wait_until(rested, timeout, f"phase {phase} to settle")
        return found

    def advance(self, phase: str, timeout: float = 180.0) -> dict[str, Any]:
        self.patch_spec({"phase": phase})
        return self.settle(phase, timeout)

    def rerun(self, timeout: float = 180.0) -> dict[str, Any]:
        dm = self.migration()
        self.patch_spec({"rerun": int(dm["spec"].get("rerun", 0)) + 1})
        return self.settle(dm["spec"]["phase"], timeout)

    # -- faults --------------------------------------------------------------------------------

    def app_pod_processes(self) -> list[psutil.Process]:
        """The running chat app pods (local processes of this sandbox)."""
        found = []
        for child in psutil.Process().children(recursive=True):
            try:
                command = child.cmdline()
            except psutil.Error:
                continue
            if "sample-app" in command and "serve" in command:
                found.append(child)
        return found

    def drain_lease_holder(self) -> int | None:
        """The pid of the app process holding the outbox drain lease (holders are named
        host/pid/suffix), if the lease is held."""
        assert self.plane is not None
        database = self.plane.claim_dir(self.namespace, CLAIM) / "app.db"
        with AppOutbox(database) as outbox:
            holder = outbox.state().holder
        return None if holder is None else int(holder.split("/")[-2])

    def kill_app_pod(self) -> int:
        """SIGKILLs the app pod that drains the outbox (else any), process group and all, as a
        node or OOM kill does; returns its pid."""
        processes = self.app_pod_processes()
        if not processes:
            raise RuntimeError("no chat app pod is running")
        holder = self.drain_lease_holder()
        victim = next((p for p in processes if p.pid == holder), processes[0])
        os.killpg(os.getpgid(victim.pid), signal.SIGKILL)
        return victim.pid

    def weaviate_down(self) -> None:
        """Both Weaviate ports closed (connection refused), as during a Weaviate restart."""
        assert self.plane is not None
        self.plane.weaviate_down()

    def weaviate_up(self) -> None:
        """Weaviate back on the same ports, with its data."""
        assert self.plane is not None
        self.plane.weaviate_up()

    # -- the outcome ---------------------------------------------------------------------------

    async def _run_load(self) -> None:
        assert self.load is not None
        await self.load.run()

    def _stop_load(self) -> None:
        if self.load is not None:
            self.load.stop()
            self._load_thread.join(60)

    def load_summary(self) -> dict[str, Any]:
        assert self.load is not None
        return self.load.report.summary()

    def finish_load(self) -> tuple[dict[str, Any], list[str]]:
        """Stops the load (requests in flight end first); returns its summary and every
        acknowledged write that is missing."""
        assert self.load is not None
        self._stop_load()
        summary = self.load.report.summary()
        problems = asyncio.run(verify(self.app_url, self.load.state))
        return summary, problems
