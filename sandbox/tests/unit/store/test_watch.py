"""Watch streams: initial state, resuming from a resourceVersion, 410 Expired, selectors."""

from __future__ import annotations

import asyncio

import pytest

from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import ApiError
from datamigration_sandbox.kube.store import Store, Watch

MERGE = "application/merge-patch+json"


@pytest.fixture
def store() -> Store:
    return Store(watch_history=5)


@pytest.fixture
def cms(store: Store) -> ResourceType:
    return store.lookup("", "v1", "configmaps")


async def drain(watch: Watch) -> list[tuple[str, str]]:
    """The events queued so far, as (type, name)."""
    events = []
    while watch.pending():
        event = await asyncio.wait_for(anext(watch), 1)
        events.append((event.type, event.object["metadata"]["name"]))
    return events


async def test_watch_without_version_starts_with_current_objects(
    store: Store, cms: ResourceType
) -> None:
    store.create(cms, "default", {"metadata": {"name": "a"}})
    watch = store.watch(cms, "default")
    store.create(cms, "default", {"metadata": {"name": "b"}})
    store.delete(cms, "default", "a")
    assert await drain(watch) == [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a")]


async def test_event_objects_carry_type_and_new_resource_version(
    store: Store, cms: ResourceType
) -> None:
    watch = store.watch(cms, "default", resource_version=store.resource_version)
    store.create(cms, "default", {"metadata": {"name": "a"}})
    store.delete(cms, "default", "a")
    added = await anext(watch)
    deleted = await anext(watch)
    assert added.object["kind"] == "ConfigMap"
    assert added.object["apiVersion"] == "v1"
    assert int(deleted.object["metadata"]["resourceVersion"]) > int(
        added.object["metadata"]["resourceVersion"]
    )
    assert deleted.object["metadata"]["resourceVersion"] == store.resource_version


async def test_watch_from_a_version_replays_later_events(store: Store, cms: ResourceType) -> None:
    store.create(cms, "default", {"metadata": {"name": "a"}})
    since = store.resource_version
    store.patch(cms, "default", "a", MERGE, {"data": {"k": "v"}})
    store.create(cms, "default", {"metadata": {"name": "b"}})
    watch = store.watch(cms, "default", resource_version=since)
    assert await drain(watch) == [("MODIFIED", "a"), ("ADDED", "b")]


async def test_too_old_resource_version_is_gone(store: Store, cms: ResourceType) -> None:
    since = store.resource_version
    for i in range(6):
        store.create(cms, "default", {"metadata": {"name": f"c{i}"}})
    with pytest.raises(ApiError) as exc:
        store.watch(cms, "default", resource_version=since)
    assert (exc.value.code, exc.value.reason) == (410, "Expired")
    assert exc.value.message.startswith(f"too old resource version: {since} (")


async def test_invalid_resource_version_is_bad_request(store: Store, cms: ResourceType) -> None:
    with pytest.raises(ApiError) as exc:
        store.watch(cms, "default", resource_version="abc")
    assert exc.value.code == 400


async def test_watch_filters_by_namespace_and_type(store: Store, cms: ResourceType) -> None:
    store.create(store.lookup("", "v1", "namespaces"), None, {"metadata": {"name": "other"}})
    watch = store.watch(cms, "default", resource_version=store.resource_version)
    store.create(cms, "other", {"metadata": {"name": "elsewhere"}})
    store.create(store.lookup("", "v1", "secrets"), "default", {"metadata": {"name": "s"}})
    store.create(cms, "default", {"metadata": {"name": "here"}})
    assert await drain(watch) == [("ADDED", "here")]


async def test_label_selector_transitions(store: Store, cms: ResourceType) -> None:
    store.create(cms, "default", {"metadata": {"name": "a"}})
    watch = store.watch(cms, "default", label_selector="team=x")
    store.patch(cms, "default", "a", MERGE, {"metadata": {"labels": {"team": "x"}}})
    store.patch(cms, "default", "a", MERGE, {"data": {"k": "v"}})
    store.patch(cms, "default", "a", MERGE, {"metadata": {"labels": {"team": "y"}}})
    events = []
    while watch.pending():
        events.append(await anext(watch))
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    # The DELETED object is the last matching state, stamped with the new resourceVersion.
    assert events[2].object["metadata"]["labels"] == {"team": "x"}
    assert events[2].object["metadata"]["resourceVersion"] == store.resource_version


async def test_close_ends_iteration_and_stops_delivery(store: Store, cms: ResourceType) -> None:
    watch = store.watch(cms, "default")
    waiter = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)
    watch.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiter, 1)
    store.create(cms, "default", {"metadata": {"name": "late"}})
    assert watch.pending() == 0
