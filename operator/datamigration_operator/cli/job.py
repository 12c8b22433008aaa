"""`dmctl job copy|sync|validate`: the entry point of the operator's Jobs.

The configuration is JobConfig JSON in $DATAMIGRATION_JOB_CONFIG, the Weaviate API key a
secretKeyRef variable. Exit 0 on success, NON_RETRYABLE_EXIT_CODE (42) when a retry cannot
help (bad configuration or mapping, a refused API key, objects that keep failing:
podFailurePolicy fails the Job at once), 1 for anything a new pod may get past (Weaviate or the
API server unreachable). A run that fails writes one line saying why to the container's
termination message file ($DATAMIGRATION_TERMINATION_LOG): the operator shows it in
status.message and a Warning event.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from datamigration_operator.api.durations import parse_duration
from datamigration_operator.api.job_contract import (
    API_KEY_ENV,
    CONFIG_ENV,
    JOB_UID_ENV,
    NON_RETRYABLE_EXIT_CODE,
    TERMINATION_LOG_ENV,
    JobConfig,
)
from datamigration_operator.api.names import owner_id
from datamigration_operator.api.phases import JobKind
from datamigration_operator.api.status import (
    BackupStatus,
    Checkpoint,
    OutboxStatus,
    Progress,
    Recreation,
    ValidationReport,
)
from datamigration_operator.kube.migration_reporter import MigrationReporter, ReporterError
from datamigration_operator.migration.runs.backup import BackupSettings
from datamigration_operator.migration.runs.exit_codes import (
    EXIT_RETRYABLE,
    classify,
    failure_message,
)
from datamigration_operator.migration.runs.read_analysis_run import analysis_run
from datamigration_operator.migration.runs.read_probe import ProbeSettings
from datamigration_operator.migration.runs.report import failure_line
from datamigration_operator.migration.runs.run import EXIT_OK, RunSettings, copy_run, diff_run
from datamigration_operator.migration.sink.weaviate_sink import (
    EndpointUnreachableError,
    FailedObject,
    SinkSettings,
    WeaviateUnreachableError,
    connect,
)

job_app = typer.Typer(
    add_completion=False, help="Run a migration Job (reads its configuration from the environment)."
)
log = logging.getLogger("dmctl.job")
CONNECT_RETRY_MAX_DELAY = 5.0
# The copy is the first to reach its endpoint: nobody answering for this long is a wrong host or
# port (or a Weaviate that is down), told at once rather than after the pod retries.
COPY_CONNECT_GRACE = 10.0
# The kubelet keeps at most 4096 bytes of a termination message; status.message takes 1024.
MAX_TERMINATION_MESSAGE = 900


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

    def load_recreation(self) -> Recreation | None:
        return self.reporter.read_recreation()

    def publish_recreation(self, recreation: Recreation) -> None:
        self.reporter.publish_recreation(recreation)
        emit(
            "recreate",
            rerun=recreation.rerun,
            state=recreation.state,
            collections={c.name: c.objects for c in recreation.collections},
        )

    def write_report(self, lines: list[str], summary: str) -> str | None:
        return self.reporter.write_report(self.job_name, lines, summary)

    def publish_backup(self, backup: BackupStatus) -> None:
        emit(
            "backup",
            claim=backup.claim,
            path=backup.path,
            sizeBytes=backup.size_bytes,
            sha256=backup.sha256,
            retained=len(backup.retained),
        )
        self.reporter.publish_backup(backup)


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
        discover=config.discover,
        recreate_rerun=config.recreate_rerun,
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
        read_probe=_probe_settings(config),
        backup=backup_settings(config),
    )


def backup_settings(config: JobConfig) -> BackupSettings | None:
    backup, ref = config.backup, config.datamigration
    if backup is None:
        return None
    return BackupSettings(
        directory=Path(backup.directory),
        claim_name=backup.claim_name,
        path=backup.path,
        retain=backup.retain,
        owner=f"{ref.namespace}/{ref.name}",
        job=config.job_name,
    )


def _probe_settings(config: JobConfig) -> ProbeSettings | None:
    probe = config.read_probe
    if config.kind != "validate" or probe is None or not probe.enabled:
        return None
    return ProbeSettings(requests=probe.requests, concurrency=probe.concurrency)


@dataclass(frozen=True)
class Ended:
    """How a run ended: its exit code and, unless it succeeded, why (one line)."""

    code: int
    reason: str = ""
    message: str = ""


def run_job(kind: JobKind) -> int:
    """Runs the Job; a failure's reason goes to the termination message file as well."""
    ended = _run_job(kind)
    if ended.code != EXIT_OK:
        write_termination_message(ended.message or ended.reason, os.environ.get(API_KEY_ENV))
    return ended.code


