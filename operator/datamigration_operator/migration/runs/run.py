"""One copy, sync or validate run from settings to result, shared by `dmctl job` (reporting to
the DataMigration status) and `dmctl copy|sync|validate` (reporting to the terminal and a
checkpoint file).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from datamigration_operator.api import reasons
from datamigration_operator.api.names import fold_sql_name
from datamigration_operator.api.spec import CollectionMapping, DiscoverSpec
from datamigration_operator.api.status import (
    BackupStatus,
    Checkpoint,
    DroppedCollection,
    OutboxStatus,
    Progress,
    Recreation,
    ValidationReport,
)
from datamigration_operator.migration.mapping import CollectionPlan
from datamigration_operator.migration.mapping.reference_order import deferred_references
from datamigration_operator.migration.not_retryable import NotRetryableError
from datamigration_operator.migration.runs.backup import BackupSettings, keep_backup
from datamigration_operator.migration.runs.copy import CopyResult, copy_tables
from datamigration_operator.migration.runs.diff import Differ, DiffResult, Scratch, run_diff
from datamigration_operator.migration.runs.progress import ProgressTracker
from datamigration_operator.migration.runs.read_probe import ProbeSettings, probe_reads
from datamigration_operator.migration.runs.report import (
    diff_summary,
    outbox_status,
    report_lines,
    validation_report,
    with_failures,
)
from datamigration_operator.migration.runs.validation_rounds import (
    NoOutbox,
    OutboxWrites,
    PendingWrites,
    RoundSettings,
    confirm_differences,
)
from datamigration_operator.migration.sink.ownership import check_owned_by, check_still_claimed
from datamigration_operator.migration.sink.recreation import (
    describe,
    drop_collections,
    droppable_collections,
)
from datamigration_operator.migration.sink.target_reader import TargetReader
from datamigration_operator.migration.sink.weaviate_sink import (
    CollectionKeeper,
    SinkSettings,
    TargetResetError,
    WeaviateSink,
    ensure_collections,
)
from datamigration_operator.migration.source.app_outbox import (
    AppOutbox,
    OutboxNotDrainingError,
    OutboxState,
)
from datamigration_operator.migration.source.collection_plans import source_plans
from datamigration_operator.migration.source.row_lookup import RowLookup
from datamigration_operator.migration.source.sqlite_source import SqliteSource

log = logging.getLogger(__name__)

EXIT_OK = 0
# How often one copy recreates collections that vanished from Weaviate before it gives up.
MAX_COLLECTION_RECREATIONS = 3


class RunReporter(Protocol):
    """Where a run's state goes: the DataMigration status, or a file and the terminal."""

    def load_checkpoint(self) -> Checkpoint | None: ...

    def publish_progress(self, progress: Progress) -> None: ...

    def publish_validation(self, report: ValidationReport) -> None: ...

    def write_report(self, lines: list[str], summary: str) -> str | None: ...

    def publish_outbox(self, outbox: OutboxStatus) -> None: ...

    def load_recreation(self) -> Recreation | None: ...

    def publish_recreation(self, recreation: Recreation) -> None: ...


@dataclass(frozen=True)
class RunSettings:
    sqlite_path: Path
    snapshot: bool
    scratch_dir: Path
    collections: Sequence[CollectionMapping]
    namespace: str
    """Object ids are uuid5 of (namespace, table, key): the same namespace, the same ids."""
    sink: SinkSettings
    job: str | None = None
    max_mismatches: int = 0
    recheck_delay: float = 0.0
    drain_timeout: float = 120.0
    """How long validation waits for the app's outbox to drain (see validation_rounds)."""
    read_probe: ProbeSettings | None = None
    """Validation then times the app's reads on both stores (runs/read_probe.py)."""
    discover: DiscoverSpec = field(default_factory=DiscoverSpec)
    """spec.discover: the rest of the mapping is derived from the source (the snapshot)."""
    recreate_rerun: int | None = None
    """The copy first drops and recreates the collections it owns, once for this rerun."""
    backup: BackupSettings | None = None
    """Where the copy keeps its snapshot as a backup before it writes (see backup.py)."""


