"""Drains the outbox to Weaviate: oldest entries first, in batches, until it is empty.

Each batch re-reads the current rows from SQLite: a row that exists is upserted, one that is
gone is deleted, so insert/update/delete in quick succession end in the final state. Entries
are deleted only after Weaviate took the batch; a failure is retried with exponential backoff
(the entries stay, in order). A change committed while a batch is in flight has its own, later
entry, so it is sent again after this batch. One drainer per database at a time (drain_lease):
two could each send a row state the other already overtook, and delete the entry that would
have repaired it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa

from datamigration_operator.api.names import fold_sql_name
from datamigration_operator.dualwrite.drain_lease import DrainLease
from datamigration_operator.dualwrite.metrics import OutboxMetrics
from datamigration_operator.dualwrite.outbox import (
    OutboxEntry,
    delete_through,
    depth_and_oldest,
    read_entries,
)
from datamigration_operator.dualwrite.plan_alignment import align_plans
from datamigration_operator.migration.app_engine import (
    RowLookup,
    SinkSettings,
    open_sink,
    write_resolving,
)
from datamigration_operator.migration.mapping import (
    CollectionPlan,
    MigrationObject,
    ObjectBuilder,
    RowError,
    object_uuid,
)
from datamigration_operator.migration.mapping.reference_order import (
    deferred_references,
    reference_depths,
)
from datamigration_operator.migration.mapping.values import Key

if TYPE_CHECKING:
    from datamigration_operator.migration.app_engine import (
        FailedObject,
        Unresolved,
        WeaviateSink,
    )

log = logging.getLogger(__name__)

# Consecutive failed drains after which the client is replaced by a fresh one.
RECONNECT_AFTER = 3
SCRAPE_CACHE_SECONDS = 0.5
RowReader = Callable[[CollectionPlan, Sequence[Key]], Mapping[Key, Mapping[str, object]]]


@dataclass(frozen=True)
class DrainSettings:
    batch_size: int = 500
    idle_interval: float = 0.2
    """How often an empty outbox is looked at again."""
    linger: float = 0.05
    """After a captured write wakes an idle drainer, wait this long for its transaction to
    commit and for more to batch with it: one Weaviate round trip per burst of writes instead
    of one per write. The app's writes contend with the drainer for the GIL and the SQLite
    lock: with the session-hook capture, 0.02 s cost dual_write 1.6x the write latency of
    sqlite_only in `dmctl bench dualwrite`, 0.05 s 1.35x (Weaviate lags <= this)."""
    base_delay: float = 0.2
    max_delay: float = 10.0
    # One try per batch inside the sink, and no weaviate-client retry loop under it (which
    # sleeps 1+2+4+8 s on UNAVAILABLE before raising): the drainer's own backoff keeps the
    # entries in order, counts each failure and resumes within max_delay of a recovery.
    sink: SinkSettings = field(
        default_factory=lambda: SinkSettings(batch_size=500, max_attempts=1, client_retries=False)
    )


class DrainError(Exception):
    """A batch could not be applied; its entries stay in the outbox."""


@dataclass
class _Writes:
    """What one batch does to one collection."""

    plan: CollectionPlan
    objects: list[MigrationObject] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)
    gone: list[UUID] = field(default_factory=list)


def referenced_first(batch: Sequence[_Writes], plans: Iterable[CollectionPlan]) -> list[_Writes]:
    """The batch's collections with every reference target before the collections that point
    to it (mapping.reference_order): a conversation inserted in the same transaction as its
    first message is written first, whatever the entries' order."""
    depths = reference_depths(plans)
    return sorted(batch, key=lambda writes: depths.get(fold_sql_name(writes.plan.table), 0))


