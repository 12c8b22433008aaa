"""dmctl status / advance / rollback against a real operator: what a user types to drive it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.integration.operator.conftest import (
    OperatorProcess,
    Sandbox,
    config_map_mode,
    new_datamigration,
    settled,
    wait_for,
)

NAME = "cli"


def dmctl(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datamigration_operator.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env={**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "COLUMNS": "200"},
    )


def test_advance_status_and_rollback(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    new_datamigration(sandbox, namespace, NAME)
    wait_for(lambda: settled(sandbox, namespace, NAME, "migrate"), "migrate to settle")

    refused = dmctl(sandbox, "advance", NAME, "switch", "-n", namespace)
    assert refused.returncode == 1
    assert "cannot change from migrate to switch" in " ".join(refused.stdout.split())
    assert config_map_mode(sandbox, namespace) == "sqlite_only"

    moved = dmctl(sandbox, "advance", NAME, "dual-write", "-n", namespace, "--wait", "60")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "dual-write: Succeeded" in moved.stdout
    assert config_map_mode(sandbox, namespace) == "dual_write"

    shown = dmctl(sandbox, "status", NAME, "-n", namespace)
    assert shown.returncode == 0, shown.stderr
    assert "dual-write (observed: dual-write)" in shown.stdout
    assert "DualWriteReady" in shown.stdout

    rolled = dmctl(sandbox, "rollback", NAME, "-n", namespace)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert "rollback: Succeeded" in rolled.stdout
    assert config_map_mode(sandbox, namespace) == "sqlite_only"

    missing = dmctl(sandbox, "status", "no-such-migration", "-n", namespace)
    assert missing.returncode == 1
    assert "not found" in missing.stdout
