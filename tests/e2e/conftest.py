"""The kind tier: a real cluster with a real Weaviate. Opt-in (`pytest -m e2e`); skipped where
Docker or kind is absent, as on our development machines."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "datamigration-operator:e2e"
# The example app (examples/chat-app/Dockerfile) with the sandbox's `dmctl sample-db` for seeding.
APP_IMAGE = "datamigration-chat-app:e2e"


def run(*argv: str, timeout: float = 600, kubeconfig: Path | None = None) -> str:
    command = list(argv)
    if kubeconfig is not None and argv[0] == "kubectl":
        command.insert(1, f"--kubeconfig={kubeconfig}")
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


@pytest.fixture(scope="session")
def kind_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh kind cluster with the operator and app images loaded; yields its kubeconfig."""
    if shutil.which("kind") is None or shutil.which("kubectl") is None or not _docker_works():
        pytest.skip("the e2e tier needs Docker, kind and kubectl")
    name = f"dmig-e2e-{uuid.uuid4().hex[:6]}"
    kubeconfig = tmp_path_factory.mktemp("kind") / "kubeconfig"
    run("docker", "build", "-t", IMAGE, str(ROOT))
    app_dockerfile = str(ROOT / "examples/chat-app/Dockerfile")
    run("docker", "build", "-f", app_dockerfile, "--build-arg", "WITH_SANDBOX=1", "-t", APP_IMAGE,
        str(ROOT))  # fmt: skip
    run(
        "kind",
        "create",
        "cluster",
        "--name",
        name,
        "--kubeconfig",
        str(kubeconfig),
        "--wait",
        "180s",
    )
    try:
        run("kind", "load", "docker-image", IMAGE, APP_IMAGE, "--name", name)
        yield kubeconfig
    finally:
        run("kind", "delete", "cluster", "--name", name)
