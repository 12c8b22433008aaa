"""A switch step's analysis: sum the app's read-analysis windows of the step (its share, from
its start) until enough shadow reads were compared, or the step's timeout passes. Read-only on
the app's live database; the verdict is the operator's (it holds the thresholds)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from datamigration_operator.api import reasons
from datamigration_operator.api.durations import parse_duration
from datamigration_operator.api.job_contract import AnalysisWindow
from datamigration_operator.api.status import SwitchAnalysisReport
from datamigration_operator.migration.source.app_read_analysis import AppReadAnalysis

POLL_SECONDS: Final = 1.0


def analysis_run(
    path: Path,
    window: AnalysisWindow,
    *,
    job: str,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> SwitchAnalysisReport:
    deadline = monotonic() + parse_duration(window.timeout).total_seconds()
    with AppReadAnalysis(path) as analysis:
        while True:
            totals = analysis.totals(since=window.since_epoch, read_percent=window.read_percent)
            enough = totals.compared >= window.min_samples
            if enough or monotonic() >= deadline:
                break
            sleep(POLL_SECONDS)
    return SwitchAnalysisReport(
        job=job,
        compared=totals.compared,
        mismatched=totals.mismatched,
        weaviate_reads=totals.weaviate_reads,
        weaviate_errors=totals.weaviate_errors,
        latency_p99_ms=totals.latency_p99_ms,
        dropped=totals.dropped,
        pods=len(totals.pods),
        step=window.step,
        read_percent=window.read_percent,
        since=datetime.fromtimestamp(window.since_epoch, UTC),
        finished_at=datetime.now(UTC),
        reason=None if enough else reasons.SWITCH_ANALYSIS_INCONCLUSIVE,
        message=None
        if enough
        else (
            f"{totals.compared} shadow reads compared from {len(totals.pods)} app processes "
            f"in {window.timeout} ({totals.dropped} dropped: shadow queue full)"
        ),
    )
