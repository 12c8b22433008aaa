"""The read-performance probe of the validate Job: do the app's reads answer as fast from
Weaviate as they did from SQLite, before the reads move there?

For each read kind the migrated tables support (byId: every table; byReference: every planned
reference; bm25: tables with text properties; nearVector: tables with a vector column) it
builds `requests` reads from rows sampled evenly over each table's key order (deterministic),
spread round-robin over the tables, and times them against Weaviate (the queries the read
router sends in weaviate_primary) and the equivalent queries on SQLite (the Job's snapshot),
one at a time and then `concurrency` at once. Reads only: nothing is written to either store.

SQLite has no vector index, so a near-vector search there is a scan of every stored vector in
Python (what the sample app does); those scans are bounded by VECTOR_SCAN_BUDGET floats per
run, so a large table gets fewer SQLite requests (or none), which the kind's note says; and
no run starts a read after `run_seconds`, so a slow store bounds the probe's time.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from datamigration_operator.api.status import (
    ReadComparison,
    ReadKind,
    ReadKindPerformance,
    ReadPerformance,
)
from datamigration_operator.migration.mapping import CollectionPlan, MigrationObject, ObjectBuilder
from datamigration_operator.migration.mapping.values import InvalidText, vector_to_floats
from datamigration_operator.migration.runs.read_latency import Read, Timings, summarise, time_reads
from datamigration_operator.migration.sink.weaviate_reads import WeaviateReads
from datamigration_operator.migration.source.read_queries import Row, SqliteReads
from datamigration_operator.migration.source.snapshot import SourceError

# Stored vectors one run of SQLite near-vector scans may read (decoded and compared in Python
# at about 5 us each: about a second).
VECTOR_SCAN_BUDGET: Final = 200_000
# Words of at least three letters: a BM25 term and a LIKE pattern that mean the same thing.
_WORD = re.compile(r"[^\W\d_]{3,}")
MAX_NOTE: Final = 256
T = TypeVar("T")


@dataclass(frozen=True)
class ProbeSettings:
    requests: int = 200
    """Reads per kind, store and run."""
    concurrency: int = 4
    """Reads in flight in the concurrent run."""
    search_limit: int = 10
    """Results per BM25 and near-vector read (the read router's default)."""
    reference_limit: int = 100
    """Rows per by-reference read (a page of a conversation's messages)."""
    run_seconds: float = 5.0
    """Each run (kind, store, sequential or concurrent) starts no read after this long, so a
    slow store bounds the probe's time; the kind's note says how many reads were made."""


@dataclass
class KindReads:
    """The reads of one kind, on each store."""

    kind: ReadKind
    weaviate: list[Read] = field(default_factory=list)
    sqlite: list[Read] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Sampled:
    """A sampled row with the object the copy made of it (ids, references, vector)."""

    row: Row
    obj: MigrationObject


def probe_reads(
    client: Any,
    plans: Sequence[CollectionPlan],
    sqlite_path: Path,
    *,
    snapshot: bool,
    namespace: str,
    settings: ProbeSettings,
) -> ReadPerformance:
    """Times the reads; `sqlite_path` is the Job's snapshot (`snapshot`) or the live file.
    A SQLite file the probe cannot read is reported in the figures (`error`), not raised: the
    validation's verdict stands without them (a read-performance gate then stays closed)."""
    started = time.perf_counter()
    kinds: list[ReadKindPerformance] = []
    error = None
    try:
        sqlite = SqliteReads(sqlite_path, snapshot=snapshot, connections=settings.concurrency)
        try:
            samples = {
                plan.table: _sample(sqlite, plan, namespace, settings.requests) for plan in plans
            }
            workloads = _workloads(WeaviateReads(client), sqlite, plans, samples, settings)
            kinds = [_measure(reads, settings) for reads in workloads if reads.weaviate]
        finally:
            sqlite.close()
    except (sqlite3.Error, SourceError, OSError) as failure:
        error = f"the probe could not read SQLite: {failure}"[:MAX_NOTE]
    return ReadPerformance(
        requests=settings.requests,
        concurrency=settings.concurrency,
        seconds=round(time.perf_counter() - started, 3),
        kinds=kinds,
        error=error,
    )


def _sample(sqlite: SqliteReads, plan: CollectionPlan, namespace: str, count: int) -> list[Sampled]:
    builder = ObjectBuilder(plan, migration_namespace=namespace)
    sampled = []
    for row in sqlite.sample(plan, count):
        try:
            obj = builder.build(row)
        except ValueError:  # a row the copy could not write (reported by the diff): no object
            continue
        sampled.append(Sampled(row, obj))
    return sampled


def _workloads(
    weaviate: WeaviateReads,
    sqlite: SqliteReads,
    plans: Sequence[CollectionPlan],
    samples: dict[str, list[Sampled]],
    settings: ProbeSettings,
) -> list[KindReads]:
    n = settings.requests
    by_id, by_reference, bm25, near = (
        KindReads("byId"),
        KindReads("byReference"),
        KindReads("bm25"),
        KindReads("nearVector"),
    )
    id_reads: list[list[tuple[Read, Read]]] = []
    reference_reads: list[list[tuple[Read, Read]]] = []
    text_reads: list[list[tuple[Read, Read]]] = []
    vector_reads: list[list[tuple[Read, Read, int]]] = []
    for plan in plans:
        rows = samples[plan.table]
        id_reads.append([_by_id(weaviate, sqlite, plan, s) for s in rows])
        for ref in plan.references:
            reference_reads.append(
                [
                    _by_reference(weaviate, sqlite, plan, ref.column, ref.name, s, settings)
                    for s in rows
                    if _usable_key(s.row.get(ref.column)) and s.obj.references.get(ref.name)
                ]
            )
        texts = [p for p in plan.properties if p.data_type == "text" and not p.numbers_as_text]
        if texts:
            text_reads.append(
                [
                    _bm25(weaviate, sqlite, plan, texts, word, settings)
                    for index, s in enumerate(rows)
                    if (word := _word(s.row, [p.column for p in texts], index)) is not None
                ]
            )
        if plan.vector_column is not None:
            vectors = [s for s in rows if s.obj.vector is not None]
            if vectors:
                cost = sqlite.vector_count(plan)
                vector_reads.append(
                    [(*_near(weaviate, sqlite, plan, s, settings), cost) for s in vectors]
                )
    for kind, per_table in ((by_id, id_reads), (by_reference, reference_reads), (bm25, text_reads)):
        for weaviate_read, sqlite_read in _round_robin(per_table, n):
            kind.weaviate.append(weaviate_read)
            kind.sqlite.append(sqlite_read)
    by_reference.notes.append(f"SQLite: WHERE fk = ? LIMIT {settings.reference_limit}")
    bm25.notes.append("SQLite: LIKE '%word%' over the text columns")
    scanned = 0
    for weaviate_read, sqlite_read, cost in _round_robin(vector_reads, n):
        near.weaviate.append(weaviate_read)
        if scanned + cost <= VECTOR_SCAN_BUDGET:
            near.sqlite.append(sqlite_read)
            scanned += cost
    if near.weaviate:
        near.notes.append(
            "SQLite: brute-force cosine scan (no vector index)"
            if len(near.sqlite) == len(near.weaviate)
            else f"SQLite: brute-force cosine scan, {len(near.sqlite)} of "
            f"{len(near.weaviate)} requests within the probe's scan budget"
        )
    return [by_id, by_reference, bm25, near]


def _by_id(
    weaviate: WeaviateReads, sqlite: SqliteReads, plan: CollectionPlan, s: Sampled
) -> tuple[Read, Read]:
    key = tuple(s.row[c] for c in plan.key_columns)
    return (lambda: weaviate.by_id(plan, s.obj.uuid)), (lambda: sqlite.by_key(plan, key))


def _by_reference(
    weaviate: WeaviateReads,
    sqlite: SqliteReads,
    plan: CollectionPlan,
    column: str,
    reference: str,
    s: Sampled,
    settings: ProbeSettings,
) -> tuple[Read, Read]:
    value, target, limit = s.row[column], s.obj.references[reference][0], settings.reference_limit
    return (
        lambda: weaviate.by_reference(plan, reference, target, limit),
        lambda: sqlite.by_column(plan, column, value, limit),
    )


def _bm25(
    weaviate: WeaviateReads,
    sqlite: SqliteReads,
    plan: CollectionPlan,
    texts: Sequence[Any],
    word: str,
    settings: ProbeSettings,
) -> tuple[Read, Read]:
    names, columns, limit = (
        [p.name for p in texts],
        [p.column for p in texts],
        settings.search_limit,
    )
    return (
        lambda: weaviate.bm25(plan, word, names, limit),
        lambda: sqlite.text_match(plan, columns, word, limit),
    )


def _near(
    weaviate: WeaviateReads,
    sqlite: SqliteReads,
    plan: CollectionPlan,
    s: Sampled,
    settings: ProbeSettings,
) -> tuple[Read, Read]:
    assert s.obj.vector is not None
    vector, limit = vector_to_floats(s.obj.vector), settings.search_limit
    return (
        lambda: weaviate.near_vector(plan, vector, limit),
        lambda: sqlite.nearest(plan, vector, limit),
    )


def _usable_key(value: object) -> bool:
    return value is not None and not isinstance(value, InvalidText)


def _word(row: Row, columns: Sequence[str], index: int) -> str | None:
    """A word of the row's text (the index-th, cycling): a term the collection holds."""
    words = [w for c in columns if isinstance(v := row.get(c), str) for w in _WORD.findall(v)]
    return words[index % len(words)].lower() if words else None


def _round_robin(per_table: Sequence[Sequence[T]], count: int) -> list[T]:
    """Up to `count` items taken from each table's list in turn."""
    taken: list[T] = []
    depth = 0
    while len(taken) < count and any(depth < len(items) for items in per_table):
        taken += [items[depth] for items in per_table if depth < len(items)]
        depth += 1
    return taken[:count]


def _measure(reads: KindReads, settings: ProbeSettings) -> ReadKindPerformance:
    notes = list(reads.notes)
    runs: list[ReadComparison] = []
    for in_flight, run in ((1, "sequential"), (settings.concurrency, "concurrent")):
        on_weaviate = time_reads(reads.weaviate, in_flight, settings.run_seconds)
        on_sqlite = (
            time_reads(reads.sqlite, in_flight, settings.run_seconds) if reads.sqlite else None
        )
        for store, timings in (("Weaviate", on_weaviate), ("SQLite", on_sqlite)):
            notes += _run_notes(store, run, timings, settings.run_seconds)
        runs.append(
            ReadComparison(
                weaviate=summarise(on_weaviate),
                sqlite=None if on_sqlite is None else summarise(on_sqlite),
            )
        )
    if not reads.sqlite:
        notes.append("SQLite side skipped: one scan exceeds the probe's scan budget")
    note = "; ".join(dict.fromkeys(notes))
    return ReadKindPerformance(
        kind=reads.kind,
        sequential=runs[0],
        concurrent=runs[1],
        note=(note[: MAX_NOTE - 3] + "...") if len(note) > MAX_NOTE else note or None,
    )


def _run_notes(store: str, run: str, timings: Timings | None, seconds: float) -> list[str]:
    if timings is None:
        return []
    notes = []
    if timings.not_started:
        made = timings.requests
        notes.append(
            f"{store} {run}: {made} of {made + timings.not_started} reads in {seconds:g} s"
        )
    if timings.first_error is not None:
        notes.append(f"{store} errors, first: {timings.first_error[:120]}")
    return notes
