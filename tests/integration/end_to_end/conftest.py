"""The end-to-end world: the sandbox (RBAC on, Weaviate behind an API key), an app namespace with
a generated GremlinsAI-shaped database on its PVC, and the operator as a real process whose Jobs
are the real `dmctl job ...` commands."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import weaviate
from kubernetes.config import new_client_from_config
from weaviate.classes.init import Auth

from datamigration_sandbox.control_plane import ControlPlane, ControlPlaneThread
from datamigration_sandbox.sample_data import generate_database, sample_collections
from tests.integration.operator.conftest import (
    CLAIM,
    CONFIG_MAP,
    GROUP,
    PLURAL,
    ROOT,
    SECRET,
    SECRET_VALUE,
    VERSION,
    OperatorProcess,
    prepare_namespace,
)


def data_migration(
    ports: tuple[int, int],
    name: str,
    *,
    collections: list[dict[str, Any]] | None = None,
    path: str = "app.db",
    phase: str = "migrate",
    target: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A DataMigration of the app on the claim, against the sandbox Weaviate behind its API
    key (Weaviate `ports`: http, grpc); the sample app's collections unless `collections`;
    `target` adds to the target, `spec` sets further spec fields."""
    http, grpc = ports
    if collections is None:
        collections = [c.model_dump(by_alias=True, exclude_none=True) for c in sample_collections()]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DataMigration",
        "metadata": {"name": name},
        "spec": {
            "phase": phase,
            "source": {"claimName": CLAIM, "path": path},
            "target": {
                "http": {"host": "127.0.0.1", "port": http},
                "grpc": {"host": "127.0.0.1", "port": grpc},
                "apiKeySecretRef": {"name": SECRET, "key": "api-key"},
                **(target or {}),
            },
            "collections": collections,
            "app": {"configMapRef": {"name": CONFIG_MAP}},
            **spec,
        },
    }


@dataclass
class OperatorSandbox:
    plane: ControlPlane
    api: kubernetes.client.ApiClient
    ports: tuple[int, int]
    """Weaviate's http and grpc ports"""
    operator: OperatorProcess

    @property
    def custom(self) -> kubernetes.client.CustomObjectsApi:
        return kubernetes.client.CustomObjectsApi(self.api)

    @property
    def core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.api)

    @property
    def batch(self) -> kubernetes.client.BatchV1Api:
        return kubernetes.client.BatchV1Api(self.api)


@contextmanager
def operator_sandbox(base: Path) -> Iterator[OperatorSandbox]:
    """The sandbox (RBAC on, Weaviate behind its API key) whose Job pods run this checkout's
    dmctl, and the operator as a process."""
    this_checkouts_dmctl(base / "bin")
    plane = ControlPlane(
        base / "data",
        crd_dir=ROOT / "crds",
        rbac=True,
        weaviate_api_key=SECRET_VALUE,
        job_path_prefix=(base / "bin",),
    )
    with ExitStack() as stack:
        thread = ControlPlaneThread(plane)
        info = thread.start()
        stack.callback(thread.stop)
        api = new_client_from_config(config_file=str(info.kubeconfig))
        stack.callback(api.close)
        operator = OperatorProcess(Path(info.kubeconfig), base / "operator.log")
        operator.start()
        stack.callback(operator.stop)
        yield OperatorSandbox(
            plane, api, (info.weaviate_http_port, info.weaviate_grpc_port), operator
        )


@contextmanager
def migration_world(base: Path, namespace: str, rows: int) -> Iterator[dict[str, Any]]:
    """Yields plane, api (kubernetes ApiClient), counts (rows per table), rows (total),
    ports (Weaviate http, grpc) and operator (OperatorProcess)."""
    with operator_sandbox(base) as sandbox:
        prepare_namespace(sandbox.api, namespace, config_map_data={"migration_mode": "sqlite_only"})
        claim = sandbox.plane.runner.claim_dir(namespace, CLAIM)
        database = generate_database(claim / "app.db", rows=rows)
        yield {
            "plane": sandbox.plane,
            "api": sandbox.api,
            "counts": database.counts,
            "rows": sum(database.counts.values()),
            "ports": sandbox.ports,
            "operator": sandbox.operator,
        }


def custom_objects(world: dict[str, Any]) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(world["api"])


def read_migration(world: dict[str, Any], namespace: str, name: str) -> dict[str, Any]:
    dm: dict[str, Any] = custom_objects(world).get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    return dm


def connect_weaviate(world: dict[str, Any]) -> weaviate.WeaviateClient:
    """A client of the world's Weaviate with the walk's API key (close it, or use `with`)."""
    http, grpc = world["ports"]
    return weaviate.connect_to_custom(
        http_host="127.0.0.1",
        http_port=http,
        http_secure=False,
        grpc_host="127.0.0.1",
        grpc_port=grpc,
        grpc_secure=False,
        auth_credentials=Auth.api_key(SECRET_VALUE),
        skip_init_checks=True,  # no PyPI version check from tests
    )


def this_checkouts_dmctl(bin_dir: Path) -> None:
    """`dmctl` for the Job pods: this checkout's code, whichever checkout the virtualenv's
    editable install points at."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "dmctl"
    paths = [str(ROOT / "operator"), str(ROOT / "sandbox")]
    script.write_text(
        f"#!{sys.executable}\n"
        f"import sys\nsys.path[:0] = {paths!r}\n"
        "from datamigration_operator.cli.main import main\nmain()\n"
    )
    script.chmod(0o755)
