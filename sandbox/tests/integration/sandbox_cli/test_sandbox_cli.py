"""dmctl sandbox up/status/down, the demo and `dmctl bench sandbox`, run as a user runs them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DMCTL = [sys.executable, "-m", "datamigration_operator.cli.main"]
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


def dmctl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DMCTL, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def kubectl(kubeconfig: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "KUBECONFIG": kubeconfig},
    )


def _running(pid: int) -> bool:
    # The detached server is re-parented when `up` exits; a zombie is a stopped server.
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@needs_kubectl
def test_up_serves_the_crds_to_kubectl_and_down_stops_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "sandbox"
    kubeconfig = tmp_path / "config"
    started = dmctl("sandbox", "up", "--data-dir", str(data_dir), "--kubeconfig", str(kubeconfig))
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        state = json.loads((data_dir / "sandbox.json").read_text())
        # stdout is the environment alone, for eval "$(dmctl sandbox up)"; the story on stderr
        assert started.stdout == (
            f"export KUBECONFIG={kubeconfig} DMCTL_WEAVIATE=http://127.0.0.1:"
            f"{state['weaviate_http_port']} DMCTL_GRPC_PORT={state['weaviate_grpc_port']}\n"
        )
        assert "sandbox running" in started.stderr
        assert state["kube_url"].startswith("https://127.0.0.1:")
        assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"  # it holds the admin token

        crds = kubectl(str(kubeconfig), "get", "crds", "-o", "name")
        assert crds.returncode == 0, crds.stderr
        assert "datamigrations.migrations.gremlins.ai" in crds.stdout
        columns = kubectl(str(kubeconfig), "get", "datamigrations", "-A")
        assert columns.returncode == 0, columns.stderr

        again = dmctl("sandbox", "up", "--data-dir", str(data_dir))
        assert again.returncode == 0
        assert "already runs" in again.stderr
        assert again.stdout == started.stdout
        assert dmctl("sandbox", "status", "--data-dir", str(data_dir)).returncode == 0
    finally:
        stopped = dmctl("sandbox", "down", "--data-dir", str(data_dir))
    assert stopped.returncode == 0
    assert "sandbox stopped" in stopped.stdout
    assert not (data_dir / "sandbox.json").exists()
    assert not _running(state["pid"])
    assert dmctl("sandbox", "status", "--data-dir", str(data_dir)).returncode == 1


def test_down_without_a_sandbox_says_so(tmp_path: Path) -> None:
    result = dmctl("sandbox", "down", "--data-dir", str(tmp_path))
    assert result.returncode == 0
    assert "no sandbox is running" in result.stdout


def test_the_kubeconfig_works_for_the_kubernetes_client(tmp_path: Path) -> None:
    from kubernetes import client, config

    data_dir = tmp_path / "sandbox"
    assert dmctl("sandbox", "up", "--data-dir", str(data_dir)).returncode == 0
    try:
        api = client.CoreV1Api(config.new_client_from_config(str(data_dir / "kubeconfig")))
        names = {ns.metadata.name for ns in api.list_namespace().items}
        assert {"default", "kube-system"} <= names
        written = yaml.safe_load((data_dir / "kubeconfig").read_text())
        assert written["clusters"][0]["cluster"]["certificate-authority-data"]
    finally:
        dmctl("sandbox", "down", "--data-dir", str(data_dir))


@needs_kubectl
def test_the_demo_walks_a_migration_through_every_phase(tmp_path: Path) -> None:
    result = dmctl("sandbox", "demo", "--data-dir", str(tmp_path), timeout=300)
    # the end says what went wrong (failed requests, missing writes); CI logs keep only so much
    assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-4000:])
    out = " ".join(result.stdout.split())
    assert "datamigrations.migrations.gremlins.ai" in out  # kubectl get crds
    for phase in ("migrate", "dual-write", "validate", "switch", "rollback"):
        assert f"{phase}: Succeeded" in out  # dmctl advance --wait / rollback
    assert "cannot change from migrate to switch" in out  # the CEL refusal
    # every row, plus what the app wrote while the migration ran
    checked = re.search(r"validation passed: (\d+) checked, 0 missing, 0 extra, 0 mismatched", out)
    assert checked is not None
    assert int(checked.group(1)) > 5000
    assert "weaviate_primary" in out
    assert 'deployment "chat-app" successfully rolled out' in out  # the app runs as pods
    load = re.search(r"\((\d+) writes\) during the migration, 0 failed; .* 0 acknowledged", out)
    assert load is not None
    assert int(load.group(1)) > 100
    assert "5000 rows copied, synced and validated with 0 differences" in out
    assert "ResourceWarning" not in result.stderr  # nothing left open at the end


def test_bench_sandbox_prints_its_figures_as_json() -> None:
    result = dmctl(
        "bench", "sandbox", "--json", "--requests", "200", "--watchers", "5", "--events", "5"
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["get_rps"] > 0
    assert figures["patch_rps"] > 0
    assert figures["baseline_version_rps"] > 0
    fanout = figures["watch_fanout"]
    assert fanout["delivered"] == fanout["expected"] == 25  # every watcher saw every event
    assert 0 < fanout["p50_ms"] <= fanout["p99_ms"]