def _check_source(settings: RunSettings) -> None:
    if not settings.sqlite_path.is_file():
        raise NotRetryableError(f"SQLite file {settings.sqlite_path} does not exist")


def open_source(settings: RunSettings, *, snapshot: bool | None = None) -> SqliteSource:
    _check_source(settings)
    return SqliteSource(
        settings.sqlite_path,
        snapshot=settings.snapshot if snapshot is None else snapshot,
        scratch_dir=settings.scratch_dir,
    )


class LiveReads:
    """Scans of the live database, each in its own read transaction begun when the scan begins.

    The second look must see what the app committed after the first pass: an object a dual
    write sent during the diff belongs to a row that one long transaction, begun with the run,
    would not see - and sync would delete that object as extra.
    """

    def __init__(self, settings: RunSettings) -> None:
        self._settings = settings

    def rows(
        self, plan: CollectionPlan, *, after: tuple[object, ...] | None = None, batch_size: int
    ) -> Iterator[list[dict[str, Any]]]:
        with open_source(self._settings, snapshot=False) as source:
            yield from source.rows(plan, after=after, batch_size=batch_size)


def copy_run(
    settings: RunSettings,
    client: Any,
    reporter: RunReporter,
    *,
    on_backup: Callable[[BackupStatus], None] | None = None,
) -> tuple[CopyResult, str | None]:
    """The copy; returns the result and the report ConfigMap/file (when objects failed).
    With settings.backup, the snapshot is kept as a backup (told to `on_backup`) first."""
    with ExitStack() as stack:
        source = open_source(settings)
        stack.callback(source.close)
        plans = source_plans(source, settings.collections, settings.discover)
        dropped = _recreate(settings, client, reporter, plans)
        if settings.backup is not None:
            tables = [plan.table for plan in plans]
            kept = keep_backup(source, tables, settings.backup, scratch_dir=settings.scratch_dir)
            if on_backup is not None:
                on_backup(kept)
        ensure_collections(client, plans, owner=settings.namespace)
        checkpoint = None if dropped else reporter.load_checkpoint()
        if checkpoint is not None:
            known = {p.table for p in plans}
            stale = [t for t in [checkpoint.table, *checkpoint.tables_done] if t and t not in known]
            if stale:
                checkpoint = None  # a checkpoint of another mapping: start over (upserts)
        # a table with deferred references is read twice (copy_tables' second pass)
        twice = deferred_references(plans)
        total = sum(
            source.count(p.table) * (2 if fold_sql_name(p.table) in twice else 1) for p in plans
        )
        finished = checkpoint.tables_done if checkpoint else []
        done = sum(source.count(p.table) for p in plans if p.table in finished)
        tracker = ProgressTracker(
            settings.job, total, reporter.publish_progress, checkpoint=checkpoint, rows_done=done
        )
        keeper = CollectionKeeper(
            client, plans, owner=settings.namespace, limit=MAX_COLLECTION_RECREATIONS
        )
        sink = WeaviateSink(client, settings.sink, keeper=keeper)
        reader = TargetReader(client)
        started_over = False
        while True:
            try:
                result = copy_tables(
                    source,
                    sink,
                    plans,
                    namespace=settings.namespace,
                    tracker=tracker,
                    reader=reader,
                    probe=started_over,
                )
                break
            except TargetResetError:
                # Collections vanished (a Weaviate restarted without its data) and were created
                # again: what the copy wrote into them is gone, so it starts over; the probe
                # skips what is still there. The keeper bounds how often.
                tracker.start_over()
                started_over = True
        check_still_claimed(client, [p.collection for p in plans], settings.namespace)
        result.collections_recreated = keeper.recreations
        ref = None
        if result.failed_count:
            lines = report_lines(result.failed, result.failed_count)
            ref = reporter.write_report(lines, f"{result.failed_count} objects failed")
            reporter.publish_progress(
                with_failures(tracker.snapshot(), result.failed, result.failed_count, ref)
            )
        return result, ref


