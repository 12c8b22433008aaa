"""Timing a list of reads, one at a time or several in flight, and summarising the latencies
(p50, p99, mean, error rate) the way status.validation.readPerformance reports them."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final

from datamigration_operator.api.status import ReadLatency

Read = Callable[[], object]


@dataclass
class Timings:
    """Seconds each successful read took, and the reads that raised."""

    seconds: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    not_started: int = 0
    """Reads the run's deadline came before (neither made nor counted)."""

    @property
    def requests(self) -> int:
        return len(self.seconds) + self.errors


_NOT_STARTED: Final = object()


def _timed(read: Read, deadline: float = math.inf) -> float | BaseException | object:
    started = time.perf_counter()
    if started > deadline:
        return _NOT_STARTED
    try:
        read()
    except Exception as error:  # counted as a failed read (and shown), not raised
        return error
    return time.perf_counter() - started


def time_reads(reads: Sequence[Read], concurrency: int = 1, budget: float = math.inf) -> Timings:
    """Each read timed on its own; with `concurrency` > 1 that many are in flight at once.
    The first read runs once more beforehand, untimed: a warm-up (channels, caches). Reads
    not started within `budget` seconds are not made: a slow store bounds the run's time,
    not its figures."""
    timings = Timings()
    if not reads:
        return timings
    _timed(reads[0])
    deadline = time.perf_counter() + budget
    if concurrency <= 1:
        outcomes = [_timed(read, deadline) for read in reads]
    else:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="read-probe") as pool:
            outcomes = list(pool.map(lambda read: _timed(read, deadline), reads))
    for outcome in outcomes:
        if outcome is _NOT_STARTED:
            timings.not_started += 1
        elif isinstance(outcome, BaseException):
            timings.errors += 1
            if timings.first_error is None:
                timings.first_error = f"{type(outcome).__name__}: {outcome}"
        else:
            assert isinstance(outcome, float)
            timings.seconds.append(outcome)
    return timings


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of ascending values (p99 of 200 values is the 198th)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarise(timings: Timings) -> ReadLatency:
    requests = timings.requests
    rate = round(timings.errors / requests, 4) if requests else 0.0
    if not timings.seconds:
        return ReadLatency(requests=requests, errors=timings.errors, error_rate=rate)
    ordered = sorted(timings.seconds)
    return ReadLatency(
        requests=requests,
        errors=timings.errors,
        error_rate=rate,
        p50_ms=_ms(percentile(ordered, 0.50)),
        p99_ms=_ms(percentile(ordered, 0.99)),
        mean_ms=_ms(sum(ordered) / len(ordered)),
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
