"""The end-to-end world: the sandbox (RBAC on, Weaviate behind an API key), an app namespace with
a generated GremlinsAI-shaped database on its PVC, and the operator as a real process whose Jobs
are the real `dmctl job ...` commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubernetes.config import new_client_from_config

from datamigration_sandbox.control_plane import ControlPlane, ControlPlaneThread
from datamigration_sandbox.sample_data import generate_database
from tests.integration.operator.conftest import (
    CLAIM,
    ROOT,
    SECRET_VALUE,
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
