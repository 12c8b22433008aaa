"""The end-to-end world: the sandbox (RBAC on, Weaviate behind an API key), an app namespace with
a generated GremlinsAI-shaped database on its PVC, and the operator as a real process whose Jobs
are the real `dmctl job ...` commands."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import kubernetes
import weaviate
from kubernetes.config import new_client_from_config
from weaviate.classes.init import Auth

from datamigration_sandbox.control_plane import ControlPlane, ControlPlaneThread
from datamigration_sandbox.sample_data import generate_database
from tests.integration.operator.conftest import (
    CLAIM,
    GROUP,
    PLURAL,
    ROOT,
    SECRET_VALUE,
    VERSION,
    OperatorProcess,
    prepare_namespace,
)


@contextmanager
def migration_world(base: Path, namespace: str, rows: int) -> Iterator[dict[str, Any]]:
    """Yields plane, api (kubernetes ApiClient), counts (rows per table), rows (total),
    ports (Weaviate http, grpc) and operator (OperatorProcess)."""
    plane = ControlPlane(
        base / "data", crd_dir=ROOT / "crds", rbac=True, weaviate_api_key=SECRET_VALUE
    )
    thread = ControlPlaneThread(plane)
    info = thread.start()
    api = new_client_from_config(config_file=str(info.kubeconfig))
    prepare_namespace(api, namespace, config_map_data={"migration_mode": "sqlite_only"})
    database = generate_database(plane.runner.claim_dir(namespace, CLAIM) / "app.db", rows=rows)
    operator = OperatorProcess(Path(info.kubeconfig), base / "operator.log")
    operator.start()
    try:
        yield {
            "plane": plane,
            "api": api,
            "counts": database.counts,
            "rows": sum(database.counts.values()),
            "ports": (info.weaviate_http_port, info.weaviate_grpc_port),
            "operator": operator,
        }
    finally:
        operator.stop()
        api.close()
        thread.stop()


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
