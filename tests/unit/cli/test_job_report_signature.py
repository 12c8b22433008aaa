"""The validate Job signs its report with its own Job uid, from the downward API variable the
Job manifest declares; the operator accepts no report without it."""

from __future__ import annotations

from typing import Any

import pytest

from datamigration_operator.api.job_contract import JOB_UID_ENV
from datamigration_operator.api.status import ValidationReport
from datamigration_operator.cli.job import KubeRunReporter


class Recorder:
    def __init__(self) -> None:
        self.published: list[ValidationReport] = []

    def publish_validation(self, report: ValidationReport) -> None:
        self.published.append(report)


def test_the_report_carries_the_jobs_uid_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(JOB_UID_ENV, "7d1e-uid")
    recorder = Recorder()
    reporter = KubeRunReporter(recorder, "shop-validate-1")  # type: ignore[arg-type]
    reporter.publish_validation(ValidationReport(job="shop-validate-1", job_uid="forged"))
    (sent,) = recorder.published
    assert sent.job_uid == "7d1e-uid"
    dumped: dict[str, Any] = sent.model_dump(mode="json", by_alias=True)
    assert dumped["jobUid"] == "7d1e-uid"


def test_without_the_variable_the_report_is_unsigned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(JOB_UID_ENV, raising=False)
    recorder = Recorder()
    KubeRunReporter(recorder, "j").publish_validation(ValidationReport(job="j"))  # type: ignore[arg-type]
    assert recorder.published[0].job_uid is None
