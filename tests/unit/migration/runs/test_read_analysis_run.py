"""A switch step's analysis Job sums the app's windows of that step, waiting for minSamples up
to the step's timeout."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from datamigration_operator.api.job_contract import AnalysisWindow
from datamigration_operator.dualwrite.read_analysis import ReadAnalysisRecorder
from datamigration_operator.migration.runs.read_analysis_run import analysis_run


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += 1


def database(tmp_path: Path, share: int, compared: int, mismatched: int) -> Path:
    path = tmp_path / "app.db"
    recorder = ReadAnalysisRecorder(sa.create_engine(f"sqlite:///{path}"), lambda: share, pod="p")
    for index in range(compared):
        recorder.compared(agreed=index >= mismatched)
        recorder.weaviate_read(3.0, failed=False)
    recorder.flush()
    return path


def window(share: int, min_samples: int) -> AnalysisWindow:
    return AnalysisWindow(
        step=2,
        read_percent=share,
        since_epoch=time.time() - 60,
        min_samples=min_samples,
        timeout="10s",
    )


def test_enough_samples_report_at_once(tmp_path: Path) -> None:
    path = database(tmp_path, 25, compared=40, mismatched=3)
    clock = Clock()
    report = analysis_run(
        path, window(25, 40), job="j", sleep=clock.sleep, monotonic=clock.monotonic
    )
    assert (report.compared, report.mismatched, report.weaviate_reads, report.pods) == (
        40,
        3,
        40,
        1,
    )
    assert report.reason is None
    assert report.latency_p99_ms == 5.0
    assert clock.slept == 0


def test_too_few_samples_wait_out_the_timeout_then_say_so(tmp_path: Path) -> None:
    path = database(tmp_path, 25, compared=10, mismatched=0)
    clock = Clock()
    report = analysis_run(
        path, window(25, 40), job="j", sleep=clock.sleep, monotonic=clock.monotonic
    )
    assert report.reason == "SwitchAnalysisInconclusive"
    assert "10 shadow reads compared from 1 app processes in 10s" in (report.message or "")
    assert clock.now >= 10


def test_windows_of_another_share_do_not_count(tmp_path: Path) -> None:
    path = database(tmp_path, 10, compared=40, mismatched=40)
    clock = Clock()
    report = analysis_run(
        path, window(25, 1), job="j", sleep=clock.sleep, monotonic=clock.monotonic
    )
    assert (report.compared, report.reason) == (0, "SwitchAnalysisInconclusive")
