"""The sample chat app as its Deployment runs it (`dmctl sample-app serve`), on the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from datamigration_sandbox.jobs.atomic_writer import FileProjection, write_payload
from datamigration_sandbox.walk import free_port
from datamigration_sandbox.weaviate.background import serving_in_background
from datamigration_sandbox.weaviate.server import WeaviateServer

MIGRATION = "chat/chat-history"


@dataclass
class RunningWeaviate:
    server: WeaviateServer
    http_port: int
    grpc_port: int


@pytest.fixture
def weaviate() -> Iterator[RunningWeaviate]:
    server = WeaviateServer()
    with serving_in_background(server) as (http_port, grpc_port):
        yield RunningWeaviate(server, http_port, grpc_port)


def dmctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "datamigration_operator.cli.main", *args]


class MountedConfigMap:
    """A ConfigMap volume as the kubelet writes it (the sandbox kubelet's atomic `..data` swap)."""

    def __init__(self, folder: Path, key: str = "migration_mode") -> None:
        self.folder, self.key = folder, key

    def write(self, value: str) -> None:
        write_payload(self.folder, {self.key: FileProjection(value.encode(), 0o644)})


@dataclass
class RunningApp:
    url: str
    database: Path
    weaviate: RunningWeaviate
    mode_file: MountedConfigMap
    process: subprocess.Popen[bytes]

    def status(self) -> dict[str, object]:
        response = httpx.get(f"{self.url}/status", timeout=10)
        response.raise_for_status()
        result: dict[str, object] = response.json()
        return result

    def switch(self, mode: str, timeout: float = 10.0) -> None:
        """Changes the mounted file, as the kubelet would after the operator's patch."""
        self.mode_file.write(mode)
        deadline = time.monotonic() + timeout
        while self.status()["mode"] != mode:
            if time.monotonic() > deadline:
                raise AssertionError(f"the app did not follow the mode {mode} in {timeout}s")
            time.sleep(0.05)

    def engine(self, command: str, *extra: str) -> dict[str, object]:
        """`dmctl copy|sync|validate` over the app's database, as the Jobs run them."""
        result = subprocess.run(
            dmctl(
                command,
                "--sqlite",
                str(self.database),
                "--weaviate",
                f"http://127.0.0.1:{self.weaviate.http_port}",
                "--grpc-port",
                str(self.weaviate.grpc_port),
                "--mapping",
                str(self.database.parent / "mapping.yaml"),
                "--namespace",
                MIGRATION,
                "--json",
                *extra,
            ),
            capture_output=True,
            timeout=300,
            check=False,
            cwd=self.database.parent,  # where the CLI leaves its report file
        )
        assert result.returncode in (0, 3), result.stderr.decode()[-3000:]
        summary: dict[str, object] = json.loads(result.stdout)
        return summary


@pytest.fixture
def chat_app(tmp_path: Path, weaviate: RunningWeaviate) -> Iterator[RunningApp]:
    import yaml

    from datamigration_sandbox.sample_data import generate_database, sample_collections

    (tmp_path / "data").mkdir()
    database = generate_database(tmp_path / "data" / "app.db", rows=2_000).path
    collections = [
        m.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        for m in sample_collections()
    ]
    (database.parent / "mapping.yaml").write_text(yaml.safe_dump({"collections": collections}))
    mode_file = MountedConfigMap(tmp_path / "config")
    mode_file.write("sqlite_only")
    port = free_port()
    env = {
        **os.environ,
        "CHAT_DATABASE": str(database),
        "CHAT_LISTEN": f"127.0.0.1:{port}",
        "DATAMIGRATION_NAME": MIGRATION,
        "WEAVIATE_HTTP": f"127.0.0.1:{weaviate.http_port}",
        "WEAVIATE_GRPC": f"127.0.0.1:{weaviate.grpc_port}",
        "DATAMIGRATION_MODE_FILE": str(mode_file.folder),
    }
    log = (tmp_path / "app.log").open("wb")
    process = subprocess.Popen(
        dmctl("sample-app", "serve"), env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    app = RunningApp(url, database, weaviate, mode_file, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "app.log").read_text()[-3000:])
            time.sleep(0.1)
        yield app
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