def _recreate(
    settings: RunSettings, client: Any, reporter: RunReporter, plans: Sequence[CollectionPlan]
) -> bool:
    """Drops the plans' collections this migration owns when the settings ask for it and no
    earlier attempt of this rerun finished the drop; True when it dropped (start from row 0).
    status.recreated says what will go before anything goes, and a retry after a crash
    mid-drop drops what is left."""
    rerun = settings.recreate_rerun
    if rerun is None:
        return False
    done = reporter.load_recreation()
    if done is not None and done.rerun == rerun and done.state == "Dropped":
        log.info("recreate of rerun %d was done by an earlier attempt: resuming", rerun)
        return False
    found = droppable_collections(client, [p.collection for p in plans], settings.namespace)
    listed = [DroppedCollection(name=c.name, objects=c.objects) for c in found]
    log.warning("recreate (rerun %d): dropping %s", rerun, describe(found))
    reporter.publish_recreation(
        Recreation(rerun=rerun, job=settings.job, state="Dropping", collections=listed, at=_now())
    )
    drop_collections(client, found)
    reporter.publish_recreation(
        Recreation(rerun=rerun, job=settings.job, state="Dropped", collections=listed, at=_now())
    )
    return True


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class OutboxWatch:
    """The app's outbox seen by a sync or validate Job, published to status.outbox (at most
    every PUBLISH_EVERY seconds while it waits, so the status is not patched in a loop)."""

    PUBLISH_EVERY = 2.0

    def __init__(self, settings: RunSettings, reporter: RunReporter) -> None:
        self._settings = settings
        self._reporter = reporter
        self._published = float("-inf")
        self._said_waiting = False
        _check_source(settings)
        outbox = AppOutbox(settings.sqlite_path)
        if not outbox.present():
            outbox.close()
            self.outbox: AppOutbox | None = None
            self.writes: PendingWrites = NoOutbox()
        else:
            self.outbox = outbox
            self.writes = OutboxWrites(outbox, settings.namespace, on_wait=self._waiting)

    def close(self) -> None:
        if self.outbox is not None:
            self.outbox.close()

    def publish(self, state: OutboxState, waiting: str | None = None) -> None:
        if self.outbox is None:
            return
        self._published = time.monotonic()
        self._said_waiting = waiting is not None
        self._reporter.publish_outbox(outbox_status(state, job=self._settings.job, waiting=waiting))

    def _waiting(self, state: OutboxState) -> None:
        # at once when the wait begins, then at most every PUBLISH_EVERY seconds
        if not self._said_waiting or time.monotonic() - self._published >= self.PUBLISH_EVERY:
            self.publish(
                state, f"waits for the app's dual-write outbox to drain: {state.describe()}"
            )

    def wait_drained(self, mark: int, *, purpose: str) -> OutboxState:
        deadline = time.monotonic() + self._settings.drain_timeout
        state = self.writes.wait_drained(mark, deadline, purpose=purpose)
        if self._said_waiting:  # the Job no longer waits: status must not say it does
            self.publish(state)
        return state


def diff_run(
    settings: RunSettings,
    client: Any,
    reporter: RunReporter,
    *,
    repair: bool,
    sleep: Callable[[float], None] | None = None,
) -> DiffResult:
    """Sync (`repair`) or validate. Validation starts once the app's outbox has drained past
    the entries written before the Job started, records the outbox mark with its snapshot, and
    gives its verdict only once the drain has passed that mark; when the outbox does not drain
    within drain_timeout, the report says OutboxNotDraining instead of counting rows."""
    started = datetime.now(UTC).replace(microsecond=0)
    watch = OutboxWatch(settings, reporter)
    try:
        if repair:
            watch.publish(watch.writes.state())
            return _diff(settings, client, reporter, watch, started, repair=True, sleep=sleep)
        try:
            return _diff(settings, client, reporter, watch, started, repair=False, sleep=sleep)
        except OutboxNotDrainingError as error:
            watch.publish(error.state)
            reporter.publish_validation(
                ValidationReport(
                    job=settings.job,
                    started_at=started,
                    finished_at=datetime.now(UTC).replace(microsecond=0),
                    passed=False,
                    reason=reasons.OUTBOX_NOT_DRAINING,
                    message=str(error)[:1024],
                )
            )
            return DiffResult(not_concluded=str(error))
    finally:
        watch.close()