def redact(text: str, secret: str | None) -> str:
    """`text` without the API key, should an error message ever quote it."""
    return text.replace(secret, "[redacted]") if secret else text


def write_termination_message(message: str, secret: str | None = None) -> None:
    """One line into $DATAMIGRATION_TERMINATION_LOG (the container's terminationMessagePath),
    best effort: outside a pod (the variable unset) or on a read-only path nothing is written."""
    path = os.environ.get(TERMINATION_LOG_ENV)
    if not path:
        return
    line = " ".join(redact(message, secret).split())[:MAX_TERMINATION_MESSAGE]
    try:
        Path(path).write_text(line + "\n", encoding="utf-8")
    except OSError as error:
        log.warning("could not write the termination message to %s: %s", path, error)


def _run_job(kind: JobKind) -> Ended:
    try:
        config = load_config(kind)
    except ValueError as error:
        emit("failed", reason="InvalidConfig", message=str(error))
        return Ended(NON_RETRYABLE_EXIT_CODE, "InvalidConfig", str(error))
    settings = settings_of(config)
    api_key = None
    if config.target.api_key_env is not None:
        api_key = os.environ.get(config.target.api_key_env)
        if not api_key:
            emit("failed", reason="MissingApiKey", variable=config.target.api_key_env)
            # the Secret may appear; the kubelet retries too
            return Ended(
                EXIT_RETRYABLE,
                "MissingApiKey",
                f"the Weaviate API key variable {config.target.api_key_env} is empty "
                "(the Secret key spec.target.apiKeySecretRef names holds no value)",
            )
    emit("started", kind=kind, job=config.job_name, migration=config.datamigration.name)
    try:
        if kind == "analyze":
            return _analyze(config)
        with MigrationReporter(config.datamigration) as migration:
            reporter = KubeRunReporter(migration, config.job_name)
            client = _connect(kind, config, api_key)
            try:
                return _run(kind, settings, client, reporter)
            finally:
                client.close()
    except ReporterError as error:
        message = redact(str(error), api_key)
        emit("failed", reason="DataMigrationUnavailable", message=message)
        code = EXIT_RETRYABLE if error.retryable else NON_RETRYABLE_EXIT_CODE
        return Ended(code, "DataMigrationUnavailable", message)
    except Exception as error:
        code, reason = classify(error)
        message = redact(failure_message(error), api_key)[:1000]
        emit("failed", reason=reason, message=message)
        return Ended(code, reason, message)


