"""A sandbox Weaviate on a background-thread loop, a generated database and run helpers."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from datamigration_operator.api.job_contract import JobTarget
from datamigration_operator.api.spec import CollectionMapping, Endpoint
from datamigration_operator.api.status import (
    Checkpoint,
    OutboxStatus,
    Progress,
    Recreation,
    ValidationReport,
)
from datamigration_operator.migration.runs.copy import CopyResult
from datamigration_operator.migration.runs.diff import DiffResult
from datamigration_operator.migration.runs.run import RunSettings, copy_run, diff_run
from datamigration_operator.migration.sink.weaviate_sink import SinkSettings, connect
from datamigration_sandbox.sample_data import (
    SampleDatabase,
    generate_database,
    sample_collections,
)
from datamigration_sandbox.weaviate.background import serving_in_background
from datamigration_sandbox.weaviate.server import WeaviateServer

ROWS = 3_000
NAMESPACE = "it"
DMCTL = [sys.executable, "-m", "datamigration_operator.cli.main"]


@dataclass
class RunningWeaviate:
    server: WeaviateServer
    http_port: int
    grpc_port: int

    @property
    def target(self) -> JobTarget:
        return JobTarget(
            http=Endpoint(host="127.0.0.1", port=self.http_port),
            grpc=Endpoint(host="127.0.0.1", port=self.grpc_port),
            tls=False,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def client(self) -> Any:
        return connect(self.target, None)

    def counts(self, collections: list[str]) -> dict[str, int]:
        return {name: len(self.server.database.get(name).objects) for name in collections}


@pytest.fixture
def weaviate() -> Iterator[RunningWeaviate]:
    server = WeaviateServer()
    with serving_in_background(server) as (http_port, grpc_port):
        yield RunningWeaviate(server, http_port, grpc_port)


@pytest.fixture
def database(tmp_path: Path) -> SampleDatabase:
    return generate_database(tmp_path / "app.db", rows=ROWS)


@dataclass
class RecordingReporter:
    checkpoint: Checkpoint | None = None
    progress: list[Progress] = field(default_factory=list)
    validations: list[ValidationReport] = field(default_factory=list)
    reports: list[tuple[list[str], str]] = field(default_factory=list)
    outboxes: list[OutboxStatus] = field(default_factory=list)
    recreations: list[Recreation] = field(default_factory=list)  # as status.recreated

    def load_recreation(self) -> Recreation | None:
        return self.recreations[-1] if self.recreations else None

    def publish_recreation(self, recreation: Recreation) -> None:
        self.recreations.append(recreation)

    def load_checkpoint(self) -> Checkpoint | None:
        return self.checkpoint

    def publish_progress(self, progress: Progress) -> None:
        self.progress.append(progress)

    def publish_validation(self, report: ValidationReport) -> None:
        self.validations.append(report)

    def write_report(self, lines: list[str], summary: str) -> str | None:
        self.reports.append((lines, summary))
        return "report"

    def publish_outbox(self, outbox: OutboxStatus) -> None:
        self.outboxes.append(outbox)


def settings(
    db: SampleDatabase,
    scratch: Path,
    *,
    collections: list[CollectionMapping] | None = None,
    batch_size: int = 200,
    concurrency: int = 2,
) -> RunSettings:
    return RunSettings(
        sqlite_path=db.path,
        snapshot=True,
        scratch_dir=scratch,
        collections=collections or sample_collections(),
        namespace=NAMESPACE,
        sink=SinkSettings(
            batch_size=batch_size, concurrency=concurrency, base_delay=0.01, max_delay=0.2
        ),
        job="test-job",
    )


def run_copy(
    weaviate: RunningWeaviate, run: RunSettings, reporter: RecordingReporter | None = None
) -> tuple[CopyResult, RecordingReporter]:
    reporter = reporter or RecordingReporter()
    client = weaviate.client()
    try:
        result, _ = copy_run(run, client, reporter)
    finally:
        client.close()
    return result, reporter


def run_diff(
    weaviate: RunningWeaviate, run: RunSettings, *, repair: bool, sleep: Any = None
) -> tuple[DiffResult, RecordingReporter]:
    reporter = RecordingReporter()
    client = weaviate.client()
    try:
        result = diff_run(run, client, reporter, repair=repair, sleep=sleep)
    finally:
        client.close()
    return result, reporter


def cli_env() -> dict[str, str]:
    return {
        **os.environ,
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def parse_json_line(output: bytes) -> dict[str, Any]:
    lines = [line for line in output.decode().splitlines() if line.startswith("{")]
    assert lines, output.decode()
    document: dict[str, Any] = json.loads(lines[-1])
    return document
