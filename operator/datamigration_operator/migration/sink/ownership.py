"""Which migration a Weaviate collection belongs to, recorded on the collection itself.

Object ids are uuid5 of (owner, table, key): two migrations writing one collection would hold
two copies of every row, and each one's sync would delete the other's objects as extras. So a
collection is claimed when it is created (its description names the owner) and every writer
checks the claim first: the Jobs of another DataMigration and a `dmctl copy` with another id
namespace are refused, naming the owner. An existing collection nobody claimed is claimed only
while it is empty: objects someone else wrote are never adopted (nor deleted as extras).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from datamigration_operator.migration.not_retryable import NotRetryableError

_MARK: Final = "datamigration-operator owner: "
_OWNER_IN: Final = re.compile(re.escape(_MARK) + r"(?P<owner>[^\n]+)$", re.MULTILINE)


class CollectionOwnedByOtherError(NotRetryableError):
    """The collection belongs to another migration (another id namespace)."""


def owner_description(owner: str) -> str:
    """The description a claimed collection carries."""
    return f"Migrated from SQLite by datamigration-operator.\n{_MARK}{owner}"


def owner_in(description: str | None) -> str | None:
    """The owner a description records, or None."""
    found = _OWNER_IN.search(description or "")
    return found.group("owner").strip() if found else None


def describe_owner(owner: str) -> str:
    """`DataMigration ns/name` for an operator migration's id namespace, else the namespace."""
    return f"DataMigration {owner}" if "/" in owner else f"id namespace {owner!r}"


def refusal(collection: str, owner: str, wanted: str) -> CollectionOwnedByOtherError:
    return CollectionOwnedByOtherError(
        f"collection {collection} belongs to {describe_owner(owner)} (recorded on the "
        f"collection); this run's objects would use id namespace {wanted!r} and duplicate its "
        "rows. Migrate into another collection, or delete that migration's collection first"
    )


def check_claim(collection: str, recorded: str | None, owner: str, *, has_objects: bool) -> bool:
    """True when the collection must be claimed (unclaimed and empty); raises when it belongs
    to another owner or holds objects nobody claimed."""
    if recorded == owner:
        return False
    if recorded is not None:
        raise refusal(collection, recorded, owner)
    if has_objects:
        raise CollectionOwnedByOtherError(
            f"collection {collection} already holds objects no migration claimed; "
            "they are neither adopted nor deleted. Migrate into another collection, or delete "
            "it first"
        )
    return True


def read_owners(client: Any, collections: Iterable[str]) -> dict[str, str | None]:
    """The recorded owner of each existing collection among `collections`."""
    owners: dict[str, str | None] = {}
    for name in collections:
        if client.collections.exists(name):
            config = client.collections.export_config(name)
            owners[name] = owner_in(config.description)
    return owners


def check_owned_by(client: Any, collections: Iterable[str], owner: str) -> None:
    """Before a read-only run (validate): collections claimed by another owner hold other
    ids, so comparing against them would report every row missing; refuse instead."""
    for name, recorded in read_owners(client, collections).items():
        if recorded is not None and recorded != owner:
            raise refusal(name, recorded, owner)


class CollectionReplacedError(NotRetryableError):
    """A collection the run claimed lost the claim while the run wrote into it."""


def check_still_claimed(client: Any, collections: Sequence[str], owner: str) -> None:
    """After a copy: every collection still records `owner`. A Weaviate with auto-schema on
    (its default) answers a write into a deleted collection by creating it again, unclaimed,
    with guessed property types and without references: the batches succeed, the objects
    written before are gone, and only the lost claim tells. (One that is simply gone fails
    the writes into it by key: CollectionKeeper's concern.)"""
    lost = [
        f"{name} ({'unclaimed' if recorded is None else 'owned by ' + recorded})"
        for name, recorded in read_owners(client, collections).items()
        if recorded != owner
    ]
    if not lost:
        return
    said = ", ".join(lost)
    raise CollectionReplacedError(
        f"collections lost this run's claim while it copied: {said}. They were deleted "
        "mid-copy and, on a Weaviate with auto-schema on, created again by the next write "
        "with guessed types and no references; the objects written before are gone. Delete "
        "them and run the copy again (bump spec.rerun); with AUTOSCHEMA_ENABLED=false the "
        "copy notices such a loss itself and starts over"
    )


def common_owner(owners: Mapping[str, str | None]) -> str | None:
    """The one owner the existing collections share (None when none is claimed); raises when
    they belong to different migrations."""
    claimed = {owner for owner in owners.values() if owner is not None}
    if len(claimed) > 1:
        listed = ", ".join(f"{name}: {owner}" for name, owner in sorted(owners.items()) if owner)
        raise CollectionOwnedByOtherError(
            f"the collections belong to different migrations ({listed}); one run writes "
            "collections of one migration"
        )
    return claimed.pop() if claimed else None
