"""spec.switch.steps on the real API server: the CEL rules compile within its cost budget, admit
a climbing walk and refuse one that does not climb or stop at 100, as the emulator does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config

from datamigration_sandbox.control_plane import ControlPlane, ControlPlaneThread
from datamigration_sandbox.operator_bench import datamigration_manifest
from tests.real.conftest import REPO, RealCluster

GROUP, VERSION, PLURAL = "migrations.gremlins.ai", "v1alpha1", "datamigrations"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[client.ApiClient]:
    plane = ControlPlane(tmp_path_factory.mktemp("emulator"), crd_dir=REPO / "crds")
    thread = ControlPlaneThread(plane)
    info = thread.start()
    api = config.new_client_from_config(info.kubeconfig)
    try:
        yield api
    finally:
        api.close()
        thread.stop()


def _create(api: client.ApiClient, namespace: str, name: str, shares: list[int]) -> Any:
    body = datamigration_manifest(name, "app")
    body["spec"]["switch"] = {"steps": [{"readPercent": s, "pause": "1m"} for s in shares]}
    custom = client.CustomObjectsApi(api)
    try:
        return custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    except client.ApiException as refused:
        return refused.status, json.loads(refused.body)["message"]


@pytest.mark.parametrize(
    ("shares", "refusal"),
    [
        ([10, 50, 100], None),
        ([50, 20, 100], "switch.steps readPercent must increase step by step"),
        ([10, 50], "the last switch step must have readPercent 100"),
    ],
)
def test_switch_steps_are_admitted_or_refused_alike(
    real_cluster: RealCluster,
    namespace: str,
    emulator: client.ApiClient,
    shares: list[int],
    refusal: str | None,
) -> None:
    client.CoreV1Api(emulator).create_namespace({"metadata": {"name": namespace}})
    name = "dm-" + "-".join(map(str, shares))
    for api in (real_cluster.api, emulator):
        outcome = _create(api, namespace, name, shares)
        if refusal is None:
            assert outcome["spec"]["switch"]["steps"][-1]["readPercent"] == 100
        else:
            code, message = outcome
            assert code == 422
            assert refusal in message
