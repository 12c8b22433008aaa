"""`dmctl sandbox demo`: a migration walked through on the sandbox, as a platform engineer does it.

The sandbox control plane runs in this process, the operator as a child process (the command
the Deployment runs), and its copy/sync/validate Jobs as local processes. Each step shows the
command a user types (kubectl or dmctl) and its output; kubectl steps are skipped where kubectl
is absent (the actions themselves go through the kubernetes client).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient
from rich.console import Console
from rich.panel import Panel

from datamigration_operator.migration.sample_data import generate_database, sample_collections
from datamigration_operator.sampleapp.loadgen import LoadGenerator, LoadSettings, verify
from datamigration_operator.sandbox.control_plane import ControlPlane, ControlPlaneThread
from datamigration_operator.sandbox.info import SandboxInfo
from datamigration_operator.sandbox.kube.rollout_controller import RUN_PODS_ANNOTATION

console = Console()
NAMESPACE, NAME = "chat", "chat-history"
APP_CONFIGMAP, CLAIM, SECRET = "chat-app", "chat-data", "weaviate-auth"
APP_DEPLOYMENT = "chat-app"
LOAD_RATE = 20.0  # requests/s the load generator sends while the migration runs
DM_API_VERSION = "migrations.gremlins.ai/v1alpha1"
ROWS = 5_000


def step(title: str) -> None:
    console.rule(f"[bold cyan]{title}")


def show(command: list[str], kubeconfig: str, *, expect_failure: bool = False) -> None:
    """Run a user's command (kubectl or dmctl) and show it with its output."""
    console.print(f"[bold]$ {' '.join(command)}[/]")
    if command[0] == "kubectl" and shutil.which("kubectl") is None:
        console.print("[dim](kubectl is not installed here; skipping its output)[/]")
        return
    if command[0] == "dmctl":
        command = [sys.executable, "-m", "datamigration_operator.cli.main", *command[1:]]
    result = subprocess.run(
        command,
        env={**os.environ, "KUBECONFIG": kubeconfig, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    console.print(result.stdout.rstrip(), markup=False, highlight=False)
    if result.stderr.strip():
        style = "red" if expect_failure else "dim"
        console.print(result.stderr.rstrip(), style=style, markup=False)
    if (result.returncode != 0) != expect_failure:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}")


def repository_file(relative: str) -> Path:
    """A file of the checkout (crds/, manifests/): from the working directory or the source."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (root / relative).exists():
            return root / relative
    raise FileNotFoundError(f"{relative} not found; run the demo from the repository root")


def data_migration(info: SandboxInfo) -> dict[str, Any]:
    collections = [c.model_dump(by_alias=True, exclude_none=True) for c in sample_collections()]
    return {
        "apiVersion": DM_API_VERSION,
        "kind": "DataMigration",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
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
        },
    }


@contextmanager
def operator_process(kubeconfig: str, log: Path) -> Iterator[None]:
    """The operator as the Deployment runs it, in its own process."""
    command = [sys.executable, "-m", "datamigration_operator.handlers", "-A"]
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


def create_application(api: Any, plane: ControlPlane, api_key: str) -> int:
    """The app's namespace, ConfigMap, database on a PVC, Weaviate key and the Jobs' RBAC."""

    def create(api_version: str, kind: str, body: dict[str, Any]) -> None:
        resource = api.resources.get(api_version=api_version, kind=kind)
        resource.create(body, namespace=body["metadata"].get("namespace"))

    create("v1", "Namespace", {"metadata": {"name": NAMESPACE}})
    meta = {"namespace": NAMESPACE}
    create(
        "v1",
        "ConfigMap",
        {"metadata": {**meta, "name": APP_CONFIGMAP}, "data": {"migration_mode": "sqlite_only"}},
    )
    claim_spec = {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}}
    create("v1", "PersistentVolumeClaim", {"metadata": {**meta, "name": CLAIM}, "spec": claim_spec})
    create(
        "v1", "Secret", {"metadata": {**meta, "name": SECRET}, "stringData": {"api-key": api_key}}
    )
    for doc in yaml.safe_load_all(repository_file("manifests/job-rbac.yaml").read_text()):
        if not doc:
            continue
        doc["metadata"]["namespace"] = NAMESPACE
        for subject in doc.get("subjects") or []:
            subject["namespace"] = NAMESPACE
        create(doc["apiVersion"], doc["kind"], doc)
    database = generate_database(plane.runner.claim_dir(NAMESPACE, CLAIM) / "app.db", rows=ROWS)
    return sum(database.counts.values())


def chat_app_deployment(info: SandboxInfo, port: int) -> dict[str, Any]:
    """manifests/sample-app/deployment.yaml, pointed at the sandbox: its pods run as local
    processes (the sandbox's opt-in annotation), all on 127.0.0.1, so the app gets its own port."""
    path = repository_file("manifests/sample-app/deployment.yaml")
    manifest: dict[str, Any] = yaml.safe_load(path.read_text())
    manifest["metadata"]["namespace"] = NAMESPACE
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
    container["ports"][0]["containerPort"] = port
    return manifest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def load_running(url: str) -> Iterator[LoadGenerator]:
    """The load generator against the app for as long as the block runs."""
    generator = LoadGenerator(LoadSettings(url=url, rate=LOAD_RATE, duration=3600))
    thread = threading.Thread(target=lambda: asyncio.run(generator.run()), daemon=True)
    thread.start()
    try:
        yield generator
    finally:
        generator.stop()
        thread.join(60)


def run_demo(data_dir: Path) -> None:
    api_key = os.urandom(12).hex()
    plane = ControlPlane(data_dir, crd_dir=repository_file("crds"), weaviate_api_key=api_key)
    with ControlPlaneThread(plane) as info:
        kc = info.kubeconfig
        step("1. A local control plane: Kubernetes API, Job runner, Weaviate")
        console.print(f"Kubernetes API {info.kube_url}   Weaviate {info.weaviate_url}")
        console.print(f"export KUBECONFIG={kc}")
        show(["kubectl", "get", "crds"], kc)

        step("2. The application: ConfigMap, SQLite database on a PVC, Weaviate API key")
        # The kubernetes package ships these two untyped.
        api_client = k8s_config.new_client_from_config(config_file=kc)  # type: ignore[no-untyped-call]
        try:
            api = DynamicClient(api_client)  # type: ignore[no-untyped-call]
            rows = create_application(api, plane, api_key)
            console.print(f"generated {rows} rows (conversations, messages, documents) on {CLAIM}")
            port = free_port()
            deployments = api.resources.get(api_version="apps/v1", kind="Deployment")
            deployments.create(chat_app_deployment(info, port), namespace=NAMESPACE)
        finally:
            # its pooled TLS connection would keep the API server's side open at shutdown
            api_client.close()
        show(["kubectl", "rollout", "status", f"deployment/{APP_DEPLOYMENT}", "-n", NAMESPACE,
              "--timeout=60s"], kc)  # fmt: skip
        show(["kubectl", "get", "configmap,pvc,secret,deployment,pods", "-n", NAMESPACE], kc)
        app_url = f"http://127.0.0.1:{port}"
        console.print(
            f"the chat app serves {app_url}; a load generator now writes and reads "
            f"{LOAD_RATE:.0f} requests/s through every step below"
        )

        with operator_process(kc, data_dir / "operator.log"), load_running(app_url) as load:
            step("3. The operator runs; apply a DataMigration (phase migrate: the copy Job)")
            manifest = data_dir / "datamigration.yaml"
            manifest.write_text(yaml.safe_dump(data_migration(info), sort_keys=False))
            show(["kubectl", "apply", "-f", str(manifest)], kc)
            show(["dmctl", "advance", NAME, "migrate", "-n", NAMESPACE, "--wait", "120"], kc)
            show(["kubectl", "get", "dm,jobs", "-n", NAMESPACE], kc)

            step("4. The API server refuses an unsafe jump")
            patch = '{"spec":{"phase":"switch"}}'
            show(
                ["kubectl", "patch", "dm", NAME, "-n", NAMESPACE, "--type", "merge", "-p", patch],
                kc,
                expect_failure=True,
            )

            step("5. dual-write (the app writes both; a sync Job closes the gap), then validate")
            for phase in ("dual-write", "validate"):
                show(["dmctl", "advance", NAME, phase, "-n", NAMESPACE, "--wait", "120"], kc)
            show(["dmctl", "status", NAME, "-n", NAMESPACE], kc)

            step("6. switch: reads go to Weaviate (writes still reach both)")
            show(["dmctl", "advance", NAME, "switch", "-n", NAMESPACE, "--wait", "60"], kc)
            jsonpath = "jsonpath={.data.migration_mode}{'\\n'}"
            show(["kubectl", "get", "cm", APP_CONFIGMAP, "-n", NAMESPACE, "-o", jsonpath], kc)
            show(["kubectl", "describe", "dm", NAME, "-n", NAMESPACE], kc)

            step("7. Something looks wrong? Roll back: sqlite_only first, in well under a second")
            started = time.monotonic()
            show(["dmctl", "rollback", NAME, "-n", NAMESPACE], kc)
            console.print(f"rolled back in {time.monotonic() - started:.2f} s (including dmctl)")
            show(["kubectl", "get", "dm", "-n", NAMESPACE], kc)
            show(["kubectl", "logs", f"deployment/{APP_DEPLOYMENT}", "-n", NAMESPACE], kc)

            step("8. The app under load: every acknowledged write is still there")
            load.stop()
        report = load.report.summary()
        problems = asyncio.run(verify(app_url, load.state))
        latency = report["write_latency_ms"]
        console.print(
            f"{report['requests']} requests ({report['writes']} writes) during the migration, "
            f"{report['failed']} failed; write latency p50 {latency.get('p50')} ms, "
            f"p99 {latency.get('p99')} ms; {len(problems)} acknowledged writes missing"
        )
        for line in [*report["failure_examples"], *problems[:10]]:
            console.print(f"  {line}", style="red", markup=False)
        if report["failed"] or problems:
            raise RuntimeError("the app lost or failed writes during the migration")
        console.print(
            Panel(
                f"{rows} rows copied, synced and validated with 0 differences while the app "
                f"kept writing ({report['writes']} writes, none lost); the app's mode followed "
                "every phase. The state stays in memory: nothing is left running.",
                title="done",
            )
        )


def main(data_dir: Path | None) -> None:
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        run_demo(data_dir)
        return
    with tempfile.TemporaryDirectory(prefix="dmctl-demo-") as tmp:
        run_demo(Path(tmp))
