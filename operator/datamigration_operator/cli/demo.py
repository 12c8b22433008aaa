"""`dmctl sandbox demo`: a migration walked through on the sandbox, as a platform engineer does it.

The sandbox control plane runs in this process, the operator as a child process (the command
the Deployment runs), and its copy/sync/validate Jobs as local processes. Each step shows the
command a user types (kubectl or dmctl) and its output; kubectl steps are skipped where kubectl
is absent (the actions themselves go through the kubernetes client).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
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
from datamigration_operator.sandbox.control_plane import ControlPlane, ControlPlaneThread
from datamigration_operator.sandbox.info import SandboxInfo

console = Console()
NAMESPACE, NAME = "chat", "chat-history"
APP_CONFIGMAP, CLAIM, SECRET = "chat-app", "chat-data", "weaviate-auth"
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
            "app": {"configMapRef": {"name": APP_CONFIGMAP}},
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
        api = DynamicClient(api_client)  # type: ignore[no-untyped-call]
        rows = create_application(api, plane, api_key)
        console.print(f"generated {rows} rows (conversations, messages, documents) on {CLAIM}")
        show(["kubectl", "get", "configmap,pvc,secret", "-n", NAMESPACE], kc)

        with operator_process(kc, data_dir / "operator.log"):
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
        console.print(
            Panel(
                f"{rows} rows copied, synced and validated with 0 differences; the app's mode "
                "followed every phase. The state stays in memory: nothing is left running.",
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
