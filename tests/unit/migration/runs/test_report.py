"""Failed keys go to status (first 100) and the report (all that fit in a ConfigMap)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from datamigration_operator.api.status import Progress
from datamigration_operator.migration.runs.diff import Difference, DiffResult
from datamigration_operator.migration.runs.report import (
    MAX_REPORT_BYTES,
    outbox_status,
    report_lines,
    validation_report,
    with_failures,
)
from datamigration_operator.migration.sink.weaviate_sink import FailedObject
from datamigration_operator.migration.source.app_outbox import OutboxState

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_status_holds_the_first_100_failures_and_the_total() -> None:
    failures = [FailedObject("t", (i,), "boom") for i in range(150)]
    progress = with_failures(Progress(), failures, 150, "dm-job-report")
    assert progress.failed == 150
    assert len(progress.failed_keys) == 100
    assert progress.failed_keys[0] == "t/[0]: boom"
    assert progress.report_ref == "dm-job-report"


def test_the_report_stops_before_a_configmap_overflows_and_says_how_many_are_left() -> None:
    failures = [FailedObject("t", ("k" * 200 + str(i),), "x" * 100) for i in range(10_000)]
    lines = report_lines(failures, 12_000)
    assert sum(len(line) + 1 for line in lines) < MAX_REPORT_BYTES + 100
    assert lines[-1] == f"... and {12_000 - (len(lines) - 1)} more"


def test_validation_report_passes_only_within_max_mismatches() -> None:
    result = DiffResult(checked=10, mismatched=1)
    result.samples.append(
        Difference("messages", ("m1",), UUID(int=1), "mismatched", ("content", "role"))
    )
    report = validation_report(result, job="j", started_at=NOW, finished_at=NOW, max_mismatches=0)
    assert report.passed is False
    assert report.samples[0].key == '["m1"]'
    assert report.samples[0].detail == "differs in content, role"
    assert validation_report(
        result, job="j", started_at=NOW, finished_at=NOW, max_mismatches=1
    ).passed
    running = validation_report(result, job="j", started_at=NOW, finished_at=None, max_mismatches=0)
    assert running.passed is None


def test_the_outbox_status_carries_the_lease_expiry_also_when_lapsed() -> None:
    lapsed = OutboxState(
        depth=2, oldest_age=3.04, mark=9, lowest=8, lease_expires_at=1_767_225_600.7
    )
    status = outbox_status(lapsed, job="dm-validate-abc", waiting=None)
    assert status.lease_holder is None
    assert status.lease_expires_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert (status.depth, status.oldest_age_seconds, status.high_water_mark) == (2, 3.0, 9)
    never = outbox_status(OutboxState(0, 0.0, 0, None), job="j", waiting=None)
    assert never.lease_expires_at is None
