"""`helm install` of the chart on the real control plane: kube-apiserver v1.32.9 accepts every
object (CRDs from crds/ included), and its RBAC authorizer, asked as the operator's
ServiceAccount, allows what the operator does and nothing more, in both install modes.

The operator's pods are kept off the node (a nodeSelector no node has): a second operator
reconciling the other tests' DataMigrations would disturb them. The operator running from the
chart is the demo-walk slice of issue 15, not this test."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.real.conftest import RealCluster
from tests.unit.helm.chart import CHART, helm_binary, helm_env

HELM = helm_binary()
pytestmark = pytest.mark.skipif(
    HELM is None, reason="no helm binary: run scripts/build-servers.sh (or set DMCTL_HELM)"
)
OFF_NODE = {"nodeSelector": {"datamigration.test/no-such-node": "true"}}


def helm(cluster: RealCluster, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert HELM is not None
    return subprocess.run(
        [str(HELM), *args],
        capture_output=True,
        text=True,
        env=helm_env(home, cluster.kubeconfig),
        timeout=180,
        check=False,
    )


def can_i(cluster: RealCluster, account: str, verb: str, what: str, namespace: str = "") -> bool:
    args = ["auth", "can-i", verb, what, f"--as={account}"]
    args += ["-n", namespace] if namespace else []
    answer = cluster.kubectl(*args, check=False).stdout.strip()
    assert answer in ("yes", "no"), answer
    return answer == "yes"


class Release:
    def __init__(self, cluster: RealCluster, home: Path, name: str, namespace: str) -> None:
        self.cluster, self.home, self.name, self.namespace = cluster, home, name, namespace

    @property
    def account(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    def install(self, values: dict[str, Any]) -> None:
        path = self.home / f"{self.name}.yaml"
        path.write_text(yaml.safe_dump({"fullnameOverride": self.name, **OFF_NODE, **values}))
        result = helm(
            self.cluster,
            self.home,
            "install",
            self.name,
            str(CHART),
            "-n",
            self.namespace,
            "--create-namespace",
            "-f",
            str(path),
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "STATUS: deployed" in result.stdout

    def uninstall(self) -> None:
        helm(self.cluster, self.home, "uninstall", self.name, "-n", self.namespace)


@pytest.fixture
def namespaces(real_cluster: RealCluster) -> Iterator[list[str]]:
    names = [f"h-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for name in names:
        real_cluster.core.create_namespace({"metadata": {"name": name}})
    yield names
    for name in names:
        real_cluster.core.delete_namespace(name, grace_period_seconds=0)


def test_cluster_wide_install_is_accepted_and_grants_exactly_the_operators_needs(
    real_cluster: RealCluster, namespaces: list[str], tmp_path: Path
) -> None:
    system, app, other = namespaces
    release = Release(real_cluster, tmp_path, f"dmo-{uuid.uuid4().hex[:6]}", system)
    release.install({"rbac": {"secretReadNamespaces": [app]}})
    try:
        deployment = real_cluster.apps.read_namespaced_deployment(release.name, system)
        command = deployment.spec.template.spec.containers[0].command
        assert "--all-namespaces" in command
        crds = real_cluster.kubectl("get", "crd", "-o", "name").stdout.split()
        assert "customresourcedefinition.apiextensions.k8s.io/kopfpeerings.kopf.dev" in crds

        account = release.account
        for namespace in (app, other):
            assert can_i(real_cluster, account, "patch", "datamigrations/status", namespace)
            assert can_i(real_cluster, account, "create", "jobs.batch", namespace)
            assert can_i(real_cluster, account, "patch", "configmaps", namespace)
            assert not can_i(real_cluster, account, "delete", "configmaps", namespace)
            assert not can_i(real_cluster, account, "update", "deployments.apps", namespace)
            assert not can_i(real_cluster, account, "list", "secrets", namespace)
        # Secrets: by name, and only where the values say
        assert can_i(real_cluster, account, "get", "secrets", app)
        assert not can_i(real_cluster, account, "get", "secrets", other)
        assert not can_i(real_cluster, account, "get", "secrets", system)
        assert can_i(real_cluster, account, "watch", "customresourcedefinitions")
        assert not can_i(real_cluster, account, "create", "customresourcedefinitions")
        assert not can_i(real_cluster, account, "bind", "clusterroles")
    finally:
        release.uninstall()


def test_namespaced_ha_install_is_confined_to_its_namespaces(
    real_cluster: RealCluster, namespaces: list[str], tmp_path: Path
) -> None:
    system, watched, other = namespaces
    release = Release(real_cluster, tmp_path, f"dmo-{uuid.uuid4().hex[:6]}", system)
    release.install({"watchNamespaces": [watched], "replicaCount": 2})
    try:
        peering = real_cluster.kubectl("get", "kopfpeerings.kopf.dev", "-n", watched, "-o", "name")
        assert peering.stdout.strip() == f"kopfpeering.kopf.dev/{release.name}"
        account = release.account
        assert can_i(real_cluster, account, "create", "jobs.batch", watched)
        assert can_i(real_cluster, account, "get", "secrets", watched)
        assert can_i(real_cluster, account, "patch", "kopfpeerings.kopf.dev", watched)
        assert not can_i(real_cluster, account, "create", "jobs.batch", other)
        assert not can_i(real_cluster, account, "patch", "datamigrations/status", other)
        assert not can_i(real_cluster, account, "get", "secrets", other)
        assert can_i(real_cluster, account, "list", "namespaces")
        assert not can_i(real_cluster, account, "patch", "clusterkopfpeerings.kopf.dev")
    finally:
        release.uninstall()
