"""The operator as a real process (`python -m datamigration_operator.handlers`, the Deployment's
command, or `dmctl operator run`) against the sandbox control plane, with Jobs whose outcome
the test controls. Reusable fixtures (module scope unless noted):

- `sandbox` -> Sandbox: the control plane (rbac=True, so the Job's Role is enforced), kubernetes
  clients (`core`, `batch`, `apps`, `custom`), `kubeconfig`, `plane` (runner.kill(), store, ...),
  and `behave(ns, dm, kind, exit=, sleep=, report=)` to script the fake `dmctl job` (see
  fake_dmctl.py); `runs(ns)` lists the Job runs so far.
- `operator_process` -> OperatorProcess: start()/stop()/kill() (SIGKILL)/restart(), `log()`;
  all namespaces, resync timer 2 s.
- `namespace` (function scope) -> str: a fresh namespace (no Job RBAC: the operator creates
  it per DataMigration), the app ConfigMap `app-config`, the PVC `app-data` and the Secret
  `weaviate-auth`.
- `new_datamigration(sandbox, namespace, name, **spec)`: creates a DataMigration (spec defaults
  in `dm_spec`); `advance(sandbox, ns, name, phase)` patches spec.phase and waits until that
  phase Succeeded; `settled(...)`, `wait_for(probe, what, timeout)`, `get_dm`, `patch_spec`,
  `conditions`, `events_of`, `config_map_mode`.
On a failing test the operator's log tail is printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import kubernetes
import pytest
from kubernetes.config import new_client_from_config

from datamigration_sandbox.control_plane import ControlPlane, ControlPlaneThread

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[3]
DMCTL_ENTRY = (str(Path(sys.executable).with_name("dmctl")), "operator", "run")
LEAN_ENTRY = (sys.executable, "-m", "datamigration_operator.handlers")
GROUP, VERSION, PLURAL = "migrations.gremlins.ai", "v1alpha1", "datamigrations"
CONFIG_MAP, CLAIM, SECRET = "app-config", "app-data", "weaviate-auth"
SECRET_VALUE = "sk-sandbox-9f2c41d7e6"  # tests assert it never shows up outside the Secret


@dataclass
class Sandbox:
    thread: ControlPlaneThread
    kubeconfig: Path
    control_dir: Path
    weaviate_ports: tuple[int, int]
    api: kubernetes.client.ApiClient

    @property
    def plane(self) -> ControlPlane:
        return self.thread.plane

    @property
    def core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.api)

    @property
    def batch(self) -> kubernetes.client.BatchV1Api:
        return kubernetes.client.BatchV1Api(self.api)

    @property
    def apps(self) -> kubernetes.client.AppsV1Api:
        return kubernetes.client.AppsV1Api(self.api)

    @property
    def custom(self) -> kubernetes.client.CustomObjectsApi:
        return kubernetes.client.CustomObjectsApi(self.api)

    def behave(self, namespace: str, datamigration: str, kind: str, **behaviour: Any) -> None:
        """Outcome of the next `dmctl job <kind>` runs of this DataMigration."""
        path = self.control_dir / f"{namespace}_{datamigration}.json"
        control = json.loads(path.read_text()) if path.exists() else {}
        control[kind] = behaviour
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(control))
        tmp.replace(path)  # atomic: a Job never reads half a file

    def runs(self, namespace: str) -> list[tuple[str, str]]:
        """(kind, Job name) of every `dmctl job` run in `namespace`, in order."""
        log = self.control_dir / "runs.log"
        lines = log.read_text().splitlines() if log.exists() else []
        parsed = (line.split(" ", 2) for line in lines)
        return [(kind, name) for kind, ns, name in parsed if ns == namespace]


def _write_fake_dmctl(bin_dir: Path, control_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "dmctl"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, runpy\n"
        f"os.environ['FAKE_DMCTL_CONTROL'] = {str(control_dir)!r}\n"
        f"runpy.run_path({str(Path(__file__).with_name('fake_dmctl.py'))!r}, "
        "run_name='__main__')\n"
    )
    script.chmod(0o755)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    base = tmp_path_factory.mktemp("operator-sandbox")
    control_dir = base / "control"
    control_dir.mkdir()
    _write_fake_dmctl(base / "bin", control_dir)
    plane = ControlPlane(
        base / "data", crd_dir=ROOT / "crds", rbac=True, job_path_prefix=(base / "bin",)
    )
    thread = ControlPlaneThread(plane)
    info = thread.start()
    api = new_client_from_config(config_file=str(info.kubeconfig))
    try:
        yield Sandbox(
            thread,
            Path(info.kubeconfig),
            control_dir,
            (info.weaviate_http_port, info.weaviate_grpc_port),
            api,
        )
    finally:
        api.close()
        thread.stop()


class OperatorProcess:
    """The operator as a subprocess; its output goes to a log file."""

    def __init__(
        self,
        kubeconfig: Path,
        log_path: Path,
        *extra: str,
        entry: tuple[str, ...] = LEAN_ENTRY,
    ) -> None:
        """`extra`: more `dmctl operator run` options; without `-n NS`, all namespaces.
        `entry`: LEAN_ENTRY (what the Deployment runs) or DMCTL_ENTRY; same options.
        Metrics are off (`--metrics-port=0`) unless `extra` names a port."""
        self.kubeconfig, self.log_path, self.entry = kubeconfig, log_path, entry
        self.extra = extra if "-n" in extra or "--namespace" in extra else ("-A", *extra)
        if not any(arg.startswith("--metrics-port") for arg in self.extra):
            # Several operators run side by side (HA tests, parallel sessions): no fixed port.
            self.extra = ("--metrics-port=0", *self.extra)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # A short resync lets tests see the timer path (inputs created after a Block) quickly.
        env = {
            **os.environ,
            "DATAMIGRATION_JOB_IMAGE": "sandbox/dmctl:test",
            "DATAMIGRATION_RESYNC_SECONDS": "2",
        }
        argv = [*self.entry, "--kubeconfig", str(self.kubeconfig)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*argv, "--verbose", *self.extra], stdout=log, stderr=subprocess.STDOUT, env=env
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no cleanup, as a node failure or an OOM kill."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def operator_process(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        sandbox.kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log"
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def prepare_namespace(
    api: kubernetes.client.ApiClient, name: str, *, config_map_data: dict[str, str]
) -> None:
    """An app namespace as a user sets it up: the app ConfigMap `app-config`, the PVC
    `app-data` and the Secret `weaviate-auth` (key api-key). No RBAC: the operator creates
    each DataMigration's Job ServiceAccount, Role and RoleBinding."""
    core = kubernetes.client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_config_map(
        name, {"metadata": {"name": CONFIG_MAP}, "data": config_map_data}
    )
    core.create_namespaced_persistent_volume_claim(
        name,
        {
            "metadata": {"name": CLAIM},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    core.create_namespaced_secret(
        name, {"metadata": {"name": SECRET}, "stringData": {"api-key": SECRET_VALUE}}
    )


def create_job_access(api: kubernetes.client.ApiClient, created: dict[str, Any]) -> str:
    """What the operator does before a DataMigration's first Job (builders.job_access), for
    tests that run a Job without the operator: returns the ServiceAccount's name."""
    from datamigration_operator.api.resource import DataMigration
    from datamigration_operator.builders.job_access import build_job_access
    from datamigration_operator.reconcile.job_names import job_account_name

    dm = DataMigration.from_object(created)
    name, namespace = job_account_name(dm.metadata.name), dm.metadata.namespace
    core = kubernetes.client.CoreV1Api(api)
    rbac = kubernetes.client.RbacAuthorizationV1Api(api)
    for obj in build_job_access(dm, name):
        if obj["kind"] == "ServiceAccount":
            core.create_namespaced_service_account(namespace, obj)
        elif obj["kind"] == "Role":
            rbac.create_namespaced_role(namespace, obj)
        else:
            rbac.create_namespaced_role_binding(namespace, obj)
    return name


@pytest.fixture
def namespace(sandbox: Sandbox) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    prepare_namespace(sandbox.api, name, config_map_data={"other": "kept"})
    return name


def dm_spec(sandbox: Sandbox, **overrides: Any) -> dict[str, Any]:
    http, grpc = sandbox.weaviate_ports
    spec: dict[str, Any] = {
        "phase": "migrate",
        "source": {"claimName": CLAIM, "path": "app.db"},
        "target": {
            "http": {"host": "127.0.0.1", "port": http},
            "grpc": {"host": "127.0.0.1", "port": grpc},
            "apiKeySecretRef": {"name": SECRET, "key": "api-key"},
        },
        "collections": [{"table": "items", "collection": "Item"}],
        "app": {"configMapRef": {"name": CONFIG_MAP}},
    }
    spec.update(overrides)
    return spec


def own_collection(namespace: str, name: str) -> str:
    """A collection no other test's DataMigration names: one Weaviate serves every test, and
    of two DataMigrations naming one collection the younger is Blocked."""
    return "Item" + hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()[:12]


def new_datamigration(sandbox: Sandbox, namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault(
        "collections", [{"table": "items", "collection": own_collection(namespace, name)}]
    )
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DataMigration",
        "metadata": {"name": name},
        "spec": dm_spec(sandbox, **spec),
    }
    created: dict[str, Any] = sandbox.custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body
    )
    return created


def get_dm(sandbox: Sandbox, namespace: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = sandbox.custom.get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    return obj


def patch_spec(sandbox: Sandbox, namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = sandbox.custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, {"spec": spec}
    )
    return obj


def conditions(dm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (dm.get("status") or {}).get("conditions") or []}


def events_of(sandbox: Sandbox, namespace: str, name: str) -> list[Any]:
    events = sandbox.core.list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    return [e for e in events.items if e.involved_object.kind == "DataMigration"]


def config_map_mode(sandbox: Sandbox, namespace: str) -> str | None:
    data = sandbox.core.read_namespaced_config_map(CONFIG_MAP, namespace).data or {}
    value: str | None = data.get("migration_mode")
    return value


def wait_for(probe: Callable[[], T], what: str, timeout: float = 30.0) -> T:
    """Polls until `probe` returns something truthy; generous timeouts, never a speed claim."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def settled(sandbox: Sandbox, namespace: str, name: str, phase: str) -> dict[str, Any] | None:
    """The DataMigration once `phase` is reconciled for its generation and Succeeded."""
    dm = get_dm(sandbox, namespace, name)
    status = dm.get("status") or {}
    done = (
        status.get("phase") == phase
        and status.get("observedGeneration") == dm["metadata"]["generation"]
        and status.get("state") == "Succeeded"
    )
    return dm if done else None


def state_is(
    sandbox: Sandbox, namespace: str, name: str, state: str, reason: str | None = None
) -> dict[str, Any] | None:
    """The DataMigration once status.state (and the Ready reason) match for its generation."""
    dm = get_dm(sandbox, namespace, name)
    status = dm.get("status") or {}
    ready = conditions(dm).get("Ready") or {}
    done = (
        status.get("state") == state
        and status.get("observedGeneration") == dm["metadata"]["generation"]
        and (reason is None or ready.get("reason") == reason)
    )
    return dm if done else None


def advance(sandbox: Sandbox, namespace: str, name: str, *phases: str) -> dict[str, Any]:
    """Patch spec.phase through `phases`, waiting for each to succeed."""
    dm: dict[str, Any] = {}
    for phase in phases:
        patch_spec(sandbox, namespace, name, phase=phase)
        dm = wait_for(
            lambda phase=phase: settled(sandbox, namespace, name, phase),  # type: ignore[misc]
            f"{namespace}/{name} phase {phase} to succeed",
        )
    return dm


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call" and report.failed:
        process = getattr(item, "funcargs", {}).get("operator_process")
        if isinstance(process, OperatorProcess):
            report.sections.append(("operator log (tail)", process.log()[-8000:]))


def warnings_of(sandbox: Sandbox, namespace: str, name: str, reason: str) -> list[Any]:
    """The Warning events with `reason`, once there is one: the operator writes status first
    and posts events right after, so a test that saw the status may be a moment early."""

    def found() -> list[Any]:
        events = events_of(sandbox, namespace, name)
        return [e for e in events if e.type == "Warning" and e.reason == reason]

    wait_for(found, f"a Warning event {reason}")
    return found()
