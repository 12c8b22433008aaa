"""Create/get/list/update/patch on the store: identity, resourceVersion, generation, status."""

from __future__ import annotations

import re
from typing import Any

import pytest

from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import ApiError
from datamigration_sandbox.kube.store import Store

MERGE = "application/merge-patch+json"


@pytest.fixture
def store() -> Store:
    return Store()


def rt(store: Store, group: str, plural: str) -> ResourceType:
    return store.lookup(group, "v1", plural)


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": dict(data)}


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"replicas": replicas, "template": {}}}


def test_create_fills_server_metadata(store: Store) -> None:
    created = store.create(rt(store, "", "configmaps"), "default", configmap("app", a="1"))
    meta = created["metadata"]
    assert created["apiVersion"] == "v1"
    assert created["kind"] == "ConfigMap"
    assert meta["namespace"] == "default"
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert meta["resourceVersion"] == store.resource_version
    assert "generation" not in meta


def test_resource_versions_increase_across_types(store: Store) -> None:
    first = store.create(rt(store, "", "configmaps"), "default", configmap("a"))
    second = store.create(rt(store, "", "secrets"), "default", {"metadata": {"name": "b"}})
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])


def test_returned_objects_are_copies(store: Store) -> None:
    cms = rt(store, "", "configmaps")
    created = store.create(cms, "default", configmap("app", a="1"))
    created["data"]["a"] = "changed"
    assert store.get(cms, "default", "app")["data"] == {"a": "1"}


def test_create_twice_is_already_exists(store: Store) -> None:
    cms = rt(store, "", "configmaps")
    store.create(cms, "default", configmap("app"))
    with pytest.raises(ApiError) as exc:
        store.create(cms, "default", configmap("app"))
    assert (exc.value.code, exc.value.reason) == (409, "AlreadyExists")


def test_create_in_missing_namespace_is_not_found(store: Store) -> None:
    with pytest.raises(ApiError) as exc:
        store.create(rt(store, "", "configmaps"), "nowhere", configmap("app"))
    assert exc.value.code == 404
    assert exc.value.message == 'namespaces "nowhere" not found'


def test_generate_name_appends_a_suffix(store: Store) -> None:
    body = {"metadata": {"generateName": "job-"}}
    created = store.create(rt(store, "", "configmaps"), "default", body)
    assert re.fullmatch(r"job-[a-z0-9]{5}", created["metadata"]["name"])


def test_missing_name_is_invalid(store: Store) -> None:
    with pytest.raises(ApiError) as exc:
        store.create(rt(store, "", "configmaps"), "default", {"metadata": {}})
    assert exc.value.code == 422
    assert "metadata.name: Required value: name or generateName is required" in exc.value.message


@pytest.mark.parametrize("name", ["Upper", "under_score", "-dash", "a" * 254])
def test_bad_names_are_invalid(store: Store, name: str) -> None:
    with pytest.raises(ApiError) as exc:
        store.create(rt(store, "", "configmaps"), "default", configmap(name))
    assert exc.value.code == 422
    assert exc.value.details["causes"][0]["field"] == "metadata.name"


def test_bad_name_message_matches_the_api_server(store: Store) -> None:
    with pytest.raises(ApiError) as exc:
        store.create(rt(store, "", "configmaps"), "default", configmap("Bad"))
    assert exc.value.message.startswith(
        'ConfigMap "Bad" is invalid: metadata.name: Invalid value: "Bad": a lowercase RFC 1123 '
        "subdomain must consist of lower case alphanumeric characters, '-' or '.'"
    )


def test_namespace_names_are_dns_labels(store: Store) -> None:
    namespaces = rt(store, "", "namespaces")
    with pytest.raises(ApiError) as exc:
        store.create(namespaces, None, {"metadata": {"name": "a.b"}})
    assert "RFC 1123 label" in exc.value.message
    created = store.create(namespaces, None, {"metadata": {"name": "team-a"}})
    assert created["status"] == {"phase": "Active"}


