"""The app's read-analysis windows, read by a switch step's analysis Job from the live SQLite file.

During a gradual switch the app's dual-write library counts, per process and per window, its
Weaviate reads (errors, a latency histogram) and its shadow reads (compared, mismatched,
dropped), with the read share it ran under, into one small table of the app's own database;
the app needs no Kubernetes rights. The analysis Job sums the windows of one step (its share,
from its start) read-only and reports them to the DataMigration's status.

The table and the latency bucket edges are the contract between the two sides: they live here,
the engine side, and dualwrite builds its SQLAlchemy table on them.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from datamigration_operator.migration.source.snapshot import open_read_only

READ_ANALYSIS_TABLE: Final = "datamigration_read_analysis"
# Upper edges of the latency histogram in milliseconds; the last bucket is everything above.
LATENCY_BUCKETS_MS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
OVERFLOW_MS: Final = 10_000.0


def latency_bucket(milliseconds: float) -> int:
    """Index of the bucket holding this latency (len(LATENCY_BUCKETS_MS) = above the last)."""
    return bisect.bisect_left(LATENCY_BUCKETS_MS, milliseconds)


def p99(buckets: list[int]) -> float | None:
    """The upper edge of the bucket holding the 99th percentile (None without reads)."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = 0.99 * total
    seen = 0
    for index, count in enumerate(buckets):
        seen += count
        if seen >= rank:
            return (
                float(LATENCY_BUCKETS_MS[index]) if index < len(LATENCY_BUCKETS_MS) else OVERFLOW_MS
            )
    return OVERFLOW_MS


@dataclass
class ReadTotals:
    """The windows of one step summed."""

    compared: int = 0
    mismatched: int = 0
    weaviate_reads: int = 0
    weaviate_errors: int = 0
    dropped: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    pods: set[str] = field(default_factory=set)

    @property
    def latency_p99_ms(self) -> float | None:
        return p99(self.latency)


class AppReadAnalysis:
    """Read-only view of the read-analysis windows in the app's live database file."""

    def __init__(self, path: Path) -> None:
        self._db = open_read_only(path)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AppReadAnalysis:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def totals(self, *, since: float, read_percent: int) -> ReadTotals:
        """Windows that began at or after `since` (epoch seconds) under this read share."""
        totals = ReadTotals()
        try:
            rows = self._db.execute(
                "SELECT pod, compared, mismatched, weaviate_reads, weaviate_errors, dropped, "
                f'latency FROM "{READ_ANALYSIS_TABLE}" '
                "WHERE window_start >= ? AND read_percent = ?",
                (since, read_percent),
            ).fetchall()
        except sqlite3.OperationalError:  # no table yet: the app never counted a read
            return totals
        for pod, compared, mismatched, reads, errors, dropped, latency in rows:
            totals.pods.add(str(pod))
            totals.compared += int(compared)
            totals.mismatched += int(mismatched)
            totals.weaviate_reads += int(reads)
            totals.weaviate_errors += int(errors)
            totals.dropped += int(dropped)
            for index, count in enumerate(json.loads(latency)[: len(totals.latency)]):
                totals.latency[index] += int(count)
        return totals
