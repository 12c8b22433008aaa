"""A Job's process reaches the API server as its ServiceAccount, and its log is served back."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from datamigration_sandbox.jobs.runner import JobRunner
from datamigration_sandbox.kube.auth import Authenticator, UserInfo
from datamigration_sandbox.kube.server import KubeApiServer
from datamigration_sandbox.kube.store import Store
from sandbox_jobs.conftest import Cluster, conditions

ADMIN_TOKEN = "admin-token-for-tests"
READ_OWN_POD = """
import os, kubernetes
kubernetes.config.load_kube_config()
api = kubernetes.client.CoreV1Api()
pod = api.read_namespaced_pod(os.environ["HOSTNAME"], "default")
print("running as", pod.spec.service_account_name, "on", pod.spec.node_name)
try:
    api.list_namespaced_secret("default")
except kubernetes.client.ApiException as exc:
    print("secrets:", exc.status)
"""


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Cluster, str]]:
    store = Store()
    authenticator = Authenticator({ADMIN_TOKEN: UserInfo("admin", ("system:masters",))})
    server = KubeApiServer(store, authenticator=authenticator, authorization=True)
    url = await server.start()
    runner = JobRunner(store, data_dir=tmp_path, api_url=url, authenticator=authenticator)
    runner.start()
    try:
        yield Cluster(store, runner, tmp_path), url
    finally:
        await runner.stop()
        await server.stop()


def _admin_api(url: str) -> Any:
    config = kubernetes.client.Configuration()
    config.host = url
    config.api_key = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    return kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(config))


async def test_job_process_uses_its_service_account_token(served: tuple[Cluster, str]) -> None:
    cluster, _ = served
    cluster.create("", "serviceaccounts", {"metadata": {"name": "reader"}})
    cluster.create(
        "rbac.authorization.k8s.io",
        "roles",
        {
            "metadata": {"name": "pod-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        },
    )
    cluster.create(
        "rbac.authorization.k8s.io",
        "rolebindings",
        {
            "metadata": {"name": "reader-reads-pods"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "pod-reader",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "default"}],
        },
    )
    container = {"command": [sys.executable, "-c", READ_OWN_POD]}
    cluster.create_job("reader", "", container=container, pod={"serviceAccountName": "reader"})

    job = await cluster.wait_finished("reader", within=30)

    [pod] = cluster.pods_of("reader")
    name = pod["metadata"]["name"]
    log = cluster.runner.pod_log("default", name, None)
    assert conditions(job).get("Complete"), log
    assert log == "running as reader on sandbox-node\nsecrets: 403\n"


async def test_pod_log_is_served_over_http(tmp_path: Path) -> None:
    store = Store()
    runner: JobRunner | None = None
    server = KubeApiServer(
        store, log_source=lambda ns, pod, c: runner.pod_log(ns, pod, c) if runner else None
    )
    url = await server.start()
    runner = JobRunner(store, data_dir=tmp_path, api_url=url)
    runner.start()
    try:
        cluster = Cluster(store, runner, tmp_path)
        cluster.create_job("talker", "print('line one'); print('line two')")
        await cluster.wait_finished("talker")
        [pod] = cluster.pods_of("talker")

        text = await asyncio.to_thread(
            _admin_api(url).read_namespaced_pod_log, pod["metadata"]["name"], "default"
        )

        assert text == "line one\nline two\n"
    finally:
        await runner.stop()
        await server.stop()
