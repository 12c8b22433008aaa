"""The load generator's report: writes vs reads, failures kept with examples, percentiles."""

from __future__ import annotations

import pytest

from chat_app.loadgen import LoadGenerator, LoadReport, LoadSettings


def test_summary_separates_writes_from_reads_and_counts_every_failure() -> None:
    report = LoadReport(seconds=2.0)
    for ms in range(1, 101):
        report.record("post_message", ms / 1000, None)
    report.record("read_messages", 0.5, None)  # a slow read does not count as write latency
    report.record("edit_message", 0.01, "503 database unavailable")
    report.record("search_documents", 0.01, "ClientConnectorError: refused")
    summary = report.summary()
    assert summary["requests"] == 103
    assert summary["writes"] == 101
    assert (summary["failed"], summary["failed_writes"]) == (2, 1)
    assert summary["failures"] == {"edit_message": 1, "search_documents": 1}
    assert summary["failure_examples"] == [
        "edit_message: 503 database unavailable",
        "search_documents: ClientConnectorError: refused",
    ]
    assert summary["write_latency_ms"] == {"p50": 50.5, "p99": 99.99}


def test_failure_examples_are_bounded() -> None:
    report = LoadReport()
    for n in range(50):
        report.record("post_message", 0.001, f"error {n}")
    assert report.summary()["failed"] == 50
    assert len(report.summary()["failure_examples"]) == 10


@pytest.mark.parametrize(("rate", "duration"), [(0, 10), (10, 0), (-1, 1)])
def test_rate_and_duration_must_be_positive(rate: float, duration: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        LoadGenerator(LoadSettings(url="http://app", rate=rate, duration=duration))
