"""Deletion: finalizers, ownerReference garbage collection, namespace termination."""

from __future__ import annotations

from typing import Any

import pytest

from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import ApiError
from datamigration_sandbox.kube.store import Store


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def cms(store: Store) -> ResourceType:
    return store.lookup("", "v1", "configmaps")


@pytest.fixture
def jobs(store: Store) -> ResourceType:
    return store.lookup("batch", "v1", "jobs")


def exists(store: Store, rt: ResourceType, name: str, namespace: str = "default") -> bool:
    try:
        store.get(rt, namespace, name)
    except ApiError as exc:
        if exc.code != 404:
            raise
        return False
    return True


def owned_by(owner: dict[str, Any], name: str, *, block: bool = False) -> dict[str, Any]:
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return {"metadata": {"name": name, "ownerReferences": [ref]}, "spec": {"template": {}}}


def drop_finalizers(store: Store, rt: ResourceType, name: str) -> dict[str, Any]:
    current = store.get(rt, "default", name)
    current["metadata"]["finalizers"] = []
    return store.update(rt, "default", name, current)


def test_delete_without_finalizers_removes_and_returns_the_object(
    store: Store, cms: ResourceType
) -> None:
    created = store.create(cms, "default", {"metadata": {"name": "a"}})
    deleted = store.delete(cms, "default", "a")
    assert deleted["metadata"]["uid"] == created["metadata"]["uid"]
    assert not exists(store, cms, "a")
    with pytest.raises(ApiError) as exc:
        store.delete(cms, "default", "a")
    assert exc.value.code == 404


def test_finalizers_keep_the_object_until_removed(store: Store, cms: ResourceType) -> None:
    store.create(cms, "default", {"metadata": {"name": "a", "finalizers": ["x/y"]}})
    marked = store.delete(cms, "default", "a")
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 0
    assert exists(store, cms, "a")
    drop_finalizers(store, cms, "a")
    assert not exists(store, cms, "a")


def test_no_new_finalizers_while_deleting(store: Store, cms: ResourceType) -> None:
    store.create(cms, "default", {"metadata": {"name": "a", "finalizers": ["x/y"]}})
    marked = store.delete(cms, "default", "a")
    marked["metadata"]["finalizers"] = ["x/y", "x/z"]
    with pytest.raises(ApiError) as exc:
        store.update(cms, "default", "a", marked)
    assert exc.value.code == 422
    assert "no new finalizers can be added if the object is being deleted" in exc.value.message


def test_delete_preconditions(store: Store, cms: ResourceType) -> None:
    store.create(cms, "default", {"metadata": {"name": "a"}})
    with pytest.raises(ApiError) as exc:
        store.delete(cms, "default", "a", preconditions={"uid": "other"})
    assert exc.value.code == 409
    assert "Precondition failed: UID in precondition: other" in exc.value.message


def test_background_deletes_dependents_after_the_owner(
    store: Store, cms: ResourceType, jobs: ResourceType
) -> None:
    owner = store.create(cms, "default", {"metadata": {"name": "owner"}})
    store.create(jobs, "default", owned_by(owner, "job"))
    order: list[str] = []
    store.subscribe(
        lambda t, _rt, obj, _old: order.append(obj["metadata"]["name"]) if t == "DELETED" else None
    )
    store.delete(cms, "default", "owner")
    assert order == ["owner", "job"]
    assert not exists(store, jobs, "job")


def test_background_keeps_dependents_with_another_live_owner(
    store: Store, cms: ResourceType, jobs: ResourceType
) -> None:
    first = store.create(cms, "default", {"metadata": {"name": "first"}})
    second = store.create(cms, "default", {"metadata": {"name": "second"}})
    body = owned_by(first, "job")
    body["metadata"]["ownerReferences"] += owned_by(second, "x")["metadata"]["ownerReferences"]
    store.create(jobs, "default", body)
    store.delete(cms, "default", "first")
    refs = store.get(jobs, "default", "job")["metadata"]["ownerReferences"]
    assert [r["name"] for r in refs] == ["second"]


