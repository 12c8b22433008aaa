"""`dmctl job copy|sync|validate`: the entry point of the operator's Jobs.

The configuration is JobConfig JSON in $DATAMIGRATION_JOB_CONFIG, the Weaviate API key a
secretKeyRef variable. Exit 0 on success, NON_RETRYABLE_EXIT_CODE (42) when a retry cannot
help (bad configuration or mapping, objects that keep failing: podFailurePolicy fails the Job at
once), 1 for anything a new pod may get past (Weaviate or the API server unreachable).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from datamigration_operator.api.durations import parse_duration
from datamigration_operator.api.job_contract import (
    CONFIG_ENV,
    JOB_UID_ENV,
    NON_RETRYABLE_EXIT_CODE,
    JobConfig,
)
from datamigration_operator.api.names import owner_id
from datamigration_operator.api.phases import JobKind
from datamigration_operator.api.status import (
    Checkpoint,
    OutboxStatus,
    Progress,
    ValidationReport,
)
from datamigration_operator.kube.migration_reporter import MigrationReporter, ReporterError
from datamigration_operator.migration.runs.exit_codes import EXIT_RETRYABLE, classify
from datamigration_operator.migration.runs.run import EXIT_OK, RunSettings, copy_run, diff_run
from datamigration_operator.migration.sink.weaviate_sink import (
    SinkSettings,
    WeaviateUnreachableError,
    connect,
)

job_app = typer.Typer(
    add_completion=False, help="Run a migration Job (reads its configuration from the environment)."
)
log = logging.getLogger("dmctl.job")
CONNECT_RETRY_MAX_DELAY = 5.0


class KubeRunReporter:
    """Reports to the DataMigration's status; the checkpoint is read back from there. The
    validation report carries this Job's uid ($DATAMIGRATION_JOB_UID, downward API): the
    operator accepts no report without it."""

    def __init__(
        self, reporter: MigrationReporter, job_name: str, job_uid: str | None = None
    ) -> None:
        self.reporter = reporter
        self.job_name = job_name
        self.job_uid = job_uid if job_uid is not None else os.environ.get(JOB_UID_ENV) or None

    def load_checkpoint(self) -> Checkpoint | None:
        return self.reporter.read_checkpoint(self.job_name)

    def publish_progress(self, progress: Progress) -> None:
        self.reporter.publish_progress(progress)

    def publish_validation(self, report: ValidationReport) -> None:
        self.reporter.publish_validation(report.model_copy(update={"job_uid": self.job_uid}))

    def publish_outbox(self, outbox: OutboxStatus) -> None:
        self.reporter.publish_outbox(outbox)

    def write_report(self, lines: list[str], summary: str) -> str | None:
        return self.reporter.write_report(self.job_name, lines, summary)


def emit(event: str, **fields: Any) -> None:
    """One JSON line per event on stdout (the pod log): keys and counts, never values."""
    print(json.dumps({"event": event, **fields}, default=str), flush=True)


def load_config(kind: JobKind) -> JobConfig:
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise ValueError(f"${CONFIG_ENV} is not set")
    try:
        config = JobConfig.model_validate_json(raw)
    except ValidationError as error:
        raise ValueError(f"${CONFIG_ENV} is not a valid job configuration: {error}") from None
    if config.kind != kind:
        raise ValueError(f"this Job is configured for {config.kind}, not {kind}")
    return config


def settings_of(config: JobConfig) -> RunSettings:
    ref = config.datamigration
    return RunSettings(
        sqlite_path=Path(config.source.path),
        snapshot=config.source.snapshot,
        scratch_dir=Path(config.source.scratch_dir),
        collections=config.collections,
        namespace=owner_id(ref.namespace, ref.name),
        sink=SinkSettings(
            batch_size=config.batch_size,
            concurrency=config.concurrency,
            objects_per_second=config.objects_per_second,
        ),
        job=config.job_name,
        max_mismatches=config.max_mismatches,
        recheck_delay=parse_duration(config.recheck_delay).total_seconds(),
        drain_timeout=parse_duration(config.drain_timeout).total_seconds(),
    )


def run_job(kind: JobKind) -> int:
    try:
        config = load_config(kind)
    except ValueError as error:
        emit("failed", reason="InvalidConfig", message=str(error))
        return NON_RETRYABLE_EXIT_CODE
    settings = settings_of(config)
    api_key = None
    if config.target.api_key_env is not None:
        api_key = os.environ.get(config.target.api_key_env)
        if not api_key:
            emit("failed", reason="MissingApiKey", variable=config.target.api_key_env)
            return EXIT_RETRYABLE  # the Secret may appear; the kubelet retries too
    emit("started", kind=kind, job=config.job_name, migration=config.datamigration.name)
    try:
        with MigrationReporter(config.datamigration) as migration:
            reporter = KubeRunReporter(migration, config.job_name)
            client = _connect(kind, config, api_key)
            try:
                return _run(kind, settings, client, reporter)
            finally:
                client.close()
    except ReporterError as error:
        emit("failed", reason="DataMigrationUnavailable", message=str(error))
        return EXIT_RETRYABLE if error.retryable else NON_RETRYABLE_EXIT_CODE
    except Exception as error:
        code, reason = classify(error)
        emit("failed", reason=reason, message=str(error)[:1000])
        return code


def _connect(
    kind: JobKind,
    config: JobConfig,
    api_key: str | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Any:
    """The Weaviate client. Sync and validate run after a copy reached this endpoint: one that
    does not answer now is an outage (a Weaviate restart), waited out up to drainTimeout
    rather than spent on pod retries. The copy fails at once: there, it is a wrong endpoint."""
    if kind == "copy":
        return connect(config.target, api_key)
    deadline = monotonic() + parse_duration(config.drain_timeout).total_seconds()
    delay = 0.5
    while True:
        try:
            return connect(config.target, api_key)
        except WeaviateUnreachableError as error:
            if monotonic() + delay > deadline:
                raise
            emit("waiting", reason="WeaviateUnavailable", message=str(error)[:300])
            sleep(delay)
            delay = min(delay * 2, CONNECT_RETRY_MAX_DELAY)


def _run(kind: JobKind, settings: RunSettings, client: Any, reporter: KubeRunReporter) -> int:
    if kind == "copy":
        result, ref = copy_run(settings, client, reporter)
        emit(
            "finished",
            rows=result.rows_read,
            written=result.written,
            retried=result.retried_objects,
            skippedOnResume=result.skipped_on_resume,
            failed=result.failed_count,
            report=ref,
        )
        return NON_RETRYABLE_EXIT_CODE if result.failed_count else EXIT_OK
    diff = diff_run(settings, client, reporter, repair=kind == "sync")
    if diff.not_concluded is not None:  # the report says why; the operator shows it
        emit("inconclusive", reason="OutboxNotDraining", message=diff.not_concluded)
        return EXIT_OK
    emit(
        "finished",
        checked=diff.checked,
        missing=diff.missing,
        extra=diff.extra,
        mismatched=diff.mismatched,
        upserted=diff.upserted,
        deleted=diff.deleted,
        failed=len(diff.failed),
    )
    if diff.failed:
        return NON_RETRYABLE_EXIT_CODE
    # validate succeeds once its report is written; the operator judges the counts
    return EXIT_OK


@job_app.command("copy")
def job_copy() -> None:
    """Copy every mapped table into Weaviate, resuming from status.progress.checkpoint."""
    sys.exit(run_job("copy"))


@job_app.command("sync")
def job_sync() -> None:
    """Diff SQLite against Weaviate and repair: upsert missing and changed, delete extra."""
    sys.exit(run_job("sync"))


@job_app.command("validate")
def job_validate() -> None:
    """Diff SQLite against Weaviate without repair; the result goes to status.validation."""
    sys.exit(run_job("validate"))
