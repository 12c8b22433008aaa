"""Per-process, per-window counts of Weaviate and shadow reads, written to the app's SQLite file
for a switch step's analysis Job (migration/source/app_read_analysis.py reads them).

Counting is in memory under a lock (a read pays a few additions); a daemon thread writes one
row per window that saw any read, stamped with the read share the process ran under, and
prunes rows older than a day. A failed write is logged and its counts are kept for the next
window: they are figures, not data, but a step is judged on them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Final

import sqlalchemy as sa

from datamigration_operator.dualwrite.drain_lease import holder_name
from datamigration_operator.dualwrite.outbox import metadata
from datamigration_operator.migration.app_engine import (
    LATENCY_BUCKETS_MS,
    READ_ANALYSIS_TABLE,
    latency_bucket,
)

log = logging.getLogger(__name__)
KEEP_SECONDS: Final = 86_400.0

read_analysis = sa.Table(
    READ_ANALYSIS_TABLE,
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pod", sa.Text, nullable=False),
    sa.Column("window_start", sa.Float, nullable=False, index=True),
    sa.Column("window_end", sa.Float, nullable=False),
    sa.Column("read_percent", sa.Integer, nullable=False),
    sa.Column("compared", sa.Integer, nullable=False),
    sa.Column("mismatched", sa.Integer, nullable=False),
    sa.Column("weaviate_reads", sa.Integer, nullable=False),
    sa.Column("weaviate_errors", sa.Integer, nullable=False),
    sa.Column("dropped", sa.Integer, nullable=False),
    sa.Column("latency", sa.Text, nullable=False),
)


class _Window:
    def __init__(self, start: float, read_percent: int) -> None:
        self.start = start
        self.read_percent = read_percent
        self.compared = self.mismatched = self.reads = self.errors = self.dropped = 0
        self.latency = [0] * (len(LATENCY_BUCKETS_MS) + 1)

    @property
    def empty(self) -> bool:
        return not (self.compared or self.reads or self.dropped)


class ReadAnalysisRecorder:
    """`read_percent` gives the share the process runs under now: a change of share closes the
    window, so no window mixes two steps."""

    def __init__(
        self,
        engine: sa.Engine,
        read_percent: Callable[[], int],
        *,
        window: float = 5.0,
        pod: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if window <= 0:
            raise ValueError("the read-analysis window must be positive")
        self._engine = engine
        self._read_percent = read_percent
        self.window = window
        self.pod = pod or holder_name()
        self._clock = clock
        self._lock = threading.Lock()
        self._current = _Window(clock(), read_percent())
        self._pending: list[_Window] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        read_analysis.create(engine, checkfirst=True)

    # -- counting (any thread) -----------------------------------------------------------

    def weaviate_read(self, milliseconds: float, *, failed: bool) -> None:
        with self._lock:
            window = self._window()
            window.reads += 1
            window.errors += failed
            if not failed:
                window.latency[latency_bucket(milliseconds)] += 1

    def compared(self, *, agreed: bool) -> None:
        with self._lock:
            window = self._window()
            window.compared += 1
            window.mismatched += not agreed

    def dropped(self) -> None:
        with self._lock:
            self._window().dropped += 1

    def _window(self) -> _Window:
        """The open window; a new share opens a new one (the old one waits for flush)."""
        share = self._read_percent()
        if share != self._current.read_percent:
            self._pending.append(self._current)
            self._current = _Window(self._clock(), share)
        return self._current

    # -- writing -------------------------------------------------------------------------

    def flush(self) -> int:
        """Writes the windows closed so far and the open one; returns rows written."""
        now = self._clock()
        with self._lock:
            closed = [*self._pending, self._current]
            self._pending = []
            self._current = _Window(now, self._read_percent())
        rows = [
            {
                "pod": self.pod,
                "window_start": w.start,
                "window_end": now,
                "read_percent": w.read_percent,
                "compared": w.compared,
                "mismatched": w.mismatched,
                "weaviate_reads": w.reads,
                "weaviate_errors": w.errors,
                "dropped": w.dropped,
                "latency": json.dumps(w.latency),
            }
            for w in closed
            if not w.empty
        ]
        if not rows:
            return 0
        try:
            with self._engine.begin() as connection:
                connection.execute(sa.insert(read_analysis), rows)
                connection.execute(
                    sa.delete(read_analysis).where(read_analysis.c.window_end < now - KEEP_SECONDS)
                )
        except sa.exc.SQLAlchemyError as error:
            log.error("could not write read-analysis counts (kept for the next window): %s", error)
            with self._lock:
                self._pending = [*closed, *self._pending]
            return 0
        return len(rows)

    def start(self) -> ReadAnalysisRecorder:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="read-analysis", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.window):
            self.flush()
