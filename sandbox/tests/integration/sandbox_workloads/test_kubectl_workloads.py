"""kubectl v1.32 on a Deployment whose pods run: rollout status and logs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox_workloads.conftest import (
    Sandbox,
    app_deployment,
    free_port,
    wait_for,
)

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]


def test_rollout_status_and_logs(sandbox: Sandbox, namespace: str, tmp_path: Path) -> None:
    binary = shutil.which("kubectl")
    assert binary is not None

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, f"--kubeconfig={sandbox.kubeconfig}", f"--cache-dir={tmp_path}", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    sandbox.apps.create_namespaced_deployment(namespace, app_deployment("chat", free_port()))

    rollout = kubectl("rollout", "status", "deployment/chat", "-n", namespace, "--timeout=45s")
    assert rollout.returncode == 0, rollout.stderr
    assert 'deployment "chat" successfully rolled out' in rollout.stdout
    logs = wait_for(
        lambda: (
            (r := kubectl("logs", "deploy/chat", "-n", namespace))
            and "mode=sqlite_only" in r.stdout
            and r
        ),
        "the log through kubectl",
    )
    assert logs.returncode == 0
    (pod,) = sandbox.pods_of(namespace, "chat")
    by_name = kubectl("logs", pod.metadata.name, "-n", namespace)
    assert "serving on" in by_name.stdout
