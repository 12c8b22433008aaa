"""The validate run's read probe against the sandbox Weaviate: figures for every read kind the
sample app declares, on both stores, and nothing written to either."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from datamigration_operator.migration.runs.read_probe import ProbeSettings
from datamigration_sandbox.sample_data import SampleDatabase
from tests.integration.migration.conftest import RunningWeaviate, run_copy, run_diff, settings

COLLECTIONS = ["Conversation", "Message", "Document"]


def test_validation_reports_read_figures_of_both_stores_and_writes_nothing(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    run = settings(database, tmp_path / "scratch")
    copied, _ = run_copy(weaviate, run)
    assert copied.failed_count == 0
    counts = weaviate.counts(COLLECTIONS)
    sqlite_bytes = hashlib.sha256(database.path.read_bytes()).hexdigest()

    probed = dataclasses.replace(run, read_probe=ProbeSettings(requests=30, concurrency=3))
    result, reporter = run_diff(weaviate, probed, repair=False)

    assert result.differences == 0
    report = reporter.validations[-1]
    assert report.passed
    figures = report.read_performance
    assert figures is not None
    assert (figures.requests, figures.concurrency) == (30, 3)
    kinds = {k.kind: k for k in figures.kinds}
    assert list(kinds) == ["byId", "byReference", "bm25", "nearVector"]
    for kind in kinds.values():
        for run_figures in (kind.sequential, kind.concurrent):
            for side in (run_figures.weaviate, run_figures.sqlite):
                assert side is not None, kind
                assert (side.requests, side.errors) == (30, 0), kind
                assert side.p50_ms is not None, kind
                assert side.p99_ms is not None, kind
                assert side.mean_ms is not None, kind
                assert 0 < side.p50_ms <= side.p99_ms, kind
                assert side.mean_ms > 0, kind
    assert "LIKE" in (kinds["bm25"].note or "")
    assert "brute-force" in (kinds["nearVector"].note or "")
    # the probe only reads
    assert weaviate.counts(COLLECTIONS) == counts
    assert hashlib.sha256(database.path.read_bytes()).hexdigest() == sqlite_bytes


def test_without_the_probe_the_report_has_no_read_figures(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    run = settings(database, tmp_path / "scratch")
    run_copy(weaviate, run)
    _, reporter = run_diff(weaviate, run, repair=False)
    assert reporter.validations[-1].passed
    assert reporter.validations[-1].read_performance is None