def test_foreground_waits_for_blocking_dependents(
    store: Store, cms: ResourceType, jobs: ResourceType
) -> None:
    owner = store.create(cms, "default", {"metadata": {"name": "owner"}})
    blocking = owned_by(owner, "blocking", block=True)
    blocking["metadata"]["finalizers"] = ["x/y"]
    store.create(jobs, "default", blocking)
    store.create(jobs, "default", owned_by(owner, "plain"))
    marked = store.delete(cms, "default", "owner", propagation_policy="Foreground")
    assert "foregroundDeletion" in marked["metadata"]["finalizers"]
    assert not exists(store, jobs, "plain")
    assert store.get(jobs, "default", "blocking")["metadata"]["deletionTimestamp"]
    assert exists(store, cms, "owner")
    drop_finalizers(store, jobs, "blocking")
    assert not exists(store, jobs, "blocking")
    assert not exists(store, cms, "owner")


def test_foreground_without_dependents_deletes_at_once(store: Store, cms: ResourceType) -> None:
    store.create(cms, "default", {"metadata": {"name": "owner"}})
    store.delete(cms, "default", "owner", propagation_policy="Foreground")
    assert not exists(store, cms, "owner")


def test_orphan_strips_owner_references(
    store: Store, cms: ResourceType, jobs: ResourceType
) -> None:
    owner = store.create(cms, "default", {"metadata": {"name": "owner"}})
    store.create(jobs, "default", owned_by(owner, "job"))
    store.delete(cms, "default", "owner", propagation_policy="Orphan")
    assert not exists(store, cms, "owner")
    assert "ownerReferences" not in store.get(jobs, "default", "job")["metadata"]


def test_unknown_propagation_policy_is_rejected(store: Store, cms: ResourceType) -> None:
    store.create(cms, "default", {"metadata": {"name": "a"}})
    with pytest.raises(ApiError) as exc:
        store.delete(cms, "default", "a", propagation_policy="Sometimes")
    assert exc.value.code == 400


def test_dependent_of_a_missing_owner_is_collected(store: Store, jobs: ResourceType) -> None:
    ghost = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "gone", "uid": "00000000-0000-0000-0000-000000000000"},
    }
    store.create(jobs, "default", owned_by(ghost, "job"))
    assert not exists(store, jobs, "job")


def test_owner_with_same_name_but_other_uid_does_not_own(
    store: Store, cms: ResourceType, jobs: ResourceType
) -> None:
    owner = store.create(cms, "default", {"metadata": {"name": "owner"}})
    store.delete(cms, "default", "owner")
    store.create(cms, "default", {"metadata": {"name": "owner"}})
    store.create(jobs, "default", owned_by(owner, "job"))
    assert not exists(store, jobs, "job")


def test_namespace_deletion_deletes_its_objects(
    store: Store, cms: ResourceType, jobs: ResourceType
) -> None:
    namespaces = store.lookup("", "v1", "namespaces")
    store.create(namespaces, None, {"metadata": {"name": "team"}})
    store.create(cms, "team", {"metadata": {"name": "a"}})
    store.create(jobs, "team", {"metadata": {"name": "j", "finalizers": ["x/y"]}, "spec": {}})
    marked = store.delete(namespaces, None, "team")
    assert marked["status"]["phase"] == "Terminating"
    assert not exists(store, cms, "a", "team")
    assert exists(store, namespaces, "team", "")
    with pytest.raises(ApiError) as exc:
        store.create(cms, "team", {"metadata": {"name": "b"}})
    assert exc.value.code == 403
    job = store.get(jobs, "team", "j")
    job["metadata"]["finalizers"] = []
    store.update(jobs, "team", "j", job)
    assert not exists(store, namespaces, "team", "")


def test_marking_for_deletion_moves_generation(store: Store, jobs: ResourceType) -> None:
    store.create(jobs, "default", {"metadata": {"name": "j", "finalizers": ["x/y"]}, "spec": {}})
    marked = store.delete(jobs, "default", "j")
    assert marked["metadata"]["generation"] == 2


def test_system_namespaces_may_not_be_deleted(store: Store) -> None:
    with pytest.raises(ApiError) as exc:
        store.delete(store.lookup("", "v1", "namespaces"), None, "default")
    assert exc.value.code == 403
