"""The validate run's read probe against the real weaviate-server: figures for every read kind
the sample app declares, on Weaviate and on SQLite, sane, and nothing written to Weaviate."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from datamigration_operator.cli.read_figures import read_figure_lines
from datamigration_operator.migration.runs.read_probe import ProbeSettings
from datamigration_operator.migration.runs.run import copy_run, diff_run
from datamigration_operator.migration.sink.weaviate_sink import connect
from datamigration_sandbox.sample_data import generate_database
from tests.integration.migration.conftest import RecordingReporter, settings
from tests.real.conftest import WEAVIATE_API_KEY, RealCluster

COLLECTIONS = ("Conversation", "Message", "Document")


def _counts(client: Any) -> dict[str, int]:
    return {
        name: client.collections.use(name).aggregate.over_all(total_count=True).total_count
        for name in COLLECTIONS
    }


def test_the_read_probe_measures_both_stores_against_the_real_weaviate(
    real_cluster: RealCluster, tmp_path: Path
) -> None:
    target = real_cluster.weaviate_target
    database = generate_database(tmp_path / "app.db", rows=3_000)
    run = settings(database, tmp_path / "scratch")
    probed = dataclasses.replace(run, read_probe=ProbeSettings(requests=100, concurrency=4))
    weaviate = connect(target, WEAVIATE_API_KEY)
    try:
        weaviate.collections.delete_all()
        copied, _ = copy_run(run, weaviate, RecordingReporter())
        counts = _counts(weaviate)
        reporter = RecordingReporter()
        diffed = diff_run(probed, weaviate, reporter, repair=False)
        after = _counts(weaviate)
    finally:
        weaviate.collections.delete_all()  # the walk's migration uses the same collections
        weaviate.close()
    assert copied.failed_count == 0, copied
    assert diffed.differences == 0, diffed
    assert after == counts  # the probe only reads
    figures = reporter.validations[-1].read_performance
    assert figures is not None
    print("\nread probe on weaviate-server 1.35.2:\n" + "\n".join(read_figure_lines(figures)))
    assert [k.kind for k in figures.kinds] == ["byId", "byReference", "bm25", "nearVector"]
    for kind in figures.kinds:
        for comparison in (kind.sequential, kind.concurrent):
            for side in (comparison.weaviate, comparison.sqlite):
                assert side is not None, kind
                assert (side.errors, side.error_rate) == (0, 0.0), kind
                assert 0 < side.requests <= 100, kind
                if side.requests < 100:  # the run's 5 s ran out first: the note says so
                    assert f"{side.requests} of 100 reads in 5 s" in (kind.note or ""), kind
                assert side.p50_ms is not None, kind
                assert side.p99_ms is not None, kind
                assert side.mean_ms is not None, kind
                # sane: measured (not zero), ordered, and far from any timeout
                assert 0 < side.p50_ms <= side.p99_ms < 5_000, kind
                assert 0 < side.mean_ms < 5_000, kind
