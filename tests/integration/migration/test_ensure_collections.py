"""Collections the copy and the app's drainer both ensure: a creation race is not an error;
and a collection belongs to one migration (its id namespace), recorded on the collection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from weaviate.exceptions import UnexpectedStatusCodeError

from datamigration_operator.migration.mapping import CollectionPlan, PropertyPlan
from datamigration_operator.migration.sink.ownership import (
    CollectionOwnedByOtherError,
    check_owned_by,
    owner_in,
)
from datamigration_operator.migration.sink.weaviate_sink import (
    SchemaConflictError,
    ensure_collections,
)
from tests.integration.migration.conftest import RunningWeaviate
from tests.note_plan import NOTE_PLAN as PLAN

OWNER = "apps/chat"


@pytest.fixture
def client(weaviate: RunningWeaviate) -> Iterator[Any]:
    connected = weaviate.client()
    yield connected
    connected.close()


def created_meanwhile(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`exists` answers as it did just before another writer created the collection."""
    real = client.collections.exists
    stale = [False]  # one stale answer, then the truth
    monkeypatch.setattr(
        client.collections, "exists", lambda name: stale.pop() if stale else real(name)
    )


def test_a_collection_created_between_the_check_and_the_create_is_checked_like_any(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_collections(client, [PLAN], owner=OWNER)  # the other writer
    created_meanwhile(client, monkeypatch)
    ensure_collections(client, [PLAN], owner=OWNER)
    names = [p.name for p in client.collections.export_config("Note").properties]
    assert names == ["body"]


def test_the_race_still_reports_a_property_of_another_type(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = CollectionPlan(
        **{**PLAN.__dict__, "properties": (PropertyPlan("body", "body", "int"),)}
    )
    ensure_collections(client, [other], owner=OWNER)
    created_meanwhile(client, monkeypatch)
    with pytest.raises(SchemaConflictError, match="property body of type int"):
        ensure_collections(client, [PLAN], owner=OWNER)


def test_other_refusals_of_a_create_are_raised(client: Any) -> None:
    bad = CollectionPlan(**{**PLAN.__dict__, "collection": "not a valid name"})
    with pytest.raises(UnexpectedStatusCodeError):
        ensure_collections(client, [bad], owner=OWNER)


def test_a_collection_is_created_claimed_by_its_migration(client: Any) -> None:
    ensure_collections(client, [PLAN], owner=OWNER)
    assert owner_in(client.collections.export_config("Note").description) == OWNER
    ensure_collections(client, [PLAN], owner=OWNER)  # its own claim: fine, again and again


def test_another_migration_is_refused_naming_the_owner(client: Any) -> None:
    ensure_collections(client, [PLAN], owner=OWNER)
    with pytest.raises(CollectionOwnedByOtherError, match="belongs to DataMigration apps/chat"):
        ensure_collections(client, [PLAN], owner="tb/happy2")
    with pytest.raises(CollectionOwnedByOtherError, match="id namespace 'tb/happy2'"):
        check_owned_by(client, ["Note"], "tb/happy2")
    check_owned_by(client, ["Note", "Absent"], OWNER)
    assert owner_in(client.collections.export_config("Note").description) == OWNER


def test_an_empty_unclaimed_collection_is_claimed(client: Any) -> None:
    client.collections.create_from_dict({"class": "Note", "vectorizer": "none"})
    ensure_collections(client, [PLAN], owner=OWNER)
    assert owner_in(client.collections.export_config("Note").description) == OWNER


def test_objects_nobody_claimed_are_neither_adopted_nor_touched(client: Any) -> None:
    client.collections.create_from_dict({"class": "Note", "vectorizer": "none"})
    client.collections.get("Note").data.insert({"body": "written by hand"})
    with pytest.raises(CollectionOwnedByOtherError, match="holds objects no migration claimed"):
        ensure_collections(client, [PLAN], owner=OWNER)
    assert owner_in(client.collections.export_config("Note").description) is None
    assert len(client.collections.get("Note").query.fetch_objects(limit=5).objects) == 1
