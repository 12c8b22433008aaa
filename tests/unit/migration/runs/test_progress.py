"""Progress is published at most every 2 s and at the end, with rate and ETA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from datamigration_operator.api.status import Checkpoint, Progress
from datamigration_operator.migration.runs.progress import ProgressTracker

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _tracker(clock: Clock, published: list[Progress], total: int = 1_000) -> ProgressTracker:
    return ProgressTracker(
        "job-1",
        total,
        published.append,
        clock=clock,
        wall=lambda: T0 + timedelta(seconds=clock.now),
    )


def test_publishes_first_update_then_at_most_every_two_seconds_and_at_finish() -> None:
    clock, published = Clock(), []
    tracker = _tracker(clock, published)
    for step in range(10):  # 10 batches, 0.5 s apart
        clock.now = step * 0.5
        tracker.update("t", 100, Checkpoint(table="t", last_key=step))
    assert [p.checkpoint.last_key for p in published if p.checkpoint] == [0, 4, 8]
    tracker.finish()
    final = published[-1]
    assert final.rows_done == 1_000
    assert final.percent == 100
    assert final.checkpoint == Checkpoint(table="t", last_key=9)


def test_rate_and_eta_follow_recent_throughput() -> None:
    clock, published = Clock(), []
    tracker = _tracker(clock, published)
    clock.now = 2.0
    tracker.update("t", 200, Checkpoint())
    snapshot = tracker.snapshot()
    assert snapshot.rows_per_second == 100.0
    assert snapshot.percent == 20
    assert snapshot.eta == T0 + timedelta(seconds=2 + 8)


def test_resumed_progress_starts_from_rows_already_done() -> None:
    clock, published = Clock(), []
    tracker = ProgressTracker("j", 100, published.append, rows_done=60, clock=clock)
    tracker.finish()
    assert published[-1].rows_done == 60
    assert published[-1].percent == 60
