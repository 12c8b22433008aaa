"""Writing objects whose references may name objects Weaviate does not hold yet.

Weaviate checks every reference of a batch before it stores any object of it ("invalid cref:
... no object with id ... found"), so a row pointing at a row of its own table (a reply to a
message, an employee's manager) or closing a cycle of tables cannot always be written with
its reference: the target may be in the same batch, a later batch or a table written later.
mapping.reference_order.deferred_references names those references; here an object is
written without them first, so its row's data lands, and with them once the targets are
stored. Rewriting the whole object (an upsert by its deterministic id) rather than adding a
reference keeps every write idempotent: adding the same reference twice would store it twice.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass, field

from datamigration_operator.migration.mapping import CollectionPlan, MigrationObject
from datamigration_operator.migration.sink.weaviate_sink import (
    DANGLING_REFERENCE,
    FailedObject,
    WeaviateSink,
    WriteOutcome,
)


def without_references(obj: MigrationObject, names: Collection[str]) -> MigrationObject:
    """The object with the reference properties `names` left out."""
    kept = {name: ids for name, ids in obj.references.items() if name not in names}
    return MigrationObject(obj.uuid, obj.properties, kept, obj.vector)


def has_references(obj: MigrationObject, names: Collection[str]) -> bool:
    return any(obj.references.get(name) for name in names)


@dataclass
class Unresolved:
    """Objects stored without their deferred references, whose targets were not in Weaviate
    yet: the caller writes them whole again once it has written what they may point to."""

    plan: CollectionPlan
    objects: list[MigrationObject] = field(default_factory=list)
    keys: list[Hashable] = field(default_factory=list)


@dataclass
class ResolvedWrite:
    outcome: WriteOutcome
    """`written` counts each object once, stored whole or without its deferred references."""
    unresolved: Unresolved


def write_resolving(
    sink: WeaviateSink,
    plan: CollectionPlan,
    objects: Sequence[MigrationObject],
    keys: Sequence[Hashable],
    deferred: Collection[str],
) -> ResolvedWrite:
    """Upsert `objects`, whose `deferred` references may point at each other or at objects
    not stored yet.

    1. Objects whose deferred references name an object of this same write go without them,
       the others whole; one refused for a dangling reference goes again without them and is
       returned unresolved (its data is stored, its targets are not).
    2. The objects stored without them go whole (their targets of this write are stored now);
       one whose reference still dangles is returned unresolved as well.
    Every other refusal is in `outcome.failed`, by key.
    """
    unresolved = Unresolved(plan)
    if not deferred or not objects:
        return ResolvedWrite(sink.write(plan, objects, keys), unresolved)
    ids = {obj.uuid for obj in objects}
    inner = {
        index
        for index, obj in enumerate(objects)
        if any(target in ids for name in deferred for target in obj.references.get(name, ()))
    }
    first = [
        without_references(obj, deferred) if index in inner else obj
        for index, obj in enumerate(objects)
    ]
    outcome = sink.write(plan, first, keys)
    position = {key: index for index, key in enumerate(keys)}
    dangling = [
        position[f.key]
        for f in outcome.failed
        if DANGLING_REFERENCE in f.message and has_references(objects[position[f.key]], deferred)
    ]
    if dangling:
        again = sink.write(
            plan,
            [without_references(objects[i], deferred) for i in dangling],
            [keys[i] for i in dangling],
        )
        outcome = _merged(outcome, again, replaced={keys[i] for i in dangling})
        # their targets are in no object of this write: whole, they would be refused again
        still = {f.key for f in again.failed}
        for index in dangling:
            if keys[index] not in still:
                unresolved.objects.append(objects[index])
                unresolved.keys.append(keys[index])
    failed = {f.key for f in outcome.failed}
    whole = [i for i in sorted(inner) if keys[i] not in failed]
    if whole:
        second = sink.write(plan, [objects[i] for i in whole], [keys[i] for i in whole])
        outcome.retried_objects += second.retried_objects
        for refused in second.failed:
            index = position[refused.key]
            if DANGLING_REFERENCE in refused.message:
                unresolved.objects.append(objects[index])
                unresolved.keys.append(keys[index])
            else:
                outcome.failed.append(refused)
    return ResolvedWrite(outcome, unresolved)


def _merged(first: WriteOutcome, again: WriteOutcome, *, replaced: set[Hashable]) -> WriteOutcome:
    """`first` with the failures of `replaced` keys taken over by the write `again`."""
    failed: list[FailedObject] = [f for f in first.failed if f.key not in replaced]
    return WriteOutcome(
        written=first.written + again.written,
        failed=failed + again.failed,
        retried_objects=first.retried_objects + again.retried_objects,
    )
