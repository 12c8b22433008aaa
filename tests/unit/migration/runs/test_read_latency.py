"""runs/read_latency: the figures status.validation.readPerformance reports."""

from __future__ import annotations

import threading

import pytest

from datamigration_operator.migration.runs.read_latency import (
    Timings,
    percentile,
    summarise,
    time_reads,
)


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 201)]  # 1..200
    assert percentile(values, 0.50) == 100.0
    assert percentile(values, 0.99) == 198.0
    assert percentile([7.0], 0.99) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def test_summary_in_milliseconds_with_the_error_rate() -> None:
    timings = Timings(seconds=[0.001, 0.002, 0.003, 0.010], errors=1)
    figures = summarise(timings)
    assert (figures.requests, figures.errors, figures.error_rate) == (5, 1, 0.2)
    assert (figures.p50_ms, figures.p99_ms, figures.mean_ms) == (2.0, 10.0, 4.0)


def test_a_run_where_every_read_failed_has_no_latencies() -> None:
    figures = summarise(Timings(errors=3))
    assert (figures.requests, figures.error_rate, figures.p99_ms, figures.mean_ms) == (
        3, 1.0, None, None,
    )  # fmt: skip


def test_failed_reads_are_counted_and_the_first_error_kept() -> None:
    calls = iter(range(100))

    def read() -> object:
        if next(calls) % 2:
            raise ConnectionError("refused")
        return None

    timings = time_reads([read] * 10)
    assert timings.requests == 10
    assert timings.errors == 5
    assert timings.first_error == "ConnectionError: refused"


def test_concurrent_reads_are_in_flight_together() -> None:
    """Four reads that each wait for all four to have started finish only when run four at a
    time (the barrier would time out one at a time); the warm-up read is the fifth party."""
    started = threading.Barrier(4, timeout=5)
    warm = threading.Event()

    def read() -> object:
        if not warm.is_set():
            warm.set()  # the untimed warm-up read
            return None
        return started.wait()

    timings = time_reads([read] * 4, concurrency=4)
    assert (timings.requests, timings.errors) == (4, 0)
    assert time_reads([], concurrency=4).requests == 0


def test_reads_past_the_runs_budget_are_not_made() -> None:
    made: list[int] = []

    def read() -> object:
        made.append(1)
        return None

    timings = time_reads([read] * 5, budget=0.0)
    assert (timings.requests, timings.not_started, len(made)) == (0, 5, 1)  # the warm-up only
    assert summarise(timings).requests == 0
    within = time_reads([read] * 5, concurrency=2, budget=60.0)
    assert (within.requests, within.not_started) == (5, 0)
