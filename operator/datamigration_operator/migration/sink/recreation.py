"""Dropping a migration's own collections before a copy recreates them (spec.recreateOnRerun,
`dmctl copy --recreate`): typically to switch an existing copy to references, which an existing
collection's schema cannot take.

Only collections this migration owns (ownership.py: the owner recorded on the collection) and
empty unclaimed ones are dropped; one another migration owns, or an unclaimed one holding
objects, refuses the whole drop before anything is deleted. What will be dropped is listed
first, with object counts, so a person (or status.recreated) is told before it happens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from datamigration_operator.migration.sink.ownership import (
    CollectionOwnedByOtherError,
    owner_in,
    refusal,
)


@dataclass(frozen=True)
class Droppable:
    name: str
    objects: int


def droppable_collections(client: Any, names: Iterable[str], owner: str) -> list[Droppable]:
    """The existing collections among `names` a recreate drops, with their object counts;
    raises (naming it) on one it must not drop."""
    found = []
    for name in dict.fromkeys(names):
        if not client.collections.exists(name):
            continue
        recorded = owner_in(client.collections.export_config(name).description)
        objects = _count(client, name)
        if recorded is None and objects:
            raise CollectionOwnedByOtherError(
                f"collection {name} holds {objects} objects no migration claimed; a recreate "
                "drops only this migration's collections. Delete it yourself, or migrate into "
                "another collection"
            )
        if recorded is not None and recorded != owner:
            raise refusal(name, recorded, owner)
        found.append(Droppable(name, objects))
    return found


def drop_collections(client: Any, collections: Iterable[Droppable]) -> None:
    for collection in collections:
        if client.collections.exists(collection.name):  # a retried drop skips what is gone
            client.collections.delete(collection.name)


def describe(collections: Iterable[Droppable]) -> str:
    listed = [f"{c.name} ({c.objects} objects)" for c in collections]
    return ", ".join(listed) if listed else "nothing (no collection exists yet)"


def _count(client: Any, name: str) -> int:
    total = client.collections.get(name).aggregate.over_all(total_count=True).total_count
    return int(total or 0)
