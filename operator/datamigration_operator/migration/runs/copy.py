"""The bulk copy: SQLite rows in key order -> objects -> Weaviate batches, several in flight.

Batches are flushed in order: the checkpoint only moves past a batch once it and every batch
before it are in Weaviate, so a killed copy resumes after the last flushed batch. On resume the
first batches after the checkpoint are compared with what Weaviate already holds (content
hashes) and only objects that differ are sent again, so the rows re-sent stay within the batches
that were in flight at the kill, however old the last published checkpoint is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from datamigration_operator.api.names import fold_sql_name
from datamigration_operator.api.status import Checkpoint
from datamigration_operator.gc_thresholds import relaxed_gc
from datamigration_operator.migration.mapping import (
    CollectionPlan,
    MigrationObject,
    RowError,
)
from datamigration_operator.migration.mapping.canonical import content_hash
from datamigration_operator.migration.mapping.objects import builder_for
from datamigration_operator.migration.mapping.reference_order import (
    deferred_references,
    referenced_first,
)
from datamigration_operator.migration.mapping.values import Key
from datamigration_operator.migration.runs.checkpoint import (
    advance,
    advance_references,
    finish_table,
    resume_after,
)
from datamigration_operator.migration.runs.progress import ProgressTracker
from datamigration_operator.migration.sink.deferred_references import (
    has_references,
    without_references,
)
from datamigration_operator.migration.sink.target_reader import TargetReader
from datamigration_operator.migration.sink.weaviate_sink import (
    FailedObject,
    WeaviateSink,
    WriteOutcome,
)

# Failed keys kept in memory for the report; the count goes on beyond it.
MAX_KEPT_FAILURES = 10_000


class RowSource(Protocol):
    def rows(self, plan: CollectionPlan, *, after: Key | None = None, batch_size: int) -> Any: ...


@dataclass
class CopyResult:
    rows_read: int = 0
    written: int = 0
    skipped_on_resume: int = 0
    retried_objects: int = 0
    failed_count: int = 0
    failed: list[FailedObject] = field(default_factory=list)
    collections_recreated: int = 0
    """Times collections vanished mid-copy and were created again (the copy started over)."""

    def add_failures(self, failures: Sequence[FailedObject]) -> None:
        self.failed_count += len(failures)
        room = MAX_KEPT_FAILURES - len(self.failed)
        if room > 0:
            self.failed.extend(failures[:room])


def key_of(plan: CollectionPlan, row: dict[str, Any]) -> Key:
    return tuple(row[column] for column in plan.key_columns)


def build_objects(
    plan: CollectionPlan, rows: Sequence[dict[str, Any]], namespace: str
) -> tuple[list[MigrationObject], list[Hashable], list[FailedObject]]:
    """Objects and keys of the rows that map; a row that cannot be mapped is reported by key."""
    objects: list[MigrationObject] = []
    keys: list[Hashable] = []
    bad: list[FailedObject] = []
    builder = builder_for(plan, namespace)
    build, row_key = builder.build, builder.key_of
    for row in rows:
        try:
            objects.append(build(row))
        except RowError as error:
            bad.append(
                FailedObject(plan.table, error.key, f"column {error.column}: {error.message}")
            )
            continue
        keys.append(row_key(row))
    return objects, keys, bad


def unchanged_in_target(
    reader: TargetReader, plan: CollectionPlan, objects: Sequence[MigrationObject]
) -> set[int]:
    """Positions of objects Weaviate already holds with the same content."""
    existing = reader.fetch(plan, [obj.uuid for obj in objects])
    same = set()
    for index, obj in enumerate(objects):
        found = existing.get(obj.uuid)
        if found is not None and content_hash(found) == content_hash(obj):
            same.add(index)
    return same


@dataclass
class _InFlight:
    future: Future[WriteOutcome]
    table: str
    last_key: Key
    rows: int
    rewrite: bool = False
    """The second pass: objects pass one wrote already, now with their deferred references."""


def copy_tables(
    source: RowSource,
    sink: WeaviateSink,
    plans: Sequence[CollectionPlan],
    *,
    namespace: str,
    tracker: ProgressTracker,
    reader: TargetReader | None = None,
    probe: bool = False,
) -> CopyResult:
    """Copy every table from `tracker.checkpoint` on; raises the sink's errors that end a run
    (and TargetResetError: see copy_run). `probe`: compare with Weaviate from the first batch
    on, as after a resume (a copy that starts over may find much of its work still there)."""
    result = CopyResult()
    settings = sink.settings
    checkpoint: Checkpoint = tracker.checkpoint
    with relaxed_gc(), ThreadPoolExecutor(settings.concurrency, thread_name_prefix="sink") as pool:
        window: deque[_InFlight] = deque()

        def flush_oldest() -> None:
            nonlocal checkpoint
            batch = window.popleft()
            outcome = batch.future.result()
            if not batch.rewrite:
                result.written += outcome.written
            result.retried_objects += outcome.retried_objects
            result.add_failures(outcome.failed)
            checkpoint = advance(checkpoint, batch.table, batch.last_key)
            tracker.update(batch.table, batch.rows, checkpoint)

        # Resuming: compare with Weaviate until a batch has nothing there yet (the kill point),
        # across tables, since the published checkpoint may lag the last flushed batch.
        probing = reader is not None and (
            probe or checkpoint.table is not None or bool(checkpoint.tables_done)
        )
        ordered = referenced_first(plans)
        deferred = deferred_references(plans)
        try:
            # every table after the tables it references (each table ends flushed); references
            # to the table itself or closing a cycle are left out here (the second pass)
            for plan in ordered:
                if plan.table in checkpoint.tables_done:
                    continue
                left_out = deferred.get(fold_sql_name(plan.table))
                after = resume_after(checkpoint, plan.table, plan.key_columns)
                for rows in source.rows(plan, after=after, batch_size=settings.batch_size):
                    if not rows:
                        continue
                    result.rows_read += len(rows)
                    objects, keys, bad = build_objects(plan, rows, namespace)
                    result.add_failures(bad)
                    if left_out:
                        objects = [without_references(o, left_out) for o in objects]
                    if probing and reader is not None and objects:
                        same = unchanged_in_target(reader, plan, objects)
                        # past the kill point nothing matches any more: stop probing
                        probing = bool(same)
                        result.skipped_on_resume += len(same)
                        objects = [o for i, o in enumerate(objects) if i not in same]
                        keys = [k for i, k in enumerate(keys) if i not in same]
                    while len(window) >= settings.concurrency:
                        flush_oldest()
                    future = pool.submit(sink.write, plan, objects, keys)
                    window.append(_InFlight(future, plan.table, key_of(plan, rows[-1]), len(rows)))
                while window:
                    flush_oldest()
                checkpoint = finish_table(checkpoint, plan.table)
                tracker.update(plan.table, 0, checkpoint)
            # The second pass: every table is in Weaviate now, so the objects whose deferred
            # references pass one left out are written whole. Its checkpoint names a table
            # that is already in tables_done (see checkpoint.py).
            second = [p for p in ordered if fold_sql_name(p.table) in deferred]
            start = next((i for i, p in enumerate(second) if p.table == checkpoint.table), 0)
            for plan in second[start:]:
                names = deferred[fold_sql_name(plan.table)]
                checkpoint = advance_references(checkpoint, plan.table)
                after = resume_after(checkpoint, plan.table, plan.key_columns)
                for rows in source.rows(plan, after=after, batch_size=settings.batch_size):
                    if not rows:
                        continue
                    objects, keys, _ = build_objects(plan, rows, namespace)  # bad: reported
                    chosen = [i for i, o in enumerate(objects) if has_references(o, names)]
                    while len(window) >= settings.concurrency:
                        flush_oldest()
                    future = pool.submit(
                        sink.write, plan, [objects[i] for i in chosen], [keys[i] for i in chosen]
                    )
                    last = key_of(plan, rows[-1])
                    window.append(_InFlight(future, plan.table, last, len(rows), rewrite=True))
                while window:
                    flush_oldest()
            if second:
                checkpoint = advance_references(checkpoint, None)
                tracker.update(second[-1].table, 0, checkpoint)
        except BaseException:
            for batch in window:
                batch.future.cancel()
            raise
    tracker.finish(complete=True)
    return result
