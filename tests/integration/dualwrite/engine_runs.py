"""The migration engine's copy, sync and validate run in-process, as the Jobs run them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from datamigration_operator.api.spec import CollectionMapping
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
from tests.integration.dualwrite.conftest import RunningWeaviate
from tests.integration.dualwrite.notes_app import target


@dataclass
class Reporter:
    """Keeps what a run publishes (the Jobs patch it into the DataMigration status)."""

    validations: list[ValidationReport] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    outboxes: list[OutboxStatus] = field(default_factory=list)

    def load_checkpoint(self) -> Checkpoint | None:
        return None

    def publish_progress(self, progress: Progress) -> None:
        pass

    def publish_validation(self, report: ValidationReport) -> None:
        self.validations.append(report)

    def write_report(self, lines: list[str], summary: str) -> str | None:
        self.reports.append(summary + "\n" + "\n".join(lines))
        return None

    def publish_outbox(self, outbox: OutboxStatus) -> None:
        self.outboxes.append(outbox)

    def load_recreation(self) -> Recreation | None:
        return None  # these runs never recreate

    def publish_recreation(self, recreation: Recreation) -> None:
        raise AssertionError(f"no run here recreates: {recreation}")


def run_settings(
    path: Path, scratch: Path, mappings: Sequence[CollectionMapping], namespace: str
) -> RunSettings:
    return RunSettings(
        sqlite_path=path,
        snapshot=True,
        scratch_dir=scratch,
        collections=mappings,
        namespace=namespace,
        sink=SinkSettings(batch_size=200, concurrency=2, base_delay=0.01, max_delay=0.2),
        job="in-process",
    )


def engine_copy(weaviate: RunningWeaviate, settings: RunSettings) -> CopyResult:
    client = connect(target(weaviate.http_port, weaviate.grpc_port), None)
    try:
        return copy_run(settings, client, Reporter())[0]
    finally:
        client.close()


def engine_diff(weaviate: RunningWeaviate, settings: RunSettings, *, repair: bool) -> DiffResult:
    """The sync Job (repair) or the validate Job."""
    client = connect(target(weaviate.http_port, weaviate.grpc_port), None)
    try:
        return diff_run(settings, client, Reporter(), repair=repair)
    finally:
        client.close()
