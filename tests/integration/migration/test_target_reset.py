"""Weaviate restarted empty mid-copy (every collection gone: batches then fail with `could not
find class Message in schema`): the copy recreates the collections, starts over from an empty
checkpoint and ends with every row copied. Bounded: a target that keeps losing its schema fails
the copy by key instead of looping."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from datamigration_operator.api.status import Progress
from datamigration_operator.migration.runs.run import MAX_COLLECTION_RECREATIONS
from datamigration_operator.migration.sink.ownership import CollectionReplacedError
from datamigration_sandbox.sample_data import SampleDatabase
from tests.integration.migration.conftest import (
    RecordingReporter,
    RunningWeaviate,
    run_copy,
    run_diff,
    settings,
)

COLLECTIONS = {"conversations": "Conversation", "messages": "Message", "documents": "Document"}


@dataclass
class EmptiesWeaviate(RecordingReporter):
    """Drops every collection (over REST, as a restart without its data would leave Weaviate)
    once the first batch is in (the first progress published), then again at each start over,
    `times` times in all."""

    weaviate: RunningWeaviate | None = None
    times: int = 1
    resets: list[int] = field(default_factory=list)
    dropped: int = 0

    def publish_progress(self, progress: Progress) -> None:
        super().publish_progress(progress)
        started_over = progress.rows_done == 0 and self.dropped > 0
        if started_over:
            self.resets.append(len(self.progress) - 1)
        first_batch_in = bool(progress.rows_done) and self.dropped == 0
        if (
            self.weaviate is not None
            and self.dropped < self.times
            and (first_batch_in or started_over)
        ):
            self.dropped += 1
            client = self.weaviate.client()
            try:
                client.collections.delete_all()
            finally:
                client.close()


def _counts(database: SampleDatabase) -> dict[str, int]:
    return {collection: database.counts[table] for table, collection in COLLECTIONS.items()}


def test_a_weaviate_emptied_mid_copy_still_ends_with_every_row_copied(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    run = settings(database, tmp_path / "scratch", batch_size=100, concurrency=2)
    reporter = EmptiesWeaviate(weaviate=weaviate)
    result, _ = run_copy(weaviate, run, reporter)

    assert reporter.dropped == 1
    assert result.collections_recreated == 1
    assert result.failed_count == 0
    assert weaviate.counts(list(COLLECTIONS.values())) == _counts(database)
    # the reset was published before more work: a pod killed now starts over, not past the loss
    (reset,) = reporter.resets
    emptied = reporter.progress[reset]
    assert emptied.checkpoint is not None
    assert (emptied.checkpoint.table, emptied.checkpoint.tables_done) == (None, [])
    final = reporter.progress[-1]
    assert final.rows_done == final.rows_total == sum(database.counts[t] for t in COLLECTIONS)
    diff, _ = run_diff(weaviate, run, repair=False)
    assert (diff.missing, diff.extra, diff.mismatched) == (0, 0, 0)


def test_a_weaviate_that_keeps_losing_its_collections_fails_the_copy_instead_of_looping(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    run = settings(database, tmp_path / "scratch", batch_size=100, concurrency=2)
    reporter = EmptiesWeaviate(weaviate=weaviate, times=MAX_COLLECTION_RECREATIONS + 1)
    result, _ = run_copy(weaviate, run, reporter)

    assert result.collections_recreated == MAX_COLLECTION_RECREATIONS
    assert reporter.dropped == MAX_COLLECTION_RECREATIONS + 1
    assert result.failed_count > 0
    assert all("in schema" in failure.message for failure in result.failed)


@dataclass
class ReplacesCollection(RecordingReporter):
    """Once the first batch is in, deletes Message and creates it again unclaimed, as Weaviate's
    auto-schema does when the next write names a collection that is gone."""

    weaviate: RunningWeaviate | None = None
    replaced: bool = False

    def publish_progress(self, progress: Progress) -> None:
        super().publish_progress(progress)
        if self.weaviate is not None and progress.rows_done and not self.replaced:
            self.replaced = True
            client = self.weaviate.client()
            try:
                client.collections.delete("Message")
                client.collections.create_from_dict(
                    {"class": "Message", "properties": [{"name": "body", "dataType": ["text"]}]}
                )
            finally:
                client.close()


def test_a_collection_replaced_mid_copy_without_the_claim_fails_the_copy_naming_it(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    run = settings(database, tmp_path / "scratch", batch_size=100, concurrency=2)
    reporter = ReplacesCollection(weaviate=weaviate)
    with pytest.raises(CollectionReplacedError) as refused:
        run_copy(weaviate, run, reporter)
    assert reporter.replaced
    assert "Message (unclaimed)" in str(refused.value)
    assert "Conversation" not in str(refused.value)  # still claimed: not named
