"""The gradual switch on the app side: the read share routes a stable part of the reads to
Weaviate, shadow reads compare the other store off the request's path, and the counts reach the
app's database where a step's analysis Job reads them."""

from __future__ import annotations

import random
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from datamigration_operator.dualwrite.modes import ModeSource
from datamigration_operator.dualwrite.read_analysis import ReadAnalysisRecorder
from datamigration_operator.dualwrite.read_compare import reads_agree
from datamigration_operator.dualwrite.read_fallback import ReadGuard
from datamigration_operator.dualwrite.reads import ReadRouter, Row
from datamigration_operator.migration.source.app_read_analysis import AppReadAnalysis, p99
from tests.unit.dualwrite.test_reads import MESSAGES, FakeClient, Mode

# What the stand-in Weaviate holds for every id (test_reads.STORED), as the app's ORM gives it.
SAME: Row = {
    "id": "m1",
    "content": "hi",
    "tokens": 3,
    "created_at": datetime(2026, 1, 2, 3, 4, 5),
    "author": None,
    "conversation_id": "c1",
}


class Share:
    def __init__(self, percent: int) -> None:
        self.percent = percent

    def read_percent(self) -> int:
        return self.percent


def router(
    client: FakeClient,
    share: Share,
    *,
    shadow: float = 0.0,
    recorder: ReadAnalysisRecorder | None = None,
    queue: int = 256,
) -> ReadRouter:
    return ReadRouter(
        client,
        [MESSAGES],
        namespace="apps",
        name="chat",
        mode=Mode("dual_write"),
        guard=ReadGuard(timeout=5),
        registry=CollectorRegistry(),
        share=share,
        shadow_percent=shadow,
        recorder=recorder,
        shadow_queue=queue,
        rng=random.Random(7),
        recheck_delay=0.05,
    )


def routed_to_weaviate(reads: ReadRouter, keys: range) -> set[int]:
    sent = set()
    for key in keys:
        if reads.by_id("messages", key, lambda: None) is not None:
            sent.add(key)
    return sent


def test_the_share_sends_that_part_of_the_reads_to_weaviate_and_always_the_same_ones() -> None:
    share = Share(30)
    reads = router(FakeClient(), share)
    at_30 = routed_to_weaviate(reads, range(4000))
    assert 0.27 < len(at_30) / 4000 < 0.33
    assert routed_to_weaviate(reads, range(4000)) == at_30  # per read, not per coin toss
    share.percent = 60
    at_60 = routed_to_weaviate(reads, range(4000))
    assert at_30 < at_60  # a larger share keeps what the smaller one sent to Weaviate
    assert 0.57 < len(at_60) / 4000 < 0.63


def test_share_zero_in_dual_write_never_touches_weaviate_nor_shadows() -> None:
    client = FakeClient()
    reads = router(client, Share(0), shadow=100)
    assert [reads.by_id("messages", k, lambda: SAME) for k in range(50)] == [SAME] * 50
    reads.shadows.join()
    assert client.query.calls == []


def recorder_on(tmp_path: Path, share: Share) -> ReadAnalysisRecorder:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    return ReadAnalysisRecorder(engine, share.read_percent, pod="pod-a")


def test_shadow_reads_compare_both_stores_and_the_analysis_reads_the_counts(
    tmp_path: Path,
) -> None:
    share = Share(50)
    recorder = recorder_on(tmp_path, share)
    started = time.time() - 1
    reads = router(FakeClient(), share, shadow=100, recorder=recorder)
    differs = SAME | {"content": "changed in SQLite"}
    answers = [reads.by_id("messages", k, lambda: SAME) for k in range(40)]
    answers += [reads.by_id("messages", k, lambda: differs) for k in range(40, 60)]
    reads.shadows.join()
    assert recorder.flush() == 1
    with AppReadAnalysis(tmp_path / "app.db") as analysis:
        totals = analysis.totals(since=started, read_percent=50)
        assert analysis.totals(since=started, read_percent=10).compared == 0
    assert totals.compared == 60
    assert totals.mismatched == 20
    # each read ran on Weaviate once (answering or shadow), each difference once more (recheck)
    assert totals.weaviate_reads == 80
    assert totals.weaviate_errors == 0
    assert totals.pods == {"pod-a"}
    assert totals.latency_p99_ms is not None