def test_initial_namespaces_exist(store: Store) -> None:
    items, _ = store.list(rt(store, "", "namespaces"), None)
    assert [i["metadata"]["name"] for i in items] == ["default", "kube-public", "kube-system"]


def test_list_filters_by_namespace_and_labels(store: Store) -> None:
    cms = rt(store, "", "configmaps")
    store.create(rt(store, "", "namespaces"), None, {"metadata": {"name": "other"}})
    store.create(cms, "default", {"metadata": {"name": "a", "labels": {"app": "x"}}})
    store.create(cms, "default", {"metadata": {"name": "b", "labels": {"app": "y"}}})
    store.create(cms, "other", {"metadata": {"name": "c", "labels": {"app": "x"}}})
    items, list_rv = store.list(cms, "default", label_selector="app=x")
    assert [i["metadata"]["name"] for i in items] == ["a"]
    assert list_rv == store.resource_version
    everywhere, _ = store.list(cms, None, label_selector="app=x")
    assert {i["metadata"]["name"] for i in everywhere} == {"a", "c"}
    by_name, _ = store.list(cms, None, field_selector="metadata.name=b")
    assert [i["metadata"]["name"] for i in by_name] == ["b"]


def test_update_with_stale_resource_version_conflicts(store: Store) -> None:
    cms = rt(store, "", "configmaps")
    first = store.create(cms, "default", configmap("app", a="1"))
    first["data"]["a"] = "2"
    store.update(cms, "default", "app", first)
    first["data"]["a"] = "3"
    with pytest.raises(ApiError) as exc:
        store.update(cms, "default", "app", first)
    assert (exc.value.code, exc.value.reason) == (409, "Conflict")
    assert store.get(cms, "default", "app")["data"] == {"a": "2"}


def test_update_without_resource_version_is_unconditional(store: Store) -> None:
    cms = rt(store, "", "configmaps")
    store.create(cms, "default", configmap("app", a="1"))
    updated = store.update(cms, "default", "app", configmap("app", a="9"))
    assert updated["data"] == {"a": "9"}