class Drainer:
    """Applies outbox batches; `drain_once` is the unit, `start` runs it in a daemon thread."""

    def __init__(
        self,
        engine: sa.Engine,
        plans: Mapping[str, CollectionPlan],
        client_factory: Callable[[], Any],
        *,
        migration_namespace: str,
        rows: RowReader | None = None,
        settings: DrainSettings | None = None,
        metrics: OutboxMetrics,
    ) -> None:
        self._engine = engine
        self._namespace = migration_namespace
        self._use_plans({fold_sql_name(name): plan for name, plan in plans.items()})
        self._client_factory = client_factory
        self._client: Any = None
        self._sink: WeaviateSink | None = None
        self._rows = rows
        self.settings = settings or DrainSettings()
        self.metrics = metrics
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._rng = random.Random()
        self.last_error: str | None = None
        self.lease = DrainLease(engine)
        self._local = threading.local()
        self._executor: ThreadPoolExecutor | None = None
        self._scraped: tuple[float, tuple[int, float]] | None = None
        metrics.observe(self._stats_for_scrape)

    # --- the loop -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="outbox-drainer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        # Whatever this process did (it may have held the lease without sending a batch, e.g.
        # started in sqlite_only): the next process must not wait out the ttl.
        try:
            self.lease.release()
        except sa.exc.OperationalError:  # the database is gone; the lease expires anyway
            log.debug("releasing the drain lease failed", exc_info=True)
        self._disconnect()

    def _disconnect(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # closing a broken connection is best effort
                log.debug("closing the Weaviate client failed", exc_info=True)
        self._client = self._sink = None

    def wake(self) -> None:
        """Drain now rather than after the idle interval (the app just captured a change).
        Called for every captured row: setting a set Event would take its lock each time."""
        if not self._wake.is_set():
            self._wake.set()

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._close_lookup()

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                if not self.lease.acquire():  # another process drains this database
                    self._stop.wait(self.settings.idle_interval)
                    continue
                drained = self.drain_available()
            except Exception as error:  # every failure is retried; the entries stay
                failures += 1
                self.metrics.drain_failures.inc()
                self.last_error = str(error)[:300]
                delay = self._backoff(failures)
                log.warning(
                    "outbox drain failed (attempt %d, retrying in %.1fs): %s",
                    failures,
                    delay,
                    self.last_error,
                )
                if failures % RECONNECT_AFTER == 0:
                    self._disconnect()  # the server may have moved or restarted: a new channel
                    self._close_lookup()
                self._stop.wait(delay)
                continue
            failures = 0
            self.last_error = None
            if not drained:
                if self._wake.wait(self.settings.idle_interval) and self.settings.linger > 0:
                    self._stop.wait(self.settings.linger)
                self._wake.clear()

    def _backoff(self, failures: int) -> float:
        ceiling = min(self.settings.max_delay, self.settings.base_delay * 2 ** (failures - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    # --- one batch ------------------------------------------------------------------------

    def stats(self) -> tuple[int, float]:
        """Outbox depth and the age of its oldest entry in seconds (0 when empty)."""
        with self._engine.connect() as connection:
            depth, oldest = depth_and_oldest(connection)
        age = 0.0 if oldest is None else max(0.0, time.time() - oldest)
        return depth, age

    def _stats_for_scrape(self) -> tuple[int, float]:
        # one query serves both gauges of a scrape; a failed query shows the last figures
        now = time.monotonic()
        if self._scraped is None or now - self._scraped[0] > SCRAPE_CACHE_SECONDS:
            try:
                self._scraped = (now, self.stats())
            except sa.exc.SQLAlchemyError:
                log.warning("reading the outbox depth failed", exc_info=True)
                return self._scraped[1] if self._scraped else (0, 0.0)
        return self._scraped[1]

    def drain_once(self) -> int:
        """Applies the oldest batch of entries; returns how many were removed (0: empty)."""
        with self._engine.connect() as connection:
            entries = read_entries(connection, self.settings.batch_size)
        if not entries:
            return 0
        sink = self._connected_sink()
        self._send(sink, self._prepare(entries))
        return self._remove(entries)

    def drain_available(self) -> int:
        """Drains until the outbox is empty; returns how many entries were removed.

        The next batch is read and built while the previous one is in flight, so the drain
        does not wait idle for Weaviate. Sends stay one at a time and in order: a batch's rows
        are read after the previous batch's, so Weaviate gets every row's states in the order
        they were committed. A batch's entries go only after its send succeeded; on a failure
        the batch in flight is waited for, and whatever was not removed is sent again.
        """
        removed = 0
        in_flight: tuple[Future[None], list[OutboxEntry]] | None = None
        try:
            while True:
                entries: list[OutboxEntry] = []
                if self.lease.acquire():  # renewed as the drain goes on; lost: stop after this
                    after = in_flight[1][-1].id if in_flight else 0
                    with self._engine.connect() as connection:
                        entries = read_entries(connection, self.settings.batch_size, after=after)
                batch = None
                if entries:
                    # connected before building: connecting aligns the plans' types
                    sink = self._connected_sink()
                    batch = self._prepare(entries)
                if in_flight is not None:
                    self._await_send(in_flight[0])
                    removed += self._remove(in_flight[1])
                    in_flight = None
                if batch is None:
                    return removed
                in_flight = (self._sender().submit(self._send, sink, batch), entries)
        finally:
            if in_flight is not None:  # a failure above: let the send end before any retry
                wait([in_flight[0]])

    def _await_send(self, send: Future[None]) -> None:
        """The send's result; the lease is renewed while it is in flight, so a batch slower
        than the ttl (Weaviate answering slowly) never hands the outbox to another process
        mid-batch."""
        while True:
            try:
                send.result(timeout=self.lease.renew_interval)
                return
            except TimeoutError:
                if not self.lease.acquire():
                    log.error("the drain lease was lost while a batch was in flight")

    def _sender(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="outbox-send")
        return self._executor

    def _remove(self, entries: Sequence[OutboxEntry]) -> int:
        with self._engine.begin() as connection:
            delete_through(connection, entries[-1].id)
        self.metrics.drained.inc(len(entries))
        return len(entries)

    def _use_plans(self, plans: Mapping[str, CollectionPlan]) -> None:
        self._plans = dict(plans)
        self._deferred = deferred_references(list(self._plans.values()))
        self._builders = {
            name: ObjectBuilder(plan, migration_namespace=self._namespace)
            for name, plan in self._plans.items()
        }

    def _connected_sink(self) -> WeaviateSink:
        # on the drainer's thread: open_sink is where weaviate-client is first imported
        if self._sink is None:
            client = self._client_factory()
            try:
                # the types the copy recorded in the collections win (see plan_alignment)
                self._use_plans(align_plans(client, self._plans))
                plans = list(self._plans.values())
                self._sink = open_sink(client, plans, self.settings.sink, owner=self._namespace)
            except BaseException:
                client.close()
                raise
            self._client = client
        return self._sink

    def _prepare(self, entries: Sequence[OutboxEntry]) -> list[_Writes]:
        """Each table's current rows for the entries' keys, built into objects; keys whose
        row is gone become deletes."""
        by_table: dict[str, list[OutboxEntry]] = {}
        for entry in entries:
            by_table.setdefault(fold_sql_name(entry.table), []).append(entry)
        batch = []
        for table, table_entries in by_table.items():
            plan = self._plans.get(table)
            if plan is None:
                log.error("outbox entries for table %s, which no mapping names: dropped", table)
                continue
            batch.append(self._writes(plan, table_entries))
        return referenced_first(batch, self._plans.values())

    def _writes(self, plan: CollectionPlan, entries: Sequence[OutboxEntry]) -> _Writes:
        keys = list(dict.fromkeys(entry.key for entry in entries))  # once each, in order
        current = self._read_rows(plan, keys)
        builder = self._builders[fold_sql_name(plan.table)]
        writes = _Writes(plan)
        for key in keys:
            row = current.get(key)
            if row is None:
                writes.gone.append(object_uuid(self._namespace, plan.table, key))
                continue
            try:
                writes.objects.append(builder.build(row))
            except RowError as error:
                # never representable: retrying cannot help; the sync/validate Jobs report it too
                self.metrics.unmappable.inc()
                log.error("dual-write skips %s: %s", plan.table, error)
                continue
            writes.keys.append(key)
        return writes

    def _send(self, sink: WeaviateSink, batch: Sequence[_Writes]) -> None:
        from weaviate.exceptions import WeaviateBaseError

        # A row pointing at a row of its own table, or closing a cycle of tables, may name an
        # object that lands later in this batch: it goes without that reference first, then
        # whole once the batch is in (write_resolving); the entries stay until it is.
        unresolved: list[Unresolved] = []
        for writes in batch:
            plan = writes.plan
            deferred = self._deferred.get(fold_sql_name(plan.table), frozenset())
            written = write_resolving(sink, plan, writes.objects, writes.keys, deferred)
            _raise_refused(plan, written.outcome.failed)
            if written.unresolved.objects:
                unresolved.append(written.unresolved)
            if writes.gone:
                try:
                    sink.delete(plan, writes.gone)
                except WeaviateBaseError as error:
                    raise DrainError(f"deleting from {plan.collection}: {error.message}") from None

        for pending in unresolved:
            _raise_refused(
                pending.plan, sink.write(pending.plan, pending.objects, pending.keys).failed
            )

    def _read_rows(
        self, plan: CollectionPlan, keys: Sequence[Key]
    ) -> Mapping[Key, Mapping[str, object]]:
        if self._rows is None:
            path = self._engine.url.database
            if not path or path == ":memory:":
                raise DrainError("dual-write needs a file-backed SQLite database")
            # one connection per draining thread (sqlite3 connections stay on their thread);
            # each lookup is its own read, so it sees every commit before it
            lookup: RowLookup | None = getattr(self._local, "lookup", None)
            if lookup is None:
                lookup = self._local.lookup = RowLookup(Path(path))
            return lookup(plan, keys)
        return self._rows(plan, keys)

    def _close_lookup(self) -> None:
        lookup: RowLookup | None = getattr(self._local, "lookup", None)
        if lookup is not None:
            lookup.close()
            self._local.lookup = None


def _raise_refused(plan: CollectionPlan, failed: Sequence[FailedObject]) -> None:
    if failed:
        first = failed[0]
        raise DrainError(
            f"Weaviate refused {len(failed)} objects of {plan.collection} "
            f"(first {first.key!r}: {first.message})"
        )


__all__ = ["DrainError", "DrainSettings", "Drainer"]
