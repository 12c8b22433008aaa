"""`dmctl sandbox up --real`: the real control plane in the background, usable with kubectl."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.real.conftest import KUBECTL, eventually

DMCTL = [sys.executable, "-m", "datamigration_operator.cli.main"]
SLEEP = "import time; time.sleep(600)"


def test_sandbox_up_real_prints_the_kubeconfig_and_runs_a_deployment(tmp_path: Path) -> None:
    data_dir = tmp_path / "sandbox"
    up = subprocess.run(
        [*DMCTL, "sandbox", "up", "--real", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "real servers" in up.stderr  # the story; stdout is only what eval takes
        assert up.stdout.startswith(f"export KUBECONFIG={data_dir / 'kubeconfig'} ")
        assert "DMCTL_WEAVIATE=http://127.0.0.1:" in up.stdout
        env = {**os.environ, "KUBECONFIG": str(data_dir / "kubeconfig")}

        def kubectl(*args: str) -> str:
            return subprocess.run(
                [KUBECTL, *args], env=env, capture_output=True, text=True, check=True
            ).stdout

        kubectl("create", "deployment", "web", "--image=x", "--", "python", "-c", SLEEP)
        nodes = kubectl("get", "nodes")
        assert "real-node   Ready" in nodes
        eventually(lambda: "Running" in kubectl("get", "pods", "-A"), "the Deployment's pod", 60)
    finally:
        down = subprocess.run(
            [*DMCTL, "sandbox", "down", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert "sandbox stopped" in down.stdout
    assert not (data_dir / "sandbox.json").exists()
