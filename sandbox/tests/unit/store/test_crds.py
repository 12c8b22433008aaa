"""CustomResourceDefinitions: validation, serving, schema enforcement and cleanup."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import ApiError
from datamigration_sandbox.kube.store import Store

MERGE = "application/merge-patch+json"

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["phase"],
            "properties": {
                "phase": {
                    "type": "string",
                    "enum": ["migrate", "dual-write", "rollback"],
                    "x-kubernetes-validations": [
                        {
                            "rule": "self == oldSelf || self == 'rollback' || "
                            "(oldSelf == 'migrate' && self == 'dual-write')",
                            "message": "illegal phase transition",
                        }
                    ],
                },
                "batchSize": {"type": "integer", "default": 500, "minimum": 1},
            },
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


def crd_manifest(**overrides: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
                "categories": ["all"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Phase", "type": "string", "jsonPath": ".spec.phase"}
                    ],
                },
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": False,
                    "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)},
                },
            ],
        },
    }
    manifest["spec"].update(overrides)
    return manifest


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def crds(store: Store) -> ResourceType:
    return store.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")


@pytest.fixture
def widgets(store: Store, crds: ResourceType) -> ResourceType:
    store.create(crds, None, crd_manifest())
    return store.lookup("example.com", "v1", "widgets")


def widget(name: str, phase: str = "migrate") -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"phase": phase}}


def test_crd_is_served_and_established_at_once(store: Store, crds: ResourceType) -> None:
    created = store.create(crds, None, crd_manifest())
    rt = store.lookup("example.com", "v1", "widgets")
    assert (rt.kind, rt.singular, rt.namespaced) == ("Widget", "widget", True)
    assert rt.short_names == ("wd",)
    assert rt.subresources == frozenset({"status"})
    assert rt.printer_columns[0]["name"] == "Phase"
    assert rt.from_crd == "widgets.example.com"
    assert store.lookup("example.com", "v1beta1", "widgets").subresources == frozenset()
    status = created["status"]
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert status["acceptedNames"]["listKind"] == "WidgetList"
    assert status["storedVersions"] == ["v1"]
    assert created["metadata"]["generation"] == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"scope": "Everywhere"}, "spec.scope"),
        ({"group": "nodot"}, "spec.group"),
        ({"versions": []}, "spec.versions"),
    ],
)
def test_invalid_crds_are_rejected(
    store: Store, crds: ResourceType, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(ApiError) as exc:
        store.create(crds, None, crd_manifest(**overrides))
    assert exc.value.code == 422
    assert field in [c["field"] for c in exc.value.details["causes"]]


def test_two_storage_versions_are_rejected(store: Store, crds: ResourceType) -> None:
    manifest = crd_manifest()
    manifest["spec"]["versions"][1]["storage"] = True
    with pytest.raises(ApiError) as exc:
        store.create(crds, None, manifest)
    assert "exactly one version marked as storage" in exc.value.message


def test_crd_with_a_rule_that_does_not_compile_is_rejected(
    store: Store, crds: ResourceType
) -> None:
    manifest = crd_manifest()
    phase = manifest["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]["phase"]
    phase["x-kubernetes-validations"] = [{"rule": "self ==", "message": "broken"}]
    with pytest.raises(ApiError) as exc:
        store.create(crds, None, manifest)
    assert exc.value.code == 422
    fields = [c["field"] for c in exc.value.details["causes"]]
    assert fields[0].startswith("spec.versions[0].schema.openAPIV3Schema")


def test_crd_name_must_be_plural_dot_group(store: Store, crds: ResourceType) -> None:
    manifest = crd_manifest()
    manifest["metadata"]["name"] = "gadgets.example.com"
    with pytest.raises(ApiError) as exc:
        store.create(crds, None, manifest)
    assert exc.value.code == 422


def test_schema_defaults_and_prunes(store: Store, widgets: ResourceType) -> None:
    body = widget("w")
    body["spec"]["unknown"] = "dropped"
    created = store.create(widgets, "default", body)
    assert created["spec"] == {"phase": "migrate", "batchSize": 500}


def test_schema_violations_are_invalid(store: Store, widgets: ResourceType) -> None:
    with pytest.raises(ApiError) as exc:
        store.create(widgets, "default", widget("w", phase="teleport"))
    assert exc.value.code == 422
    assert exc.value.message.startswith('Widget.example.com "w" is invalid: ')


def test_transition_rules_see_the_old_object(store: Store, widgets: ResourceType) -> None:
    store.create(widgets, "default", widget("w"))
    store.patch(widgets, "default", "w", MERGE, {"spec": {"phase": "dual-write"}})
    with pytest.raises(ApiError) as exc:
        store.patch(widgets, "default", "w", MERGE, {"spec": {"phase": "migrate"}})
    assert exc.value.code == 422
    assert "illegal phase transition" in exc.value.message


def test_versions_share_storage(store: Store, widgets: ResourceType) -> None:
    store.create(widgets, "default", widget("w"))
    beta = store.lookup("example.com", "v1beta1", "widgets")
    seen = store.get(beta, "default", "w")
    assert seen["apiVersion"] == "example.com/v1beta1"
    assert seen["spec"]["phase"] == "migrate"


def test_custom_resources_need_a_resource_version_to_update(
    store: Store, widgets: ResourceType
) -> None:
    store.create(widgets, "default", widget("w"))
    with pytest.raises(ApiError) as exc:
        store.update(widgets, "default", "w", widget("w", phase="rollback"))
    assert exc.value.code == 422
    assert "metadata.resourceVersion" in exc.value.message


def test_strategic_merge_patch_is_unsupported_for_custom_resources(
    store: Store, widgets: ResourceType
) -> None:
    store.create(widgets, "default", widget("w"))
    with pytest.raises(ApiError) as exc:
        store.patch(widgets, "default", "w", "application/strategic-merge-patch+json", {"spec": {}})
    assert exc.value.code == 415


def test_status_writes_are_validated(store: Store, widgets: ResourceType) -> None:
    store.create(widgets, "default", widget("w"))
    patched = store.patch(
        widgets, "default", "w", MERGE, {"status": {"state": "Running"}}, subresource="status"
    )
    assert patched["status"] == {"state": "Running"}
    assert patched["metadata"]["generation"] == 1


def test_deleting_a_crd_deletes_its_objects_and_stops_serving(
    store: Store, crds: ResourceType, widgets: ResourceType
) -> None:
    store.create(widgets, "default", widget("plain"))
    guarded = widget("guarded")
    guarded["metadata"]["finalizers"] = ["example.com/cleanup"]
    store.create(widgets, "default", guarded)
    store.delete(crds, None, "widgets.example.com")
    crd = store.get(crds, None, "widgets.example.com")
    assert "Terminating" in {c["type"] for c in crd["status"]["conditions"]}
    assert [w["metadata"]["name"] for w in store.list(widgets, None)[0]] == ["guarded"]
    remaining = store.get(widgets, "default", "guarded")
    remaining["metadata"]["finalizers"] = []
    store.update(widgets, "default", "guarded", remaining)
    with pytest.raises(ApiError):
        store.get(crds, None, "widgets.example.com")
    with pytest.raises(ApiError) as exc:
        store.lookup("example.com", "v1", "widgets")
    assert exc.value.code == 404
