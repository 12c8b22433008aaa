"""The acceptance suite (tests/integration/operator_acceptance) on the real servers: the
session's real control plane, the operator reaching it through ApiProxy (so a write's answer
can be held back while the operator is SIGKILLed), and Job containers of JOB_STAND_IN_IMAGE
running job_stand_in.py (tests/real/conftest.py maps that image to it)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from kubernetes import client

from datamigration_operator.api.names import GROUP, PLURAL, VERSION
from datamigration_sandbox.kube.kubeconfig import write_kubeconfig
from datamigration_sandbox.operator_bench import OperatorProcess
from tests.integration.operator_acceptance.conftest import (
    KillOnce,
    Sandbox,
    WriteTrigger,
    Written,
    operators,
)
from tests.real.conftest import JOB_STAND_IN_IMAGE, RealCluster
from tests.real.operator_acceptance.api_proxy import ApiProxy

__all__ = ["operators", "sandbox"]

_VERBS: dict[str, Literal["create", "update"]] = {
    "POST": "create",
    "PUT": "update",
    "PATCH": "update",
}


def written_by(method: str, path: str, status: int, body: bytes) -> Written | None:
    """The object a successful create or update through `path` stored, else None."""
    verb = _VERBS.get(method)
    if verb is None or not 200 <= status < 300:
        return None
    parts = path.strip("/").split("/")
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) > 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]  # the namespaced resource's own path
    obj = json.loads(body) if body else None
    if not rest or not isinstance(obj, dict) or obj.get("kind") == "Status":
        return None
    return Written(verb, group, rest[0], obj)


class RealSandbox(Sandbox):
    def __init__(self, cluster: RealCluster, proxy: ApiProxy, kubeconfig: Path) -> None:
        super().__init__(cluster.api)
        self.cluster = cluster
        self.proxy = proxy
        self.kubeconfig = kubeconfig

    @property
    def operator_kubeconfig(self) -> Path:
        return self.kubeconfig

    @property
    def operator_args(self) -> tuple[str, ...]:
        return (f"--job-image={JOB_STAND_IN_IMAGE}",)

    def claim_folder(self, ns: str, claim: str) -> Path:
        return self.cluster.plane.claim_folder(ns, claim)

    @contextlib.contextmanager
    def kill_on_write(self, operator: OperatorProcess, trigger: WriteTrigger) -> Iterator[KillOnce]:
        """The proxy's hook: the API server answered, the operator has not read it."""
        killer = KillOnce(operator, trigger)

        def on_answer(method: str, path: str, status: int, body: bytes) -> None:
            written = written_by(method, path, status, body)
            if written is not None:
                killer(written)

        self.proxy.on_answer = on_answer
        try:
            yield killer
        finally:
            self.proxy.on_answer = None

    def remove_namespaces(self) -> None:
        """The session's cluster outlives this module: its namespaces go, DataMigrations
        included (their finalizer is the operator's, and no operator runs any more)."""
        custom = client.CustomObjectsApi(self.api)
        for ns in self.namespaces:
            listing: dict[str, Any] = custom.list_namespaced_custom_object(
                GROUP, VERSION, ns, PLURAL
            )
            for item in listing["items"]:
                if item["metadata"].get("finalizers"):
                    custom.patch_namespaced_custom_object(
                        GROUP,
                        VERSION,
                        ns,
                        PLURAL,
                        item["metadata"]["name"],
                        {"metadata": {"finalizers": None}},
                    )
            self.core.delete_namespace(ns, grace_period_seconds=0)


@pytest.fixture(scope="module")
def sandbox(
    real_cluster: RealCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealSandbox]:
    plane = real_cluster.plane
    credentials = plane.credentials
    assert credentials is not None
    proxy = ApiProxy(
        plane.api_url, credentials.ca_cert, credentials.serving_cert, credentials.serving_key
    )
    proxy.start()
    kubeconfig = write_kubeconfig(
        tmp_path_factory.mktemp("operator-kubeconfig") / "kubeconfig",
        proxy.url,
        token=plane.admin_token,
        context="real-through-proxy",
        certificate_authority=credentials.ca_cert.read_bytes(),
    )
    sandbox = RealSandbox(real_cluster, proxy, kubeconfig)
    try:
        yield sandbox
    finally:
        sandbox.remove_namespaces()
        proxy.stop()
