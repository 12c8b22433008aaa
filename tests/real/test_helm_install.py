"""`helm install` of the chart on the real control plane: kube-apiserver v1.32.9 accepts every
object (CRDs from crds/ included), and its RBAC authorizer, asked as the operator's
ServiceAccount, allows what the operator does and nothing more, in both install modes; and the
operator the chart deploys walks the demo's DataMigration through every phase.

The RBAC tests keep the operator's pods off the node (a nodeSelector no node has): they install
it cluster-wide, and a second operator reconciling the other tests' DataMigrations would disturb
them. The walk installs it namespaced, watching only the walk's own namespace, and gives the
walk its own weaviate-server: collections are claimed by the first DataMigration that writes
them, and the other walks' (namespace `chat`) already hold the demo's collection names."""

from __future__ import annotations

import dataclasses
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from datamigration_sandbox.planes import RealPlane
from datamigration_sandbox.real.loopback_ports import free_ports
from datamigration_sandbox.real.weaviate_node import WeaviateNode
from datamigration_sandbox.walk import World
from tests.real.conftest import WEAVIATE_API_KEY, RealCluster, eventually
from tests.real.test_walk import RATE, ROWS, walk_every_phase
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

    def install(self, values: dict[str, Any], *, run: bool = False) -> None:
        """`run`: the operator's pods may be scheduled (else they are kept off the node)."""
        placement = {} if run else OFF_NODE
        path = self.home / f"{self.name}.yaml"
        path.write_text(yaml.safe_dump({"fullnameOverride": self.name, **placement, **values}))
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


# -- the operator from the chart walks the demo ---------------------------------------------


class OwnWeaviatePlane:
    """The session's real control plane with a weaviate-server of the walk's own."""

    real = True

    def __init__(self, plane: RealPlane, node: WeaviateNode) -> None:
        self.plane, self.node = plane, node
        self.weaviate_api_key = plane.weaviate_api_key
        self.info = dataclasses.replace(
            plane.info, weaviate_http_port=node.http_port, weaviate_grpc_port=node.grpc_port
        )

    def claim_dir(self, namespace: str, claim: str) -> Path:
        return self.plane.claim_dir(namespace, claim)

    def weaviate_down(self) -> None:
        self.node.stop()

    def weaviate_up(self) -> None:
        self.node.start()  # the same ports and data

    def close(self) -> None:
        self.node.stop()

    def __enter__(self) -> OwnWeaviatePlane:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class ChartOperator:
    """The World's operator as `helm install` deploys it: a namespaced release in a namespace
    of its own, watching only the World's namespace, its pod on the process kubelet (the
    chart's command, ServiceAccount token, probes and RBAC; nothing else)."""

    def __init__(self, cluster: RealCluster, home: Path) -> None:
        self.cluster = cluster
        self.release = Release(cluster, home, "dmo", f"hs-{uuid.uuid4().hex[:8]}")
        self.metrics_port = 0

    @contextmanager
    def _running(self, world: World) -> Iterator[None]:
        health, self.metrics_port = free_ports(2)
        values = {
            "watchNamespaces": [world.namespace],
            "health": {"port": health},  # every pod listens on 127.0.0.1 here
            "metrics": {"port": self.metrics_port},
            "logFormat": "full",
            "resyncSeconds": 2,
        }
        self.release.install(values, run=True)
        try:
            eventually(self.ready_pod, "the chart's operator pod to pass its readiness probe", 90)
            yield
            # the finalizer is the operator's: the DataMigration goes while it still runs
            self.cluster.kubectl("delete", "datamigrations", "--all", "-n", world.namespace)
        finally:
            self.release.uninstall()
            self.cluster.core.delete_namespace(self.release.namespace, grace_period_seconds=0)

    def run(self, world: World) -> AbstractContextManager[object]:
        return self._running(world)

    def pods(self) -> list[Any]:
        selector = f"app.kubernetes.io/instance={self.release.name}"
        return list(
            self.cluster.core.list_namespaced_pod(
                self.release.namespace, label_selector=selector
            ).items
        )

    def ready_pod(self) -> Any:
        for pod in self.pods():
            statuses = pod.status.container_statuses or []
            if statuses and all(s.ready for s in statuses):
                return pod
        return None

    def log(self, world: World) -> str:
        del world
        return self.cluster.kubectl(
            "logs", f"deployment/{self.release.name}", "-n", self.release.namespace, check=False
        ).stdout


@pytest.fixture
def chart_world(real_cluster: RealCluster, tmp_path: Path) -> Iterator[tuple[World, ChartOperator]]:
    operator = ChartOperator(real_cluster, tmp_path)
    namespace = f"hw-{uuid.uuid4().hex[:8]}"
    with (
        WeaviateNode(tmp_path / "weaviate", api_key=WEAVIATE_API_KEY) as node,
        OwnWeaviatePlane(RealPlane.attach(real_cluster.plane), node) as plane,
        World(
            tmp_path / "walk",
            rate=RATE,
            rows=ROWS,
            plane=plane,
            namespace=namespace,
            operator=operator,
        ) as world,
    ):
        yield world, operator
    real_cluster.core.delete_namespace(namespace, grace_period_seconds=0)


def test_the_chart_installs_an_operator_that_walks_every_phase(
    chart_world: tuple[World, ChartOperator], real_cluster: RealCluster
) -> None:
    world, operator = chart_world
    walk_every_phase(world, real_cluster)

    (pod,) = operator.pods()
    (container,) = pod.status.container_statuses
    # the chart's probes passed all along: never restarted by the liveness probe
    assert container.ready, container
    assert container.restart_count == 0, container
    log = operator.log(world)
    # only the chart's RBAC: a permission it lacks would be a 403 whose message the log
    # carries ("... is forbidden: User ... cannot ..."), retried or not
    refused = [line for line in log.splitlines() if "forbidden" in line.lower()]
    assert refused == []
    errors = [line for line in log.splitlines() if "[ERROR" in line]
    assert errors == []
    # it served only its own namespace
    assert "[chat/" not in log
    # its metrics port, as the chart's Service would scrape it (the pod IP is 127.0.0.1 here)
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics") as answer:
        series = answer.read().decode()
    key = f'name="chat-history",namespace="{world.namespace}"'
    assert f'datamigration_phase{{{key},phase="rollback"}} 1.0' in series
    assert 'datamigration_jobs_finished_total{kind="copy",result="Succeeded"} 1.0' in series
    assert f"datamigration_progress_failed_objects{{{key}}} 0.0" in series