def _diff(
    settings: RunSettings,
    client: Any,
    reporter: RunReporter,
    watch: OutboxWatch,
    started: datetime,
    *,
    repair: bool,
    sleep: Callable[[float], None] | None,
) -> DiffResult:
    mark: int | None = None
    if not repair and watch.outbox is not None:
        before = watch.writes.state()
        watch.publish(before)
        watch.wait_drained(before.mark, purpose="validation did not start")
    with ExitStack() as stack:
        source = open_source(settings)
        stack.callback(source.close)
        if not repair and watch.outbox is not None:
            mark = watch.writes.state().mark  # read after the snapshot: stricter, never laxer
        live = LiveReads(settings)
        lookup = RowLookup(settings.sqlite_path)
        stack.callback(lookup.close)
        plans = source_plans(source, settings.collections, settings.discover)
        if repair:
            ensure_collections(client, plans, owner=settings.namespace)
        else:
            check_owned_by(client, [plan.collection for plan in plans], settings.namespace)
        if not repair:  # "running": a report without finishedAt
            reporter.publish_validation(
                validation_report(
                    DiffResult(),
                    job=settings.job,
                    started_at=started,
                    finished_at=None,
                    max_mismatches=settings.max_mismatches,
                )
            )
        # records compared so far, per table; sync reports it as status.progress
        tracker = ProgressTracker(
            settings.job, sum(source.count(p.table) for p in plans), reporter.publish_progress
        )
        seen: dict[str, int] = {}

        def compared(table: str, checked: int) -> None:
            tracker.update(table, checked - seen.get(table, 0), tracker.checkpoint)
            seen[table] = checked

        differ = Differ(
            source,
            TargetReader(client),
            plans,
            namespace=settings.namespace,
            scratch_dir=settings.scratch_dir,
            on_progress=compared if repair else None,
        )
        extra: dict[str, Any] = {} if sleep is None else {"sleep": sleep}

        def second_look(scratch: Scratch, result: DiffResult) -> None:
            rounds = RoundSettings(
                recheck_delay=settings.recheck_delay,
                deadline=time.monotonic() + settings.drain_timeout,
            )
            confirm_differences(
                differ,
                scratch,
                result,
                lookup,
                live_source=live,
                writes=watch.writes,
                settings=rounds,
                **extra,
            )

        result = run_diff(
            differ,
            lookup,
            live_source=live,
            sink=WeaviateSink(client, settings.sink) if repair else None,
            second_look=None if repair else second_look,
        )
        performance = None
        if not repair and settings.read_probe is not None:  # on the diff's snapshot
            performance = probe_reads(
                client,
                plans,
                source.snapshot_path or settings.sqlite_path,
                snapshot=source.snapshot_path is not None,
                namespace=settings.namespace,
                settings=settings.read_probe,
            )
    drained: OutboxState | None = None
    if mark is not None:  # every write committed before the snapshot is in Weaviate
        drained = watch.wait_drained(mark, purpose="validation could not confirm the drain")
        watch.publish(drained)
    if repair:
        watch.publish(watch.writes.state())
        tracker.finish()
    summary = diff_summary(result)
    ref = None
    if result.differences or result.failed:
        lines = [f"{d.table}/{d.key_text}: {d.problem} {d.detail}" for d in result.samples]
        lines += report_lines(result.failed, len(result.failed))
        ref = reporter.write_report(lines, summary)
    if not repair:
        reporter.publish_validation(
            validation_report(
                result,
                job=settings.job,
                started_at=started,
                finished_at=datetime.now(UTC).replace(microsecond=0),
                max_mismatches=settings.max_mismatches,
                report_ref=ref,
            ).model_copy(
                update={
                    "outbox_mark": mark,
                    "outbox_drained": None if mark is None else drained is not None,
                    "read_performance": performance,
                }
            )
        )
    return result