def test_a_difference_that_a_second_look_no_longer_sees_is_a_write_in_flight(
    tmp_path: Path,
) -> None:
    share = Share(50)
    recorder = recorder_on(tmp_path, share)
    reads = router(FakeClient(), share, shadow=100, recorder=recorder)
    answers = iter([SAME | {"content": "committed, not drained yet"}, SAME])
    reads.by_id("messages", 1, lambda: next(answers))
    reads.shadows.join()
    recorder.flush()
    with AppReadAnalysis(tmp_path / "app.db") as analysis:
        totals = analysis.totals(since=0, read_percent=50)
    assert (totals.compared, totals.mismatched) == (1, 0)


def test_a_full_shadow_queue_drops_and_counts_instead_of_blocking_the_read(
    tmp_path: Path,
) -> None:
    share = Share(100 - 1)
    recorder = recorder_on(tmp_path, share)
    client = FakeClient()
    reads = router(client, share, shadow=100, recorder=recorder, queue=1)
    hold, running = threading.Event(), threading.Event()
    slow_sqlite_calls = 0

    def slow_sqlite() -> Row:
        nonlocal slow_sqlite_calls
        slow_sqlite_calls += 1
        running.set()
        hold.wait(5)
        return SAME

    keys = sorted(routed_to_weaviate(router(client, share), range(200)))[:5]
    began = time.perf_counter()
    reads.by_id("messages", keys[0], slow_sqlite)  # answered by Weaviate; its shadow is slow
    assert running.wait(5)  # the worker holds it: the queue (room for one) is empty again
    for key in keys[1:]:
        reads.by_id("messages", key, slow_sqlite)
    elapsed = time.perf_counter() - began
    hold.set()
    reads.shadows.join()
    assert elapsed < 2  # never waited for the held shadow read
    assert slow_sqlite_calls == 2  # one running, one queued; the other three dropped
    recorder.flush()
    with AppReadAnalysis(tmp_path / "app.db") as analysis:
        assert analysis.totals(since=0, read_percent=99).dropped == 3


def test_rows_are_compared_through_the_plan() -> None:
    weaviate_row = {"content": "hi", "tokens": 3, "created_at": "2026-01-02T03:04:05Z"}
    assert reads_agree(MESSAGES, weaviate_row | {"author": None}, SAME, "apps/chat")
    assert not reads_agree(MESSAGES, weaviate_row | {"author": "x"}, SAME, "apps/chat")
    assert not reads_agree(MESSAGES, None, SAME, "apps/chat")
    assert reads_agree(MESSAGES, None, None, "apps/chat")
    later = SAME | {"id": "m2", "tokens": 4}
    both = [weaviate_row | {"author": None}, weaviate_row | {"tokens": 4, "author": None}]
    assert reads_agree(MESSAGES, list(reversed(both)), [SAME, later], "apps/chat")
    assert not reads_agree(MESSAGES, both[:1], [SAME, later], "apps/chat")


def test_the_mode_source_reads_the_share_beside_the_mode(tmp_path: Path) -> None:
    (tmp_path / "migration_mode").write_text("dual_write")
    source = ModeSource(path=tmp_path, registry=CollectorRegistry())
    assert source.read_percent() == 0  # no share file: no gradual switch
    (tmp_path / "migration_mode_read_percent").write_text("25\n")
    source.refresh()
    assert source.read_percent() == 25
    (tmp_path / "migration_mode_read_percent").write_text("250")
    source.refresh()
    assert source.read_percent() == 25  # an invalid share keeps the last good one
    (tmp_path / "migration_mode_read_percent").unlink()
    source.refresh()
    assert source.read_percent() == 0


@pytest.mark.parametrize(
    ("buckets", "expected"),
    [([0] * 13, None), ([100] + [0] * 12, 1.0), ([98, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0], 500.0)],
)
def test_p99_is_the_upper_edge_of_its_bucket(buckets: list[int], expected: float | None) -> None:
    assert p99(buckets) == expected


@pytest.mark.parametrize(
    ("mode", "share", "expected"),
    [("weaviate_primary", 0, 100), ("dual_write", 25, 25), ("sqlite_only", 25, 0)],
)
def test_the_effective_share_follows_the_mode(mode: str, share: int, expected: int) -> None:
    from datamigration_operator.dualwrite.read_share import effective_read_percent

    assert effective_read_percent(mode, share) == expected