def _analyze(config: JobConfig) -> Ended:
    """A switch step's analysis: no Weaviate, the app's database read-only, one report."""
    window = config.analysis
    if window is None:
        message = "an analyze Job needs the step's analysis window in its configuration"
        emit("failed", reason="InvalidConfig", message=message)
        return Ended(NON_RETRYABLE_EXIT_CODE, "InvalidConfig", message)
    with MigrationReporter(config.datamigration) as migration:
        report = analysis_run(Path(config.source.path), window, job=config.job_name)
        uid = os.environ.get(JOB_UID_ENV) or None
        migration.publish_switch_analysis(report.model_copy(update={"job_uid": uid}))
    emit(
        "finished",
        step=report.step,
        compared=report.compared,
        mismatched=report.mismatched,
        weaviateReads=report.weaviate_reads,
        weaviateErrors=report.weaviate_errors,
        latencyP99Ms=report.latency_p99_ms,
        inconclusive=report.reason is not None,
    )
    return Ended(EXIT_OK)


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
    rather than spent on pod retries. The copy waits COPY_CONNECT_GRACE at most, then fails
    for good (EndpointUnreachableError): there, it is a wrong endpoint. Either way the error
    names host and port."""
    copy = kind == "copy"
    wait = COPY_CONNECT_GRACE if copy else parse_duration(config.drain_timeout).total_seconds()
    deadline = monotonic() + wait
    delay = 0.5
    while True:
        try:
            return connect(config.target, api_key)
        except WeaviateUnreachableError as error:
            if monotonic() + delay > deadline:
                if copy:
                    raise EndpointUnreachableError(str(error)) from None
                raise
            emit("waiting", reason="WeaviateUnavailable", message=str(error)[:300])
            sleep(delay)
            delay = min(delay * 2, CONNECT_RETRY_MAX_DELAY)


def _run(kind: JobKind, settings: RunSettings, client: Any, reporter: KubeRunReporter) -> Ended:
    if kind == "copy":
        result, ref = copy_run(settings, client, reporter, on_backup=reporter.publish_backup)
        emit(
            "finished",
            rows=result.rows_read,
            written=result.written,
            retried=result.retried_objects,
            skippedOnResume=result.skipped_on_resume,
            recreatedCollections=result.collections_recreated,
            failed=result.failed_count,
            report=ref,
        )
        if not result.failed_count:
            return Ended(EXIT_OK)
        message = _failed_objects(result.failed_count, result.failed, ref)
        return Ended(NON_RETRYABLE_EXIT_CODE, "ObjectsFailed", message)
    diff = diff_run(settings, client, reporter, repair=kind == "sync")
    if diff.not_concluded is not None:  # the report says why; the operator shows it
        emit("inconclusive", reason="OutboxNotDraining", message=diff.not_concluded)
        return Ended(EXIT_OK)
    emit(
        "finished",
        checked=diff.checked,
        missing=diff.missing,
        extra=diff.extra,
        mismatched=diff.mismatched,
        danglingReferences=diff.dangling_references,
        wrongReferences=diff.wrong_references,
        upserted=diff.upserted,
        deleted=diff.deleted,
        failed=len(diff.failed),
    )
    if diff.failed:
        message = _failed_objects(len(diff.failed), diff.failed)
        return Ended(NON_RETRYABLE_EXIT_CODE, "ObjectsFailed", message)
    # validate succeeds once its report is written; the operator judges the counts
    return Ended(EXIT_OK)


def _failed_objects(count: int, failures: list[FailedObject], report: str | None = None) -> str:
    first = f" (first: {failure_line(failures[0])})" if failures else ""
    where = f"; every key in ConfigMap {report}" if report else ""
    return f"{count} objects kept failing in Weaviate{first}{where}"


@job_app.command("copy")
def job_copy() -> None:
    """Copy every mapped table into Weaviate, resuming from status.progress.checkpoint."""
    sys.exit(run_job("copy"))


@job_app.command("sync")
def job_sync() -> None:
    """Diff SQLite against Weaviate and repair: upsert missing and changed, delete extra."""
    sys.exit(run_job("sync"))


@job_app.command("analyze")
def job_analyze() -> None:
    """Sum the app's shadow-read counts of one switch step; the result goes to
    status.switchAnalysis (the operator judges it against the step's thresholds)."""
    sys.exit(run_job("analyze"))


@job_app.command("validate")
def job_validate() -> None:
    """Diff SQLite against Weaviate without repair; the result goes to status.validation."""
    sys.exit(run_job("validate"))
