"""Validation's sweep for stored references the first pass cannot see.

Reads resolve references and leave a dangling one out, so the content hash shows a dangling
reference only where the foreign key names a row (it reads as absent). Two kinds stay equal
to their rows: a reference stored where the foreign key is NULL whose target is gone, and a
second stored reference beside the one the key names whose target is gone. The sweep finds
their objects through the stored reference count (TargetReader.holding_references and
holding_several) and hands them, with their keys, to the second look, which judges them like
any other object (reference_integrity).

Cost: one filtered search per reference property (objects holding several), and, for a
reference column that can be NULL, one more read of the table's snapshot and one id-filtered
lookup per TargetReader.page_size rows whose key is NULL; a NOT NULL foreign key is never read
again.
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from typing import Any, Protocol
from uuid import UUID

from datamigration_operator.migration.mapping import CollectionPlan, ObjectBuilder, object_uuid
from datamigration_operator.migration.mapping.values import Key
from datamigration_operator.migration.sink.target_reader import TargetReader


class SweptSource(Protocol):
    def rows(self, plan: CollectionPlan, *, after: Key | None = None, batch_size: int) -> Any: ...


def nullable_reference_columns(source: object, plan: CollectionPlan) -> set[str]:
    """The plan's reference columns that can hold NULL; all of them when the source cannot
    say (it is not a SqliteSource)."""
    tables = getattr(source, "tables", None)
    info = tables().get(plan.table) if callable(tables) else None
    columns = {ref.column for ref in plan.references}
    if info is None:
        return columns
    return {c for c in columns if (column := info.column(c)) is None or not column.not_null}


def reference_suspects(
    source: SweptSource,
    reader: TargetReader,
    plan: CollectionPlan,
    *,
    namespace: str,
    nullable: Set[str],
    batch_size: int,
) -> Iterator[list[tuple[UUID, Key]]]:
    """Pages of (object id, key) of rows whose object stores a reference its row does not
    name: one where the foreign key is NULL, or more than one in a property."""
    several = {uuid for ref in plan.references for uuid in reader.holding_several(plan, ref.name)}
    null_refs = [ref for ref in plan.references if ref.column in nullable]
    if not several and not null_refs:
        return
    key_of = ObjectBuilder(plan, migration_namespace=namespace).key_of
    # NULL-key rows per reference, asked about a full lookup page at a time (few requests)
    unset: dict[str, list[tuple[UUID, Key]]] = {ref.name: [] for ref in null_refs}

    def held(name: str) -> list[tuple[UUID, Key]]:
        candidates, unset[name] = unset[name], []
        holding = reader.holding_references(plan, name, [u for u, _ in candidates])
        return [(u, k) for u, k in candidates if u in holding]

    for rows in source.rows(plan, batch_size=batch_size):
        found: dict[UUID, Key] = {}
        for row in rows:
            nulls = [ref.name for ref in null_refs if row.get(ref.column) is None]
            if not nulls and not several:
                continue  # no id to compute: most rows name their targets
            key = key_of(row)
            if None in key:
                continue  # the first pass reports a NULL key
            uuid = object_uuid(namespace, plan.table, key)
            if uuid in several:
                found[uuid] = key
            for name in nulls:
                unset[name].append((uuid, key))
        for name, candidates in unset.items():
            if len(candidates) >= reader.page_size:
                found.update(held(name))
        if found:
            yield list(found.items())
    last = {u: k for name, candidates in unset.items() if candidates for u, k in held(name)}
    if last:
        yield list(last.items())
