"""`dmctl operator run` (the CLI users run) options: namespace scope and the liveness endpoint."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.operator.conftest import (
    DMCTL_ENTRY,
    OperatorProcess,
    Sandbox,
    get_dm,
    new_datamigration,
    settled,
    wait_for,
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def scoped_operator(
    sandbox: Sandbox, namespace: str, tmp_path: Path
) -> Iterator[tuple[OperatorProcess, str]]:
    url = f"http://127.0.0.1:{_free_port()}/healthz"
    process = OperatorProcess(
        sandbox.kubeconfig,
        tmp_path / "operator.log",
        "-n",
        namespace,
        "--liveness",
        url,
        entry=DMCTL_ENTRY,
    )
    process.start()
    try:
        yield process, url
    finally:
        process.stop()


def test_namespaced_operator_serves_only_its_namespace_and_answers_liveness(
    sandbox: Sandbox, namespace: str, scoped_operator: tuple[OperatorProcess, str]
) -> None:
    process, url = scoped_operator
    other = f"{namespace}-other"
    sandbox.core.create_namespace({"metadata": {"name": other}})
    new_datamigration(sandbox, other, "ignored")
    new_datamigration(sandbox, namespace, "served")
    wait_for(lambda: settled(sandbox, namespace, "served", "migrate"), "served DataMigration")

    def probe() -> dict[str, object] | None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body: dict[str, object] = json.loads(response.read())
                return body
        except OSError:
            return None

    health = wait_for(probe, "the liveness endpoint")
    reconciles = health["reconciles"]
    assert isinstance(reconciles, dict)
    assert isinstance(reconciles["succeeded"], int)
    assert reconciles["succeeded"] >= 1
    assert get_dm(sandbox, other, "ignored").get("status") is None
    assert process.process is not None
    assert process.process.poll() is None
