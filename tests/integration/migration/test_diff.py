"""Validate finds missing, extra and mismatched objects with samples; the second look drops
differences that settled; sync repairs them all."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from datamigration_operator.migration.mapping import object_uuid
from datamigration_operator.migration.runs import run as run_module
from datamigration_operator.migration.runs.run import RunSettings
from datamigration_operator.migration.source.row_lookup import RowLookup
from datamigration_sandbox.sample_data import SampleDatabase
from tests.integration.migration.conftest import (
    NAMESPACE,
    RunningWeaviate,
    run_copy,
    run_diff,
    settings,
)


def _message_ids(database: SampleDatabase, count: int) -> list[str]:
    with sqlite3.connect(database.path) as connection:
        rows = connection.execute("SELECT id FROM messages ORDER BY id LIMIT ?", (count,))
        return [row[0] for row in rows]


def _uuid(message_id: str) -> uuid.UUID:
    return object_uuid(NAMESPACE, "messages", (message_id,))


@pytest.fixture
def copied(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> tuple[RunSettings, list[str]]:
    run = settings(database, tmp_path / "scratch")
    result, _ = run_copy(weaviate, run)
    assert result.failed_count == 0
    return run, _message_ids(database, 4)


def test_validate_counts_and_samples_each_kind_of_difference_and_sync_repairs_them(
    weaviate: RunningWeaviate, copied: tuple[RunSettings, list[str]]
) -> None:
    run, (gone1, gone2, changed, _) = copied
    client = weaviate.client()
    try:
        messages = client.collections.get("Message")
        messages.data.delete_by_id(_uuid(gone1))
        messages.data.delete_by_id(_uuid(gone2))
        messages.data.update(uuid=_uuid(changed), properties={"role": "tampered"})
        extra = uuid.uuid4()
        messages.data.insert({"role": "stray"}, uuid=extra)
    finally:
        client.close()

    diff, reporter = run_diff(weaviate, run, repair=False)

    assert (diff.missing, diff.extra, diff.mismatched) == (2, 1, 1)
    by_problem = {(s.problem, s.key_text): s for s in diff.samples}
    assert ("missing", f'["{gone1}"]') in by_problem
    assert ("missing", f'["{gone2}"]') in by_problem
    assert by_problem[("mismatched", f'["{changed}"]')].fields == ("role",)
    extra_sample = next(s for s in diff.samples if s.problem == "extra")
    assert str(extra) in extra_sample.detail
    report = reporter.validations[-1]
    assert report.finished_at is not None
    assert report.passed is False
    assert (report.missing, report.extra, report.mismatched) == (2, 1, 1)
    assert reporter.validations[0].finished_at is None  # "running" was published first

    repaired, sync_reporter = run_diff(weaviate, run, repair=True)
    assert (repaired.upserted, repaired.deleted) == (3, 1)
    assert sync_reporter.progress[-1].rows_done == repaired.checked
    again, _ = run_diff(weaviate, run, repair=False)
    assert again.differences == 0


def test_a_difference_that_settles_before_the_second_look_is_not_reported(
    weaviate: RunningWeaviate, copied: tuple[RunSettings, list[str]]
) -> None:
    run, (_, _, _, in_flight) = copied
    client = weaviate.client()
    messages = client.collections.get("Message")
    original = messages.query.fetch_object_by_id(_uuid(in_flight)).properties
    messages.data.update(uuid=_uuid(in_flight), properties={"role": "half-written"})

    def dual_write_lands(delay: float) -> None:
        assert 2.0 < delay <= 2.5  # between the two looks at a difference nothing explains
        messages.data.update(uuid=_uuid(in_flight), properties={"role": original["role"]})

    try:
        diff, _ = run_diff(
            weaviate,
            replace(run, recheck_delay=2.5),
            repair=False,
            sleep=dual_write_lands,
        )
    finally:
        client.close()
    assert diff.first_pass_differences == 1
    assert diff.differences == 0


def test_a_row_deleted_after_the_snapshot_is_an_extra_object_and_sync_deletes_it(
    weaviate: RunningWeaviate, database: SampleDatabase, copied: tuple[RunSettings, list[str]]
) -> None:
    run, (_, _, _, deleted) = copied
    with sqlite3.connect(database.path) as connection:
        connection.execute("DELETE FROM messages WHERE id = ?", (deleted,))
    repaired, _ = run_diff(weaviate, run, repair=True)
    assert repaired.deleted == 1
    assert str(_uuid(deleted)) not in weaviate.server.database.get("Message").objects


def test_validate_before_any_copy_reports_every_row_missing(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    run = settings(database, tmp_path / "scratch")
    diff, _ = run_diff(weaviate, run, repair=False)
    assert diff.missing == diff.checked == sum(database.counts.values())
    assert len(diff.samples) == 10


def test_a_row_committed_while_the_diff_runs_is_not_an_extra_object(
    weaviate: RunningWeaviate, database: SampleDatabase, copied: tuple[RunSettings, list[str]]
) -> None:
    run, (first, *_) = copied
    late = str(uuid.uuid4())
    with sqlite3.connect(database.path) as connection:
        row = connection.execute("SELECT * FROM messages WHERE id = ?", (first,)).fetchone()
        connection.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)", (late, *row[1:]))
    run_copy(weaviate, replace(run, job="copy-again"))  # the object a dual write sends
    with sqlite3.connect(database.path) as connection:
        connection.execute("DELETE FROM messages WHERE id = ?", (late,))

    def app_commits_the_row(_delay: float) -> None:
        # committed after the first pass began: only the second look can see it
        with sqlite3.connect(database.path) as connection:
            connection.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)", (late, *row[1:]))

    diff, _ = run_diff(
        weaviate, replace(run, recheck_delay=0.5), repair=False, sleep=app_commits_the_row
    )
    assert diff.first_pass_differences == 1
    assert diff.differences == 0


def test_sync_rewrites_a_record_a_dual_write_changed_between_its_read_and_its_write(
    weaviate: RunningWeaviate,
    database: SampleDatabase,
    copied: tuple[RunSettings, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run, (_, _, raced, _) = copied
    client = weaviate.client()
    messages = client.collections.get("Message")
    messages.data.update(uuid=_uuid(raced), properties={"content": "stale"})  # sync repairs it

    class DualWriteLandsAfterTheRead(RowLookup):
        landed = False

        def __call__(self, plan: Any, keys: Any) -> Any:
            rows = super().__call__(plan, keys)
            if plan.table == "messages" and (raced,) in rows and not self.landed:
                type(self).landed = True
                # the app commits a newer state and the drainer sends it before sync writes
                with sqlite3.connect(database.path) as connection:
                    connection.execute(
                        "UPDATE messages SET content = 'newest' WHERE id = ?", (raced,)
                    )
                messages.data.update(uuid=_uuid(raced), properties={"content": "newest"})
            return rows

    monkeypatch.setattr(run_module, "RowLookup", DualWriteLandsAfterTheRead)
    try:
        repaired, _ = run_diff(weaviate, run, repair=True)
        assert DualWriteLandsAfterTheRead.landed
        assert repaired.upserted == 2  # the repair, then the row's newer state again
        assert messages.query.fetch_object_by_id(_uuid(raced)).properties["content"] == "newest"
    finally:
        client.close()
