"""The emulated API server's conformance scenarios (sandbox/tests/integration/sandbox_kube) run
against it and against the real kube-apiserver with its controller manager, the oracle: every
scenario below runs once per backend ("emulated", "real") and fails on the one that differs.
They cover what the operator relies on: status codes and Status bodies, resourceVersion and
generation, the status subresource, merge and JSON patches, label and field selectors, list
paging, watch from a resourceVersion, garbage collection, and a CRD's schema and CEL rules.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from tests.real.conftest import REPO, RealCluster

# the scenarios import their conftest as `sandbox_kube.conftest`, as pytest does when it
# collects sandbox/tests (rootdir-relative: that directory has no __init__.py)
sys.path.insert(0, str(REPO / "sandbox" / "tests" / "integration"))

from sandbox_kube.conftest import WIDGET_CRD, start_sandbox
from sandbox_kube.test_kubernetes_client import (
    WIDGETS,
    _configmap,
    _widget,
    test_configmap_crud,
    test_create_existing_name_is_409_already_exists,
    test_custom_resource_crud_and_generation,
    test_deleting_the_owner_garbage_collects_dependents,
    test_label_and_field_selectors,
    test_list_pages_with_limit_and_continue,
    test_merge_json_and_strategic_patches,
    test_stale_update_is_409_conflict,
    test_status_subresource_in_both_directions,
    test_strategic_merge_patch_on_custom_resource_is_415,
    test_watch_resumes_from_a_resource_version,
)

__all__ = [  # collected here, with this module's fixtures: once per backend
    "test_configmap_crud",
    "test_create_existing_name_is_409_already_exists",
    "test_custom_resource_crud_and_generation",
    "test_deleting_the_owner_garbage_collects_dependents",
    "test_label_and_field_selectors",
    "test_list_pages_with_limit_and_continue",
    "test_merge_json_and_strategic_patches",
    "test_stale_update_is_409_conflict",
    "test_status_subresource_in_both_directions",
    "test_strategic_merge_patch_on_custom_resource_is_415",
    "test_watch_resumes_from_a_resource_version",
]

BACKENDS = ["emulated", "real"]


def _install_widgets(api: client.ApiClient) -> None:
    """The scenarios' test CRD, Established before any scenario uses it."""
    extensions = client.ApiextensionsV1Api(api)
    try:
        extensions.create_custom_resource_definition(WIDGET_CRD)
    except client.ApiException as error:
        if error.status != 409:
            raise
    name = WIDGET_CRD["metadata"]["name"]
    deadline = time.monotonic() + 30
    while True:
        conditions = extensions.read_custom_resource_definition(name).status.conditions or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        assert time.monotonic() < deadline, f"{name} never became Established"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def emulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[client.ApiClient]:
    sandbox, stop = start_sandbox(tmp_path_factory.mktemp("kube"))
    try:
        api = sandbox.api_client()
        _install_widgets(api)
        yield api
    finally:
        stop()


@pytest.fixture(scope="module")
def real(real_cluster: RealCluster) -> client.ApiClient:
    _install_widgets(real_cluster.api)
    return real_cluster.api


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest) -> client.ApiClient:
    backend: client.ApiClient = request.getfixturevalue(request.param)
    return backend


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


# ---- Status bodies, compared field for field ----------------------------------------------


def _refusal(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(client.ApiException) as refused:
        call()
    body: dict[str, Any] = json.loads(refused.value.body)
    return refused.value.status, body


def _refusals(api: client.ApiClient, tag: str) -> dict[str, tuple[int, dict[str, Any]]]:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    name = f"status-{tag}"
    core.create_namespaced_config_map("default", _configmap(name, {"k": "1"}))
    stale = core.read_namespaced_config_map(name, "default")
    core.patch_namespaced_config_map(name, "default", {"data": {"k": "2"}})
    stale.data["k"] = "3"
    widget = f"w-{tag}"
    custom.create_namespaced_custom_object(**WIDGETS, namespace="default", body=_widget(widget))
    return {
        "not found": _refusal(lambda: core.read_namespaced_config_map(f"absent-{tag}", "default")),
        "already exists": _refusal(
            lambda: core.create_namespaced_config_map("default", _configmap(name, {}))
        ),
        "conflict": _refusal(lambda: core.replace_namespaced_config_map(name, "default", stale)),
        "schema": _refusal(
            lambda: custom.patch_namespaced_custom_object(
                **WIDGETS, namespace="default", name=widget, body={"spec": {"size": "big"}}
            )
        ),
        "cel": _refusal(
            lambda: custom.patch_namespaced_custom_object(
                **WIDGETS, namespace="default", name=widget, body={"spec": {"phase": "c"}}
            )
        ),
    }


def test_status_bodies_are_the_real_ones(
    emulated: client.ApiClient, real: client.ApiClient
) -> None:
    tag = uuid.uuid4().hex[:8]
    found = {"emulated": _refusals(emulated, tag), "real": _refusals(real, tag)}
    codes = {case: status for case, (status, _) in found["real"].items()}
    assert codes == {
        "not found": 404,
        "already exists": 409,
        "conflict": 409,
        "schema": 422,
        "cel": 422,
    }
    for case, (status, body) in found["real"].items():
        assert found["emulated"][case] == (status, body), case
