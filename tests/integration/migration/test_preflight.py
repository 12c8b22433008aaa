"""Before the first row: a wrong gRPC port, a dead endpoint or a refused key fail in seconds,
naming the URL and what failed (the client alone would retry batches for minutes)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from datamigration_operator.api.job_contract import JobTarget
from datamigration_operator.api.spec import Endpoint
from datamigration_operator.migration.sink.weaviate_sink import (
    WeaviateUnreachableError,
    check_grpc,
    connect,
)
from datamigration_sandbox.sample_data import generate_database
from tests.integration.migration.conftest import DMCTL, RunningWeaviate, cli_env


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung or wrong server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def _target(weaviate: RunningWeaviate, grpc_port: int) -> JobTarget:
    return JobTarget(
        http=Endpoint(host="127.0.0.1", port=weaviate.http_port),
        grpc=Endpoint(host="127.0.0.1", port=grpc_port),
        tls=False,
    )


def test_a_wrong_grpc_port_fails_connect_at_once(
    weaviate: RunningWeaviate, closed_port: int
) -> None:
    started = time.monotonic()
    with pytest.raises(WeaviateUnreachableError) as raised:
        connect(_target(weaviate, closed_port), None)
    assert time.monotonic() - started < 5
    assert str(raised.value).startswith(f"gRPC 127.0.0.1:{closed_port}: connection refused")
    assert weaviate.url in str(raised.value)
    connect(_target(weaviate, weaviate.grpc_port), None).close()  # the right one passes


def test_a_grpc_port_that_never_answers_fails_at_the_deadline(
    weaviate: RunningWeaviate, silent_port: int
) -> None:
    started = time.monotonic()
    with pytest.raises(WeaviateUnreachableError, match=f"gRPC 127.0.0.1:{silent_port}: no answer"):
        check_grpc(_target(weaviate, silent_port), weaviate.url, timeout=1.0)
    assert time.monotonic() - started < 4


def test_dmctl_copy_to_a_wrong_grpc_port_exits_1_in_seconds_naming_it(
    tmp_path: Path, weaviate: RunningWeaviate, closed_port: int
) -> None:
    database = generate_database(tmp_path / "app.db", rows=50)
    env = {**cli_env(), "DMCTL_WEAVIATE": weaviate.url, "DMCTL_GRPC_PORT": str(closed_port)}
    started = time.monotonic()
    done = subprocess.run(
        [*DMCTL, "copy", "--sqlite", str(database.path), "--table", "conversations"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert time.monotonic() - started < 20
    assert done.returncode == 1, done.stderr
    assert f"gRPC 127.0.0.1:{closed_port}: connection refused" in done.stderr
    assert weaviate.server.database.find("Conversation") is None  # nothing was written