def test_update_keeps_uid_and_creation_timestamp(store: Store) -> None:
    cms = rt(store, "", "configmaps")
    created = store.create(cms, "default", configmap("app"))
    body = configmap("app", a="1")
    body["metadata"]["creationTimestamp"] = "2000-01-01T00:00:00Z"
    updated = store.update(cms, "default", "app", body)
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert updated["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    body["metadata"]["uid"] = "other"
    with pytest.raises(ApiError) as exc:
        store.update(cms, "default", "app", body)
    assert exc.value.code == 422


def test_update_with_mismatched_name_is_bad_request(store: Store) -> None:
    cms = rt(store, "", "configmaps")
    store.create(cms, "default", configmap("app"))
    with pytest.raises(ApiError) as exc:
        store.update(cms, "default", "app", configmap("other"))
    assert exc.value.code == 400


def test_noop_update_keeps_resource_version(store: Store) -> None:
    cms = rt(store, "", "configmaps")
    created = store.create(cms, "default", configmap("app", a="1"))
    again = store.update(cms, "default", "app", created)
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_generation_moves_only_with_spec(store: Store) -> None:
    deployments = rt(store, "apps", "deployments")
    created = store.create(deployments, "default", deployment("web"))
    assert created["metadata"]["generation"] == 1
    labelled = store.patch(
        deployments, "default", "web", MERGE, {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled["metadata"]["generation"] == 1
    scaled = store.patch(deployments, "default", "web", MERGE, {"spec": {"replicas": 3}})
    assert scaled["metadata"]["generation"] == 2


def test_main_endpoint_ignores_status_for_types_with_the_subresource(store: Store) -> None:
    deployments = rt(store, "apps", "deployments")
    body = deployment("web")
    body["status"] = {"replicas": 5}
    created = store.create(deployments, "default", body)
    assert "status" not in created
    patched = store.patch(deployments, "default", "web", MERGE, {"status": {"replicas": 5}})
    assert "status" not in patched
    assert patched["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_status_subresource_changes_only_status(store: Store) -> None:
    deployments = rt(store, "apps", "deployments")
    store.create(deployments, "default", deployment("web"))
    patched = store.patch(
        deployments,
        "default",
        "web",
        MERGE,
        {"spec": {"replicas": 9}, "status": {"replicas": 1}},
        subresource="status",
    )
    assert patched["status"] == {"replicas": 1}
    assert patched["spec"]["replicas"] == 1
    assert patched["metadata"]["generation"] == 1


def test_status_subresource_is_not_found_for_types_without_it(store: Store) -> None:
    cms = rt(store, "", "configmaps")
    store.create(cms, "default", configmap("app"))
    with pytest.raises(ApiError) as exc:
        store.patch(cms, "default", "app", MERGE, {"status": {}}, subresource="status")
    assert exc.value.code == 404


def test_main_endpoint_writes_status_for_types_without_the_subresource(store: Store) -> None:
    sas = rt(store, "", "serviceaccounts")
    store.create(sas, "default", {"metadata": {"name": "sa"}})
    patched = store.patch(sas, "default", "sa", MERGE, {"status": {"note": "x"}})
    assert patched["status"] == {"note": "x"}


def test_patch_resource_version_is_a_precondition(store: Store) -> None:
    cms = rt(store, "", "configmaps")
    created = store.create(cms, "default", configmap("app", a="1"))
    stale = created["metadata"]["resourceVersion"]
    store.patch(cms, "default", "app", MERGE, {"data": {"a": "2"}})
    with pytest.raises(ApiError) as exc:
        store.patch(
            cms, "default", "app", MERGE, {"metadata": {"resourceVersion": stale}, "data": {}}
        )
    assert exc.value.code == 409


def test_json_patch_and_strategic_merge_patch(store: Store) -> None:
    deployments = rt(store, "apps", "deployments")
    store.create(deployments, "default", deployment("web"))
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 4}]
    assert (
        store.patch(deployments, "default", "web", "application/json-patch+json", ops)["spec"][
            "replicas"
        ]
        == 4
    )
    smp = store.patch(
        deployments,
        "default",
        "web",
        "application/strategic-merge-patch+json",
        {"spec": {"paused": True}},
    )
    assert smp["spec"] == {"replicas": 4, "template": {}, "paused": True}


def test_dry_run_changes_nothing(store: Store) -> None:
    cms = rt(store, "", "configmaps")
    rv = store.resource_version
    store.create(cms, "default", configmap("app"), dry_run=True)
    assert store.resource_version == rv
    with pytest.raises(ApiError):
        store.get(cms, "default", "app")


def test_unknown_resource_is_not_found(store: Store) -> None:
    with pytest.raises(ApiError) as exc:
        store.lookup("example.com", "v1", "widgets")
    assert exc.value.code == 404
    assert store.lookup_kind("apps/v1", "Deployment") == rt(store, "apps", "deployments")
    assert store.lookup_kind("v1", "Nope") is None


def test_listeners_see_changes_in_order(store: Store) -> None:
    cms = rt(store, "", "configmaps")
    seen: list[tuple[str, str]] = []
    unsubscribe = store.subscribe(
        lambda t, _rt, obj, _old: seen.append((t, obj["metadata"]["name"]))
    )
    store.create(cms, "default", configmap("app"))
    store.patch(cms, "default", "app", MERGE, {"data": {"a": "1"}})
    store.delete(cms, "default", "app")
    unsubscribe()
    store.create(cms, "default", configmap("later"))
    assert seen == [("ADDED", "app"), ("MODIFIED", "app"), ("DELETED", "app")]


def test_secret_string_data_is_folded_into_data_and_type_defaults_to_opaque() -> None:
    store = Store()
    secrets = store.lookup("", "v1", "secrets")
    created = store.create(
        secrets,
        "default",
        {"metadata": {"name": "wv"}, "data": {"a": "YQ=="}, "stringData": {"api-key": "s3cret"}},
    )
    assert created["data"] == {"a": "YQ==", "api-key": "czNjcmV0"}
    assert "stringData" not in created
    assert created["type"] == "Opaque"
