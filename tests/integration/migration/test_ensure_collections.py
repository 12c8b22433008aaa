"""Collections the copy and the app's drainer both ensure: a creation race is not an error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from weaviate.exceptions import UnexpectedStatusCodeError

from datamigration_operator.migration.mapping import CollectionPlan, PropertyPlan
from datamigration_operator.migration.sink.weaviate_sink import (
    SchemaConflictError,
    ensure_collections,
)
from tests.integration.migration.conftest import RunningWeaviate
from tests.note_plan import NOTE_PLAN as PLAN


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
    ensure_collections(client, [PLAN])  # the other writer
    created_meanwhile(client, monkeypatch)
    ensure_collections(client, [PLAN])
    names = [p.name for p in client.collections.export_config("Note").properties]
    assert names == ["body"]


def test_the_race_still_reports_a_property_of_another_type(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = CollectionPlan(
        **{**PLAN.__dict__, "properties": (PropertyPlan("body", "body", "int"),)}
    )
    ensure_collections(client, [other])
    created_meanwhile(client, monkeypatch)
    with pytest.raises(SchemaConflictError, match="property body of type int"):
        ensure_collections(client, [PLAN])


def test_other_refusals_of_a_create_are_raised(client: Any) -> None:
    bad = CollectionPlan(**{**PLAN.__dict__, "collection": "not a valid name"})
    with pytest.raises(UnexpectedStatusCodeError):
        ensure_collections(client, [bad])
