"""`dmctl sandbox demo`: a guided walk through the sandbox with kubectl and the real clients.

Each step shows the kubectl command a user would type and its output. Actions go through the
kubernetes client, so the demo also runs where kubectl is absent (it then shows no output).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import weaviate
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient
from rich.console import Console
from rich.panel import Panel

from datamigration_operator.sandbox.control_plane import ControlPlane, ControlPlaneThread

console = Console()
NAMESPACE = "chat"
APP_CONFIGMAP = "chat-app"
CLAIM = "chat-data"
DM_GROUP, DM_VERSION = "migrations.gremlins.ai", "v1alpha1"


def step(title: str) -> None:
    console.rule(f"[bold cyan]{title}")


def kubectl(kubeconfig: str, *args: str, expect_failure: bool = False) -> None:
    """Show `kubectl ARGS` and its output, as the user would see it."""
    console.print(f"[bold]$ kubectl {' '.join(args)}[/]")
    if shutil.which("kubectl") is None:
        console.print("[dim](kubectl is not installed here; skipping its output)[/]")
        return
    result = subprocess.run(
        ["kubectl", *args],
        env={**os.environ, "KUBECONFIG": kubeconfig},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    console.print(result.stdout.rstrip() or "", markup=False, highlight=False)
    if result.stderr:
        console.print(
            result.stderr.rstrip(), style="red" if expect_failure else "dim", markup=False
        )
    if (result.returncode != 0) != expect_failure:
        raise RuntimeError(f"kubectl {' '.join(args)} exited {result.returncode}")


def write_sample_database(path: Path, conversations: int = 20, messages_each: int = 5) -> int:
    """A small database in the shape of the app we migrate; returns the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE conversations (id TEXT PRIMARY KEY, title TEXT NOT NULL,
                                        created_at TEXT NOT NULL);
            CREATE TABLE messages (id INTEGER PRIMARY KEY,
                                   conversation_id TEXT NOT NULL REFERENCES conversations(id),
                                   role TEXT NOT NULL, content TEXT NOT NULL);
            """
        )
        for c in range(conversations):
            conv_id = f"conv-{c:04d}"
            db.execute(
                "INSERT INTO conversations VALUES (?, ?, ?)",
                (conv_id, f"Conversation {c}", f"2026-11-{1 + c % 28:02d}T10:00:00Z"),
            )
            for m in range(messages_each):
                role = "user" if m % 2 == 0 else "assistant"
                db.execute(
                    "INSERT INTO messages (conversation_id, role, content) VALUES (?, ?, ?)",
                    (conv_id, role, f"message {m} of conversation {c}"),
                )
    return conversations * (1 + messages_each)


def wait_for_job(api: Any, name: str, timeout: float = 60) -> None:
    """Until the Job is Complete or Failed (kubectl wait cannot wait for either)."""
    jobs = api.resources.get(api_version="batch/v1", kind="Job")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conditions = jobs.get(name=name, namespace=NAMESPACE).to_dict()["status"].get("conditions")
        if any(c["type"] in ("Complete", "Failed") for c in conditions or ()):
            return
        time.sleep(0.2)
    raise RuntimeError(f"job {name} did not finish within {timeout} s")


def data_migration(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{DM_GROUP}/{DM_VERSION}",
        "kind": "DataMigration",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "phase": "migrate",
            "source": {"claimName": CLAIM, "path": "app.db"},
            "target": {
                "http": {"host": "weaviate.chat.svc", "port": 8080},
                "grpc": {"host": "weaviate.chat.svc", "port": 50051},
            },
            "collections": [
                {"table": "conversations", "collection": "Conversation"},
                {"table": "messages", "collection": "Message"},
            ],
            "app": {"configMapRef": {"name": APP_CONFIGMAP}},
        },
    }


def run_demo(data_dir: Path) -> None:
    plane = ControlPlane(data_dir, crd_dir=Path("crds") if Path("crds").is_dir() else None)
    with ControlPlaneThread(plane) as info:
        step("1. The sandbox control plane is up")
        console.print(f"Kubernetes API {info.kube_url}   Weaviate {info.weaviate_url}")
        console.print(f"export KUBECONFIG={info.kubeconfig}")
        kubectl(info.kubeconfig, "get", "crds")

        # The kubernetes package ships these two untyped.
        api_client = k8s_config.new_client_from_config(config_file=info.kubeconfig)  # type: ignore[no-untyped-call]
        api = DynamicClient(api_client)  # type: ignore[no-untyped-call]

        def create(api_version: str, kind: str, body: dict[str, Any]) -> None:
            namespace = body["metadata"].get("namespace")
            api.resources.get(api_version=api_version, kind=kind).create(body, namespace=namespace)

        step("2. The application: its ConfigMap and its SQLite database on a PVC")
        create("v1", "Namespace", {"metadata": {"name": NAMESPACE}})
        create(
            "v1",
            "ConfigMap",
            {
                "metadata": {"name": APP_CONFIGMAP, "namespace": NAMESPACE},
                "data": {"migration_mode": "sqlite_only"},
            },
        )
        create(
            "v1",
            "PersistentVolumeClaim",
            {
                "metadata": {"name": CLAIM, "namespace": NAMESPACE},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
        )
        rows = write_sample_database(plane.runner.claim_dir(NAMESPACE, CLAIM) / "app.db")
        console.print(f"wrote {rows} rows (conversations, messages) to the claim {CLAIM}")
        kubectl(info.kubeconfig, "get", "configmap", APP_CONFIGMAP, "-n", NAMESPACE, "-o", "yaml")

        step("3. A Job reads the database through the PVC mount (run by the sandbox Job runner)")
        count = (
            "import os, sqlite3; db = sqlite3.connect(os.environ['DB_PATH']); "
            "print({t: db.execute(f'select count(*) from {t}').fetchone()[0] "
            "for t in ('conversations', 'messages')})"
        )
        create(
            "batch/v1",
            "Job",
            {
                "metadata": {"name": "count-rows", "namespace": NAMESPACE},
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {
                                    "name": "main",
                                    "image": "python:3.11-slim",
                                    "command": ["python", "-c", count],
                                    "env": [{"name": "DB_PATH", "value": "/data/app.db"}],
                                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                                }
                            ],
                            "volumes": [
                                {"name": "data", "persistentVolumeClaim": {"claimName": CLAIM}}
                            ],
                        }
                    },
                },
            },
        )
        wait_for_job(api, "count-rows")
        kubectl(info.kubeconfig, "get", "jobs", "-n", NAMESPACE)
        kubectl(info.kubeconfig, "logs", "job/count-rows", "-n", NAMESPACE)

        step("4. Weaviate answers the real client")
        with weaviate.connect_to_custom(
            http_host="127.0.0.1",
            http_port=info.weaviate_http_port,
            http_secure=False,
            grpc_host="127.0.0.1",
            grpc_port=info.weaviate_grpc_port,
            grpc_secure=False,
        ) as wv:
            console.print(f"ready={wv.is_ready()} version={wv.get_meta()['version']}")

        if plane.crd_dir is None:
            console.print("[yellow]no crds/ folder here: run the demo from the repository root[/]")
            return
        step("5. A DataMigration, and the API refusing an unsafe jump")
        api.resources.invalidate_cache()  # discovery changed: the CRD's resource is new
        create(f"{DM_GROUP}/{DM_VERSION}", "DataMigration", data_migration("chat-history"))
        kubectl(info.kubeconfig, "get", "datamigrations", "-n", NAMESPACE)
        kubectl(
            info.kubeconfig,
            "patch",
            "dm",
            "chat-history",
            "-n",
            NAMESPACE,
            "--type",
            "merge",
            "-p",
            '{"spec":{"phase":"switch"}}',
            expect_failure=True,
        )
        console.print(
            Panel(
                "The operator that reconciles these phases (Jobs, ConfigMap mode, gates) lands "
                "with the operator-core issue; this walk-through grows with it.",
                title="next",
            )
        )


def main(data_dir: Path | None) -> None:
    if data_dir is not None:
        run_demo(data_dir)
        return
    with tempfile.TemporaryDirectory(prefix="dmctl-demo-") as tmp:
        run_demo(Path(tmp))
