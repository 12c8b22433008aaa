"""What a run reports: failed keys and validation results, for status and the report ConfigMap."""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime

from datamigration_operator.api.status import (
    MAX_FAILED_KEYS,
    OutboxStatus,
    Progress,
    ValidationReport,
    ValidationSample,
)
from datamigration_operator.migration.mapping.values import key_to_json
from datamigration_operator.migration.runs.diff import DiffResult
from datamigration_operator.migration.sink.weaviate_sink import FailedObject
from datamigration_operator.migration.source.app_outbox import OutboxState

MAX_KEY_TEXT = 256
MAX_DETAIL = 1024
MAX_STATUS_LINE = 512
# A ConfigMap holds at most 1 MiB; keep the report comfortably below it.
MAX_REPORT_BYTES = 900_000


def key_text(key: Hashable) -> str:
    if isinstance(key, tuple):
        try:
            return json.dumps(key_to_json(key), ensure_ascii=False)
        except ValueError:
            return repr(key)
    return str(key)


def failure_line(failure: FailedObject) -> str:
    return f"{failure.table}/{key_text(failure.key)}: {failure.message}"


def report_lines(failures: Sequence[FailedObject], total: int) -> list[str]:
    """Every failure that fits in a ConfigMap, then a note of how many did not."""
    lines: list[str] = []
    size = 0
    for failure in failures:
        line = failure_line(failure)
        size += len(line.encode()) + 1
        if size > MAX_REPORT_BYTES:
            break
        lines.append(line)
    if total > len(lines):
        lines.append(f"... and {total - len(lines)} more")
    return lines


def with_failures(
    progress: Progress, failures: Sequence[FailedObject], total: int, report_ref: str | None
) -> Progress:
    keys = [failure_line(f)[:MAX_STATUS_LINE] for f in failures[:MAX_FAILED_KEYS]]
    return progress.model_copy(
        update={"failed": total, "failed_keys": keys, "report_ref": report_ref}
    )


def validation_report(
    result: DiffResult,
    *,
    job: str | None,
    started_at: datetime,
    finished_at: datetime | None,
    max_mismatches: int,
    report_ref: str | None = None,
) -> ValidationReport:
    samples = [
        ValidationSample(
            table=d.table,
            key=d.key_text[:MAX_KEY_TEXT],
            problem=d.problem,
            detail=d.detail[:MAX_DETAIL],
        )
        for d in result.samples
    ]
    return ValidationReport(
        job=job,
        started_at=started_at,
        finished_at=finished_at,
        checked=result.checked,
        missing=result.missing,
        extra=result.extra,
        mismatched=result.mismatched,
        passed=None if finished_at is None else result.differences <= max_mismatches,
        samples=samples,
        report_ref=report_ref,
    )


def diff_summary(result: DiffResult) -> str:
    return (
        f"checked {result.checked}, missing {result.missing}, extra {result.extra}, "
        f"mismatched {result.mismatched}, upserted {result.upserted}, deleted {result.deleted}, "
        f"first-pass differences {result.first_pass_differences}"
    )


def outbox_status(state: OutboxState, *, job: str | None, waiting: str | None) -> OutboxStatus:
    return OutboxStatus(
        job=job,
        depth=state.depth,
        oldest_age_seconds=round(state.oldest_age, 1),
        high_water_mark=state.mark,
        lease_holder=None if state.holder is None else state.holder[:253],
        lease_expires_at=(
            None
            if state.lease_expires_at is None
            else datetime.fromtimestamp(state.lease_expires_at, UTC).replace(microsecond=0)
        ),
        waiting=None if waiting is None else waiting[:1024],
        observed_at=datetime.now(UTC).replace(microsecond=0),
    )
