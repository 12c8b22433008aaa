"""`dmctl sandbox demo`: a migration walked through on the sandbox, as a platform engineer does it.

The sandbox control plane runs in this process (or, with --real, the real servers built from
their Go modules run as child processes), the operator as a child process (the command the
Deployment runs), and its copy/sync/validate Jobs as local processes. Each step shows the
command a user types (kubectl or dmctl) and its output; kubectl steps are skipped where kubectl
is absent (the actions themselves go through the kubernetes client).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import yaml
from kubernetes import config as k8s_config
from kubernetes.client import CustomObjectsApi
from kubernetes.dynamic import DynamicClient
from rich.console import Console
from rich.panel import Panel

from chat_app.loadgen import verify
from datamigration_operator.api.names import GROUP, PLURAL, VERSION
from datamigration_operator.api.status import ModeStatus
from datamigration_sandbox.planes import open_plane
from datamigration_sandbox.walk import (
    APP_CONFIGMAP,
    APP_DEPLOYMENT,
    CLAIM,
    NAME,
    NAMESPACE,
    chat_app_deployment,
    create_application,
    data_migration,
    free_port,
    load_running,
    operator_process,
)

console = Console()
LOAD_RATE = 20.0  # requests/s the load generator sends while the migration runs


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


def rollback_times(kubeconfig: str, started: datetime) -> str:
    """The two times status records: the ConfigMap flip and the rollout acknowledgement."""
    api_client = k8s_config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    try:
        dm = CustomObjectsApi(api_client).get_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, NAME
        )
    finally:
        api_client.close()
    assert isinstance(dm, dict)
    mode = ModeStatus.model_validate(dm["status"]["mode"])
    if mode.changed_at is None or mode.applied_at is None:
        return "rollback: the status does not record its times"
    flipped = (mode.changed_at - started).total_seconds()
    acked = (mode.applied_at - started).total_seconds()
    return (
        f"ConfigMap at sqlite_only {flipped:.2f} s after `dmctl rollback` started (its start-up "
        f"included); every app pod on sqlite_only (rollout acknowledged) after {acked:.2f} s"
    )


def copy_job(kubeconfig: str) -> str | None:
    """The name of the migration's copy Job (`<name>-migrate-<hash>`)."""
    from kubernetes.client import BatchV1Api

    api_client = k8s_config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    try:
        jobs = BatchV1Api(api_client).list_namespaced_job(NAMESPACE).items
    finally:
        api_client.close()
    names = sorted(str(job.metadata.name) for job in jobs if job.metadata is not None)
    return next((name for name in names if name.startswith(f"{NAME}-migrate-")), None)


def run_demo(data_dir: Path, *, real: bool = False) -> None:
    if real:
        console.print("starting the real servers (scripts/build-servers.sh builds them once)")
    with open_plane(data_dir, os.urandom(12).hex(), real=real) as plane:
        info = plane.info
        kc = info.kubeconfig
        step(f"1. A local control plane: {plane.description}")
        console.print(f"Kubernetes API {info.kube_url}   Weaviate {info.weaviate_url}")
        console.print(f"export KUBECONFIG={kc}")
        show(["kubectl", "get", "nodes,crds"] if real else ["kubectl", "get", "crds"], kc)

        step("2. The application: ConfigMap, SQLite database on a PVC, Weaviate API key")
        # The kubernetes package ships these two untyped.
        api_client = k8s_config.new_client_from_config(config_file=kc)  # type: ignore[no-untyped-call]
        try:
            api = DynamicClient(api_client)  # type: ignore[no-untyped-call]
            rows = create_application(api, plane)
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

        with (
            operator_process(kc, data_dir / "operator.log"),
            load_running(app_url, LOAD_RATE) as load,
        ):
            step("3. The operator runs; apply a DataMigration (phase migrate: the copy Job)")
            manifest = data_dir / "datamigration.yaml"
            manifest.write_text(yaml.safe_dump(data_migration(info), sort_keys=False))
            show(["kubectl", "apply", "-f", str(manifest)], kc)
            show(["dmctl", "advance", NAME, "migrate", "-n", NAMESPACE, "--wait", "120"], kc)
            show(["kubectl", "get", "dm,jobs", "-n", NAMESPACE], kc)
            job = copy_job(kc)
            if job:
                show(["kubectl", "logs", f"job/{job}", "-n", NAMESPACE, "--tail=5"], kc)

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

            step("7. Something looks wrong? Roll back: sqlite_only first, then every pod follows")
            started = datetime.now(UTC)
            show(["dmctl", "rollback", NAME, "-n", NAMESPACE], kc)
            console.print(rollback_times(kc, started))
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
        ending = (
            "The servers stop now; their data stays in the data dir."
            if real
            else "The state stays in memory: nothing is left running."
        )
        console.print(
            Panel(
                f"{rows} rows copied, synced and validated with 0 differences while the app "
                f"kept writing ({report['writes']} writes, none lost); the app's mode followed "
                f"every phase. {ending}",
                title="done",
            )
        )


def main(data_dir: Path | None, *, real: bool = False) -> None:
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        run_demo(data_dir, real=real)
        return
    with tempfile.TemporaryDirectory(prefix="dmctl-demo-") as tmp:
        run_demo(Path(tmp), real=real)
