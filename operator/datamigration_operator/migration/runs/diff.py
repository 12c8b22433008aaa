"""Validate and sync: a merge-join by object id of SQLite against Weaviate, in flat memory.

Weaviate's cursor returns a collection in uuid order, but ids are hashes of the keys, so the
SQLite side has no useful order. Per table, the rows are streamed in key order into a scratch
SQLite file as (uuid, content hash, key) - 16 + 16 bytes + the key - and read back
`ORDER BY uuid`, which SQLite's external merge sort does with bounded memory (cache_size and
temp files in the scratch directory). That sorted stream is merged with the Weaviate cursor
stream, comparing hashes. Differences go to a scratch table too, never to a Python list.

References are part of the content hash (as Weaviate resolves them: a dangling one reads as
absent), so an object whose references disagree with its foreign keys is flagged too;
validation's look tells what is wrong with them (reference_integrity) and counts each as a
dangling or wrong reference rather than as a mismatch.

Every difference is then looked at again against the live database and Weaviate, so only
lasting differences are counted: validation does so in rounds that wait for the app's outbox
(validation_rounds), since a dual write in flight is not a lost one. Sync is the same diff with
repair: missing and mismatched objects are upserted from the live row, extra objects deleted.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, cast
from uuid import UUID

from datamigration_operator.api.names import fold_sql_name
from datamigration_operator.migration.mapping import (
    CollectionPlan,
    MigrationObject,
    ObjectBuilder,
    RowError,
    object_uuid,
)
from datamigration_operator.migration.mapping.canonical import content_hash, differing_fields
from datamigration_operator.migration.mapping.reference_order import (
    deferred_references,
    referenced_first,
)
from datamigration_operator.migration.mapping.values import Key, key_to_json
from datamigration_operator.migration.runs.reference_integrity import (
    REFERENCE_PROBLEMS,
    ReferenceProblem,
    StoredReferences,
    reference_findings,
)
from datamigration_operator.migration.runs.reference_sweep import (
    nullable_reference_columns,
    reference_suspects,
)
from datamigration_operator.migration.sink.deferred_references import write_resolving
from datamigration_operator.migration.sink.target_reader import TargetReader
from datamigration_operator.migration.sink.weaviate_sink import (
    DANGLING_REFERENCE,
    FailedObject,
    WeaviateSink,
)
from datamigration_operator.migration.source.diff_index import (
    Entry,
    SourceIndexProcess,
    index_rows,
    key_cell,
    key_from,
    sorted_entries,
)

Problem = Literal["missing", "extra", "mismatched"] | ReferenceProblem
# DiffResult's counter of each problem
_COUNTERS: dict[str, str] = {
    "missing": "missing",
    "extra": "extra",
    "mismatched": "mismatched",
    "danglingReference": "dangling_references",
    "wrongReference": "wrong_references",
}
MAX_SAMPLES = 10
RECHECK_CHUNK = 500
MAX_EXPLANATION = 1_024
# the problem the reference sweep queues an object under (its second look decides)
SUSPECT: ReferenceProblem = "danglingReference"
# Looks at repaired records after a sync's repair (see Differ._confirm_repairs).
CONFIRM_ROUNDS = 3
# Pages of the scratch sort; bounded so memory does not grow with the table.
SORT_FETCH = 5_000
SCRATCH_CACHE_KIB = 16_384


class RowSource(Protocol):
    def rows(self, plan: CollectionPlan, *, after: Key | None = None, batch_size: int) -> Any: ...


RowLookup = Callable[[CollectionPlan, Sequence[Key]], dict[Key, dict[str, Any]]]
"""Live rows of these keys (absent keys are left out)."""


@dataclass(frozen=True)
class Difference:
    table: str
    key: Key | None
    uuid: UUID
    problem: Problem
    fields: tuple[str, ...] = ()
    explanation: str = ""
    """What is wrong with a reference (reference_integrity.ReferenceFinding)."""

    @property
    def key_text(self) -> str:
        if self.key is None:
            return f"uuid {self.uuid}"
        return json.dumps(key_to_json(self.key), ensure_ascii=False)

    @property
    def detail(self) -> str:
        if self.explanation:
            return self.explanation
        if self.problem == "mismatched":
            return "differs in " + ", ".join(self.fields) if self.fields else "content differs"
        if self.problem == "missing":
            why = f" ({'; '.join(self.fields)})" if self.fields else ""
            return "in SQLite, not in Weaviate" + why
        return f"in Weaviate (id {self.uuid}), not in SQLite"


@dataclass
class DiffResult:
    checked: int = 0
    missing: int = 0
    extra: int = 0
    mismatched: int = 0
    dangling_references: int = 0
    """References whose target object is not in Weaviate."""
    wrong_references: int = 0
    """References that disagree with the foreign key (another object, set or not set)."""
    first_pass_differences: int = 0
    upserted: int = 0
    deleted: int = 0
    samples: list[Difference] = field(default_factory=list)
    failed: list[FailedObject] = field(default_factory=list)
    not_concluded: str | None = None
    """Why validation could not give a verdict (the app's outbox did not drain)."""

    @property
    def differences(self) -> int:
        return (
            self.missing
            + self.extra
            + self.mismatched
            + self.dangling_references
            + self.wrong_references
        )

    def count(self, difference: Difference) -> None:
        counter = _COUNTERS[difference.problem]
        setattr(self, counter, getattr(self, counter) + 1)
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(difference)


class Scratch:
    """The scratch SQLite file of one diff: the sorted source index and the differences."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"diff-{time.time_ns()}.sqlite"
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA temp_store=FILE")
        self.db.execute(f"PRAGMA cache_size=-{SCRATCH_CACHE_KIB}")
        self.db.execute("CREATE TABLE source (uuid BLOB, hash BLOB, key)")
        # round: which look a difference waits for (0: the first after the first pass);
        # quiet: the previous look found it with no outbox entry pending
        self.db.execute(
            "CREATE TABLE diff (tbl TEXT, problem TEXT, uuid BLOB, key,"
            " round INTEGER NOT NULL DEFAULT 0, quiet INTEGER NOT NULL DEFAULT 0)"
        )
        self.db.execute("CREATE INDEX diff_round ON diff (round, tbl, uuid)")
        self.db.execute("CREATE TABLE extra (uuid BLOB PRIMARY KEY) WITHOUT ROWID")

    @property
    def target_path(self) -> Path:
        """Where the scan thread writes the Weaviate side (one records file per collection)."""
        return self.path.with_name(self.path.stem + "-target")

    def defer(self, difference: Difference, round_: int, *, quiet: bool) -> None:
        """Queues a difference for the look of round `round_`, once per object (a look finds
        one object's reference problems beside its mismatch): the queued problem becomes a
        reference problem when any is, so that look judges the object's references."""
        where = (round_, difference.table, difference.uuid.bytes)
        queued = self.db.execute(
            "SELECT rowid FROM diff WHERE round = ? AND tbl = ? AND uuid = ?", where
        ).fetchone()
        if queued is not None:
            if difference.problem in REFERENCE_PROBLEMS:
                self.db.execute(
                    "UPDATE diff SET problem = ? WHERE rowid = ?", (difference.problem, queued[0])
                )
            return
        key = None if difference.key is None else key_cell(difference.key)
        self.db.execute(
            "INSERT INTO diff VALUES (?, ?, ?, ?, ?, ?)",
            (difference.table, difference.problem, difference.uuid.bytes, key, round_, quiet),
        )

    def suspect(self, table: str, suspects: list[tuple[UUID, Key]]) -> int:
        """Queues objects for the first look with their references to judge (a first-pass
        difference of one is marked so); returns how many were not queued yet."""
        marked = [(SUSPECT, table, uuid.bytes) for uuid, _ in suspects]
        self.db.executemany(
            "UPDATE diff SET problem = ? WHERE round = 0 AND tbl = ? AND uuid = ?", marked
        )
        before = self.db.total_changes
        self.db.executemany(
            "INSERT INTO diff (tbl, problem, uuid, key) SELECT ?, ?, ?, ? WHERE NOT EXISTS"
            " (SELECT 1 FROM diff WHERE round = 0 AND tbl = ? AND uuid = ?)",
            [(table, SUSPECT, u.bytes, key_cell(k), table, u.bytes) for u, k in suspects],
        )
        return self.db.total_changes - before

    def was_quiet(self, round_: int, difference: Difference) -> bool:
        """Whether the look before round `round_` found this difference with nothing pending."""
        found = self.db.execute(
            "SELECT quiet FROM diff WHERE round = ? AND tbl = ? AND uuid = ?",
            (round_, difference.table, difference.uuid.bytes),
        ).fetchone()
        return bool(found and found[0])

    def close(self) -> None:
        self.db.close()
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


class TargetScan:
    """Scans the collections one after another into scratch files in a thread, while the caller
    indexes the SQLite side and merges: the Weaviate server then works while we do, not after,
    and the next collection is read while the last one is merged. Only (uuid, hash) is kept,
    on disk, so memory stays flat: fixed 32-byte records in cursor order, since nothing but
    one sequential read ever looks at them."""

    def __init__(self, reader: TargetReader, plans: Sequence[CollectionPlan], base: Path) -> None:
        self.reader = reader
        self.plans = plans
        self.paths = [base.with_name(f"{base.stem}-{i}.records") for i in range(len(plans))]
        self.error: BaseException | None = None
        self._scanned = [threading.Event() for _ in plans]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="weaviate-scan", daemon=True)

    def __enter__(self) -> TargetScan:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for path in self.paths:
            path.unlink(missing_ok=True)

    def _run(self) -> None:
        try:
            for plan, path, scanned in zip(self.plans, self.paths, self._scanned, strict=True):
                with path.open("wb") as out:
                    for page in self.reader.hashes(plan):
                        if self._stop.is_set():
                            return
                        # both parts are 16 bytes (id_bytes, blake2b digest_size=16)
                        out.write(b"".join([uuid + content for uuid, content in page]))
                scanned.set()
        except BaseException as error:  # handed to the caller's thread by rows()
            self.error = error
        finally:
            for scanned in self._scanned:
                scanned.set()  # wake a waiting caller; it finds the error or the stop

    def rows(self, index: int) -> Iterator[tuple[bytes, bytes]]:
        """The (uuid, hash) pairs of plan `index` in uuid order, once it has been scanned."""
        self._scanned[index].wait()
        if self.error is not None:
            raise self.error
        with self.paths[index].open("rb") as records:
            while chunk := records.read(_RECORD * SORT_FETCH):
                for start in range(0, len(chunk), _RECORD):
                    yield chunk[start : start + 16], chunk[start + 16 : start + _RECORD]
        self.paths[index].unlink(missing_ok=True)


_RECORD = 32


class Differ:
    def __init__(
        self,
        source: RowSource,
        reader: TargetReader,
        plans: Sequence[CollectionPlan],
        *,
        namespace: str,
        scratch_dir: Path,
        batch_size: int = 2_000,
        on_progress: Callable[[str, int], None] | None = None,
    ) -> None:
        self.source = source
        self.reader = reader
        self.plans = plans
        self.namespace = namespace
        self.scratch_dir = scratch_dir
        self.batch_size = batch_size
        self.on_progress = on_progress
        # sync: objects repaired without their deferred references (see _resolve)
        self._unresolved: dict[str, tuple[CollectionPlan, dict[UUID, Key]]] = {}

    # ---- first pass ---------------------------------------------------------------------

    def first_pass(self, scratch: Scratch, result: DiffResult) -> None:
        indexer = self._indexer()
        try:
            with TargetScan(self.reader, self.plans, scratch.target_path) as targets:
                for index, plan in enumerate(self.plans):
                    if indexer is not None:
                        source = indexer.sorted(index)
                    else:
                        index_rows(
                            scratch.db,
                            "source",
                            plan,
                            self.source.rows(plan, batch_size=self.batch_size),
                            self.namespace,
                        )
                        source = sorted_entries(
                            scratch.db, "SELECT uuid, hash, key FROM source ORDER BY uuid"
                        )
                    self._merge(scratch, plan, source, targets.rows(index), result)
                    scratch.db.execute("DELETE FROM source")
        finally:
            if indexer is not None:
                indexer.close()
        (differences,) = scratch.db.execute("SELECT count(*) FROM diff").fetchone()
        result.first_pass_differences = differences

    def _indexer(self) -> SourceIndexProcess | None:
        """The SQLite side in a child process when the source is a private snapshot file
        (which the child can read as well); otherwise it is indexed in this process."""
        snapshot = getattr(self.source, "snapshot_path", None)
        if not isinstance(snapshot, Path) or len(self.plans) == 0:
            return None
        return SourceIndexProcess(
            snapshot,
            self.plans,
            namespace=self.namespace,
            batch_size=self.batch_size,
            scratch_dir=self.scratch_dir,
        )

    def _merge(
        self,
        scratch: Scratch,
        plan: CollectionPlan,
        source: Iterator[Entry],
        targets: Iterator[tuple[bytes, bytes]],
        result: DiffResult,
    ) -> None:
        table = plan.table
        found: list[tuple[str, str, bytes, str | int | None]] = []
        current = next(source, None)
        checked = 0
        for target, target_hash in targets:
            while current is not None and current[0] < target:
                found.append((table, "missing", current[0], current[2]))
                checked += 1
                current = next(source, None)
            if current is not None and current[0] == target:
                if current[1] != target_hash:
                    found.append((table, "mismatched", target, current[2]))
                current = next(source, None)
            else:
                found.append((table, "extra", target, None))
            checked += 1
            if len(found) >= SORT_FETCH or checked % SORT_FETCH == 0:
                self._flush(scratch, found)
                if self.on_progress is not None:
                    self.on_progress(table, checked)
        while current is not None:
            found.append((table, "missing", current[0], current[2]))
            checked += 1
            current = next(source, None)
        self._flush(scratch, found)
        result.checked += checked
        if self.on_progress is not None:
            self.on_progress(table, checked)

    @staticmethod
    def _flush(scratch: Scratch, found: list[tuple[str, str, bytes, str | int | None]]) -> None:
        if found:
            scratch.db.executemany(
                "INSERT INTO diff (tbl, problem, uuid, key) VALUES (?, ?, ?, ?)", found
            )
            found.clear()

    # ---- second look and repair ---------------------------------------------------------

    def sweep_references(self, scratch: Scratch) -> int:
        """Queues for the second look the objects storing a reference their rows do not name
        that the first pass could not see (reference_sweep); returns how many."""
        queued = 0
        for plan in self.plans:
            if not plan.references:
                continue
            for suspects in reference_suspects(
                self.source,
                self.reader,
                plan,
                namespace=self.namespace,
                nullable=nullable_reference_columns(self.source, plan),
                batch_size=self.batch_size,
            ):
                queued += scratch.suspect(plan.table, suspects)
        return queued

    def _differences(
        self, scratch: Scratch, plan: CollectionPlan, round_: int
    ) -> Iterator[list[tuple[bool, UUID, Key | None]]]:
        """Chunks of (whether to judge its references, id, key) of the differences queued
        for `round_` (one per object: Scratch.defer)."""
        cursor = scratch.db.execute(
            "SELECT problem, uuid, key FROM diff WHERE tbl = ? AND round = ? ORDER BY rowid",
            (plan.table, round_),
        )
        while True:
            chunk = cursor.fetchmany(RECHECK_CHUNK)
            if not chunk:
                return
            yield [
                (problem in REFERENCE_PROBLEMS, UUID(bytes=uuid), key_from(key))
                for problem, uuid, key in chunk
            ]

    def settle(
        self,
        scratch: Scratch,
        result: DiffResult,
        lookup: RowLookup,
        *,
        live_source: RowSource,
        sink: WeaviateSink | None = None,
    ) -> None:
        """Look at every first-pass difference again against the live data; count what lasts.

        With a sink (sync), lasting differences are repaired: the live row is upserted, an
        object without a live row is deleted. Tables are repaired after the tables they
        reference: Weaviate refuses a reference to an object it does not hold yet.
        """
        self._unresolved = {}
        for plan in referenced_first(self.plans):
            self.look(scratch, plan, 0, result, lookup, live_source=live_source, sink=sink)
        if sink is not None:
            self._resolve(sink, result, lookup)

    def look(
        self,
        scratch: Scratch,
        plan: CollectionPlan,
        round_: int,
        result: DiffResult,
        lookup: RowLookup,
        *,
        live_source: RowSource,
        sink: WeaviateSink | None = None,
        found: Callable[[Difference], None] | None = None,
    ) -> None:
        """One look at the differences of `plan` queued for `round_`; each one that still
        differs goes to `found` (by default: counted in `result`)."""
        report = result.count if found is None else found
        build = ObjectBuilder(plan, migration_namespace=self.namespace).build
        scratch.db.execute("DELETE FROM extra")
        for chunk in self._differences(scratch, plan, round_):
            keyed = [(uuid, key) for _, uuid, key in chunk if key is not None]
            extras = [uuid for _, uuid, key in chunk if key is None]
            suspects = {uuid for refs, uuid, key in chunk if refs and key is not None}
            if keyed:
                self._settle_keyed(plan, keyed, build, lookup, result, sink, report, suspects)
            if extras:  # still in Weaviate? kept on disk, not in memory
                still = self.reader.fetch(plan, extras)
                scratch.db.executemany(
                    "INSERT OR IGNORE INTO extra VALUES (?)", [(u.bytes,) for u in still]
                )
        self._settle_extras(scratch, plan, live_source, result, sink, report)

    def _settle_keyed(
        self,
        plan: CollectionPlan,
        keyed: list[tuple[UUID, Key]],
        build: Callable[[dict[str, Any]], MigrationObject],
        lookup: RowLookup,
        result: DiffResult,
        sink: WeaviateSink | None,
        report: Callable[[Difference], None],
        suspects: Set[UUID] = frozenset(),
    ) -> None:
        """`suspects`: objects whose references validation judges even when their content
        hashes agree (reference_sweep found them, or an earlier look a reference problem)."""
        rows = lookup(plan, [key for _, key in keyed])
        current = self.reader.fetch(plan, [uuid for uuid, _ in keyed])
        upserts: list[MigrationObject] = []
        upsert_keys: list[Hashable] = []
        deletes: list[UUID] = []
        references = {ref.name for ref in plan.references}
        checks: list[_ReferenceCheck] = []
        for uuid, key in keyed:
            row = rows.get(key)
            target = current.get(uuid)
            if row is None:
                if target is not None:  # the row was deleted since the snapshot
                    report(Difference(plan.table, key, uuid, "extra"))
                    deletes.append(uuid)
                continue
            try:
                wanted = build(row)
            except RowError as error:
                # unmappable: the copy reported it and wrote nothing, so it is missing
                detail = (f"{error.column}: {error.message}",)
                problem: Problem = "missing" if target is None else "mismatched"
                report(Difference(plan.table, key, uuid, problem, detail))
                if sink is not None:  # a failed repair; validation only counts it
                    result.failed.append(FailedObject(plan.table, key, detail[0]))
                continue
            if target is None:
                report(Difference(plan.table, key, uuid, "missing"))
            elif content_hash(target) != content_hash(wanted):
                fields = tuple(differing_fields(wanted, target))
                suspect = uuid in suspects
                if sink is None and (suspect or references.intersection(fields)):
                    checks.append(_ReferenceCheck(uuid, key, row, wanted, target, fields, suspect))
                    continue
                report(Difference(plan.table, key, uuid, "mismatched", fields))
            else:
                if sink is None and uuid in suspects:
                    checks.append(_ReferenceCheck(uuid, key, row, wanted, target, (), True))
                continue
            upserts.append(wanted)
            upsert_keys.append(key)
        if checks:
            self._report_references(plan, checks, report)
        if sink is not None:
            self._repair(plan, sink, upserts, upsert_keys, deletes, result, lookup)
            touched, failed = set(deletes), {f.key for f in result.failed}
            failed.update(self._unresolved.get(plan.table, (plan, {}))[1].values())  # _resolve
            touched.update(u for u, k in keyed if k in set(upsert_keys) - failed)
            repaired = [(u, k) for u, k in keyed if u in touched]
            self._confirm_repairs(plan, repaired, build, lookup, sink, result)

    def _report_references(
        self,
        plan: CollectionPlan,
        checks: list[_ReferenceCheck],
        report: Callable[[Difference], None],
    ) -> None:
        """Validation's verdict on objects whose references differ from the foreign keys:
        each such reference is dangling or wrong (reference_integrity); any other differing
        field makes the object mismatched as well. Three batched lookups per reference, not
        per object: which objects store a reference there, which store several, and which of
        the objects the foreign keys name exist."""
        held: dict[str, set[UUID]] = {}
        several: dict[str, set[UUID]] = {}
        existing: set[UUID] = set()
        for ref in plan.references:
            differing = [c for c in checks if c.suspect or ref.name in c.fields]
            if not differing:
                continue
            uuids = [c.uuid for c in differing]
            held[ref.name] = self.reader.holding_references(plan, ref.name, uuids)
            several[ref.name] = self.reader.holding_references(plan, ref.name, uuids, more_than=1)
            # many rows name one target (books -> author): ask for each once
            named = {t for c in differing for t in c.wanted.references.get(ref.name, ())}
            existing |= self.reader.existing(ref.target_collection, list(named))
        for check in checks:
            stored = StoredReferences(
                {n for n, ids in held.items() if check.uuid in ids},
                existing,
                {n for n, ids in several.items() if check.uuid in ids},
            )
            findings = reference_findings(plan, check.row, check.wanted, check.found, stored)
            explained = {finding.reference for finding in findings}
            others = tuple(f for f in check.fields if f not in explained)
            if others:  # never drop a difference the findings do not explain
                report(Difference(plan.table, check.key, check.uuid, "mismatched", others))
            for finding in findings:
                report(
                    Difference(
                        plan.table,
                        check.key,
                        check.uuid,
                        finding.problem,
                        (finding.reference,),
                        finding.explanation[:MAX_EXPLANATION],
                    )
                )

    def _confirm_repairs(
        self,
        plan: CollectionPlan,
        repaired: list[tuple[UUID, Key]],
        build: Callable[[dict[str, Any]], MigrationObject],
        lookup: RowLookup,
        sink: WeaviateSink,
        result: DiffResult,
    ) -> None:
        """Look at repaired records once more: a dual write that landed between the repair's
        read and its write was overwritten with the older row (or its object deleted), and its
        outbox entry is already gone. Each round narrows that window; the row always wins."""
        for _ in range(CONFIRM_ROUNDS):
            if not repaired:
                return
            rows = lookup(plan, [key for _, key in repaired])
            current = self.reader.fetch(plan, [uuid for uuid, _ in repaired])
            upserts: list[MigrationObject] = []
            upsert_keys: list[Hashable] = []
            deletes: list[UUID] = []
            again: list[tuple[UUID, Key]] = []
            for uuid, key in repaired:
                row, target = rows.get(key), current.get(uuid)
                if row is None:
                    if target is not None:
                        deletes.append(uuid)
                        again.append((uuid, key))
                    continue
                try:
                    wanted = build(row)
                except RowError:
                    continue  # reported by the first look
                if target is None or content_hash(target) != content_hash(wanted):
                    upserts.append(wanted)
                    upsert_keys.append(key)
                    again.append((uuid, key))
            self._repair(plan, sink, upserts, upsert_keys, deletes, result, lookup)
            repaired = again

    def _settle_extras(
        self,
        scratch: Scratch,
        plan: CollectionPlan,
        live_source: RowSource,
        result: DiffResult,
        sink: WeaviateSink | None,
        report: Callable[[Difference], None],
    ) -> None:
        """Extras have no key: is there a live row (inserted after the snapshot) owning one?"""
        db = scratch.db
        if db.execute("SELECT count(*) FROM extra").fetchone()[0] == 0:
            return
        key_of = ObjectBuilder(plan, migration_namespace=self.namespace).key_of
        for rows in live_source.rows(plan, batch_size=self.batch_size):
            ids = [(object_uuid(self.namespace, plan.table, key_of(row)).bytes,) for row in rows]
            db.executemany("DELETE FROM extra WHERE uuid = ?", ids)
        cursor = db.execute("SELECT uuid FROM extra ORDER BY uuid")
        while chunk := cursor.fetchmany(RECHECK_CHUNK):
            deletes = [UUID(bytes=uuid) for (uuid,) in chunk]
            for uuid in deletes:
                report(Difference(plan.table, None, uuid, "extra"))
            if sink is not None:
                self._repair(plan, sink, [], [], deletes, result)

    def _repair(
        self,
        plan: CollectionPlan,
        sink: WeaviateSink,
        upserts: list[MigrationObject],
        keys: list[Hashable],
        deletes: list[UUID],
        result: DiffResult,
        lookup: RowLookup | None = None,
    ) -> None:
        if upserts:
            deferred = deferred_references(self.plans).get(fold_sql_name(plan.table), frozenset())
            written = write_resolving(sink, plan, upserts, keys, deferred)
            outcome = written.outcome
            result.upserted += outcome.written
            result.failed.extend(_lasting(plan, outcome.failed, lookup))
            if written.unresolved.objects:  # stored without references to later repairs
                _, pending = self._unresolved.setdefault(plan.table, (plan, {}))
                for obj, key in zip(
                    written.unresolved.objects, written.unresolved.keys, strict=True
                ):
                    pending[obj.uuid] = cast(Key, key)
        if deletes:
            result.deleted += sink.delete(plan, deletes)

    def _resolve(self, sink: WeaviateSink, result: DiffResult, lookup: RowLookup) -> None:
        """Every repair is in: the objects stored without their deferred references (targets
        repaired later) are written whole from their live rows; what still fails is reported."""
        for plan, pending in self._unresolved.values():
            build = ObjectBuilder(plan, migration_namespace=self.namespace).build
            rows = lookup(plan, list(pending.values()))
            upserts, keys, deletes = [], [], []
            for uuid, key in pending.items():
                row = rows.get(key)
                if row is None:  # deleted meanwhile: so goes its object
                    deletes.append(uuid)
                    continue
                try:
                    upserts.append(build(row))
                except RowError:
                    continue  # reported by the first look
                keys.append(key)
            outcome = sink.write(plan, upserts, keys)
            result.failed.extend(_lasting(plan, outcome.failed, lookup))
            if deletes:
                result.deleted += sink.delete(plan, deletes)
        self._unresolved = {}


def _lasting(
    plan: CollectionPlan, failed: list[FailedObject], lookup: RowLookup | None
) -> list[FailedObject]:
    """The failures that are failures. A repair Weaviate refused for a reference to an object
    it no longer holds raced the app: it deleted the referenced row, cascading to this one,
    between our read and our write (and its drainer deleted the objects). Once the row itself
    is gone there is nothing to repair; the next look deletes any object left."""
    raced = [f for f in failed if DANGLING_REFERENCE in f.message]
    if not raced or lookup is None:
        return failed
    still = lookup(plan, [cast(Key, f.key) for f in raced])
    return [f for f in failed if f not in raced or f.key in still]


@dataclass(frozen=True)
class _ReferenceCheck:
    """An object whose references (and maybe more) differ, waiting for the batched lookups."""

    uuid: UUID
    key: Key
    row: dict[str, Any]
    wanted: MigrationObject
    found: MigrationObject
    fields: tuple[str, ...]
    suspect: bool = False
    """Judge every reference, not only those in `fields` (see _settle_keyed)."""


SecondLook = Callable[["Scratch", DiffResult], None]
"""Validation's look at the first pass's differences (validation_rounds.confirm_differences)."""


def run_diff(
    differ: Differ,
    lookup: RowLookup,
    *,
    live_source: RowSource,
    sink: WeaviateSink | None = None,
    second_look: SecondLook | None = None,
) -> DiffResult:
    """The whole diff: the first pass, then, if anything differed, the second look: sync's
    (`sink`: repair what lasts) or validation's (`second_look`)."""
    if (sink is None) == (second_look is None):
        raise ValueError("run_diff needs either a sink (sync) or a second look (validate)")
    result = DiffResult()
    scratch = Scratch(differ.scratch_dir)
    try:
        differ.first_pass(scratch, result)
        if second_look is not None:
            result.first_pass_differences += differ.sweep_references(scratch)
        if result.first_pass_differences:
            if second_look is not None:
                second_look(scratch, result)
            else:
                differ.settle(scratch, result, lookup, live_source=live_source, sink=sink)
    finally:
        scratch.close()
    return result
