"""Progress of a copy or sync: rows, rate, ETA and the checkpoint, published at most every 2 s.

`publish` receives a status.progress model; the Job patches it into the DataMigration status,
the CLI writes its checkpoint to a file. The final state is always published by `finish`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from datamigration_operator.api.status import Checkpoint, Progress

PUBLISH_INTERVAL = 2.0
RATE_WINDOW = 10.0

Publisher = Callable[[Progress], None]


class ProgressTracker:
    def __init__(
        self,
        job: str | None,
        rows_total: int,
        publish: Publisher,
        *,
        checkpoint: Checkpoint | None = None,
        rows_done: int = 0,
        interval: float = PUBLISH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.job = job
        self.rows_total = rows_total
        self.rows_done = rows_done
        self.table: str | None = None
        self.checkpoint = checkpoint or Checkpoint()
        self._publish = publish
        self._interval = interval
        self._clock = clock
        self._wall = wall
        self._last_publish: float | None = None
        self._samples: deque[tuple[float, int]] = deque([(clock(), rows_done)])
        self.publications = 0

    def update(self, table: str, rows: int, checkpoint: Checkpoint) -> None:
        """`rows` more rows flushed up to `checkpoint`; publishes once the interval passed."""
        self.table = table
        self.rows_done += rows
        self.checkpoint = checkpoint
        now = self._clock()
        self._samples.append((now, self.rows_done))
        while len(self._samples) > 2 and self._samples[0][0] < now - RATE_WINDOW:
            self._samples.popleft()
        if self._last_publish is None or now - self._last_publish >= self._interval:
            self._emit(now)

    def finish(self, *, complete: bool = False) -> None:
        """The final publication; `complete`: every row is done (a resumed run skipped some)."""
        if complete:
            self.rows_done = max(self.rows_done, self.rows_total)
        self._emit(self._clock())

    def start_over(self) -> None:
        """Back to no row done and an empty checkpoint, published at once: a pod that dies
        now must not resume past rows that are no longer in the target."""
        self.rows_done, self.table, self.checkpoint = 0, None, Checkpoint()
        self._samples = deque([(self._clock(), 0)])
        self._emit(self._clock())

    def rate(self) -> float:
        (first_time, first_rows), (last_time, last_rows) = self._samples[0], self._samples[-1]
        span = last_time - first_time
        return (last_rows - first_rows) / span if span > 0 else 0.0

    def snapshot(self) -> Progress:
        rate = self.rate()
        total = max(self.rows_total, self.rows_done)
        remaining = total - self.rows_done
        now = self._wall().replace(microsecond=0)
        eta = now + timedelta(seconds=round(remaining / rate)) if rate > 0 else None
        return Progress(
            job=self.job,
            table=self.table,
            rows_total=total,
            rows_done=self.rows_done,
            percent=100 if total == 0 else min(100, self.rows_done * 100 // total),
            rows_per_second=round(rate, 1),
            eta=eta if remaining > 0 else now,
            checkpoint=self.checkpoint,
            updated_at=now,
        )

    def _emit(self, now: float) -> None:
        self._last_publish = now
        self.publications += 1
        self._publish(self.snapshot())
