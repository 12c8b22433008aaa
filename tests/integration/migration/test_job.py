"""`dmctl job copy|validate` against the sandbox control plane: the Job reports through the
DataMigration's status subresource and the report ConfigMap, with the real kubernetes client."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.config import new_client_from_config

from datamigration_operator.api.job_contract import (
    CONFIG_ENV,
    NON_RETRYABLE_EXIT_CODE,
    JobConfig,
    JobSource,
    JobTarget,
    MigrationRef,
)
from datamigration_operator.api.names import GROUP, PLURAL, VERSION, owner_id
from datamigration_operator.api.phases import JobKind
from datamigration_operator.api.spec import Endpoint, ReadProbeSpec
from datamigration_operator.migration.mapping import object_uuid
from datamigration_sandbox.control_plane import ControlPlane, ControlPlaneThread
from datamigration_sandbox.sample_data import (
    SampleDatabase,
    generate_database,
    sample_collections,
)
from tests.integration.migration.conftest import DMCTL, cli_env, parse_json_line

ROOT = Path(__file__).resolve().parents[3]
NS = "default"
NAME = "app-migration"


@dataclass
class Plane:
    thread: ControlPlaneThread
    kubeconfig: Path
    api: Any
    http_port: int
    grpc_port: int

    @property
    def custom(self) -> Any:
        return kubernetes.client.CustomObjectsApi(self.api)


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[Plane]:
    thread = ControlPlaneThread(ControlPlane(tmp_path / "sandbox", crd_dir=ROOT / "crds"))
    info = thread.start()
    api = new_client_from_config(config_file=str(info.kubeconfig))
    try:
        yield Plane(
            thread, Path(info.kubeconfig), api, info.weaviate_http_port, info.weaviate_grpc_port
        )
    finally:
        api.close()
        thread.stop()


def _create_migration(plane: Plane) -> dict[str, Any]:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DataMigration",
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {
            "source": {"claimName": "app-data", "path": "app.db"},
            "target": {
                "http": {"host": "127.0.0.1", "port": plane.http_port},
                "grpc": {"host": "127.0.0.1", "port": plane.grpc_port},
            },
            "collections": [
                m.model_dump(mode="json", by_alias=True, exclude_defaults=True)
                for m in sample_collections()
            ],
            "app": {"configMapRef": {"name": "app-config"}},
        },
    }
    created: dict[str, Any] = plane.custom.create_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, body
    )
    return created


def _run_job(
    plane: Plane,
    dm: dict[str, Any],
    kind: JobKind,
    db: Path,
    scratch: Path,
    read_probe: ReadProbeSpec | None = None,
) -> subprocess.CompletedProcess[bytes]:
    config = JobConfig(
        kind=kind,
        job_name=f"{NAME}-{kind}-abc123",
        datamigration=MigrationRef(namespace=NS, name=NAME, uid=dm["metadata"]["uid"]),
        source=JobSource(path=str(db), snapshot=True, scratch_dir=str(scratch)),
        target=JobTarget(
            http=Endpoint(host="127.0.0.1", port=plane.http_port),
            grpc=Endpoint(host="127.0.0.1", port=plane.grpc_port),
            tls=False,
        ),
        collections=sample_collections(),
        batch_size=250,
        concurrency=2,
        objects_per_second=0,
        max_mismatches=0,
        recheck_delay="1s",
        read_probe=read_probe,
    )
    env = {
        **cli_env(),
        "KUBECONFIG": str(plane.kubeconfig),
        CONFIG_ENV: config.model_dump_json(by_alias=True),
    }
    return subprocess.run(
        [*DMCTL, "job", kind], capture_output=True, env=env, timeout=120, check=False
    )


def _status(plane: Plane) -> dict[str, Any]:
    obj = plane.custom.get_namespaced_custom_object_status(GROUP, VERSION, NS, PLURAL, NAME)
    status: dict[str, Any] = obj.get("status") or {}
    return status


@pytest.fixture
def database(tmp_path: Path) -> SampleDatabase:
    return generate_database(tmp_path / "app.db", rows=1_000)


def test_copy_job_reports_progress_then_validate_job_reports_a_clean_validation(
    plane: Plane, database: SampleDatabase, tmp_path: Path
) -> None:
    dm = _create_migration(plane)
    copied = _run_job(plane, dm, "copy", database.path, tmp_path / "scratch")
    assert copied.returncode == 0, copied.stdout.decode()[-2000:]
    assert parse_json_line(copied.stdout)["event"] == "finished"
    progress = _status(plane)["progress"]
    assert progress["job"] == f"{NAME}-copy-abc123"
    assert progress["percent"] == 100
    assert progress["rowsDone"] == progress["rowsTotal"] == sum(database.counts.values())
    assert sorted(progress["checkpoint"]["tablesDone"]) == sorted(database.counts)

    validated = _run_job(plane, dm, "validate", database.path, tmp_path / "scratch")
    assert validated.returncode == 0, validated.stdout.decode()[-2000:]
    validation = _status(plane)["validation"]
    assert validation["passed"] is True
    assert validation["checked"] == sum(database.counts.values())
    assert (validation["missing"], validation["extra"], validation["mismatched"]) == (0, 0, 0)
    assert validation["finishedAt"]


def test_copy_job_with_an_always_failing_object_exits_42_and_reports_the_key(
    plane: Plane, database: SampleDatabase, tmp_path: Path
) -> None:
    dm = _create_migration(plane)
    with sqlite3.connect(database.path) as connection:
        (message_id,) = connection.execute("SELECT id FROM messages LIMIT 1").fetchone()
    bad = object_uuid(owner_id(NS, NAME), "messages", (message_id,))
    plane.thread.plane.weaviate.faults.update({"always_fail_ids": [str(bad)]})

    done = _run_job(plane, dm, "copy", database.path, tmp_path / "scratch")

    assert done.returncode == NON_RETRYABLE_EXIT_CODE, done.stdout.decode()[-2000:]
    progress = _status(plane)["progress"]
    assert progress["failed"] == 1
    assert len(progress["failedKeys"]) == 1
    assert progress["failedKeys"][0].startswith(f'messages/["{message_id}"]: ')
    report_name = progress["reportRef"]
    assert report_name.startswith(f"{NAME}-copy-abc123-report-")
    report = kubernetes.client.CoreV1Api(plane.api).read_namespaced_config_map(report_name, NS)
    assert message_id in report.data["keys"]
    assert report.metadata.owner_references[0].uid == dm["metadata"]["uid"]
    assert "WEAVIATE_API_KEY" not in done.stdout.decode()


async def _drop_all(collection: Any) -> None:
    for uuid in list(collection.objects):
        collection.delete(uuid)


def test_copy_job_resumes_from_the_checkpoint_its_previous_pod_left_in_status(
    plane: Plane, database: SampleDatabase, tmp_path: Path
) -> None:
    dm = _create_migration(plane)
    with sqlite3.connect(database.path) as connection:
        keys = [row[0] for row in connection.execute("SELECT id FROM messages ORDER BY id")]
    resume_after = keys[len(keys) // 2 - 1]
    # the previous pod wrote the conversations (Weaviate refuses a message whose conversation
    # it does not hold) and some messages; here: all of them, then the messages are dropped
    first = _run_job(plane, dm, "copy", database.path, tmp_path / "first")
    assert first.returncode == 0, first.stdout.decode()[-2000:]
    objects = plane.thread.plane.weaviate.database
    written = {u: o["lastUpdateTimeUnix"] for u, o in objects.get("Conversation").objects.items()}
    messages = objects.get("Message")
    plane.thread.call(_drop_all(messages))
    previous = {
        "job": f"{NAME}-copy-abc123",
        "checkpoint": {
            "table": "messages",
            "lastKey": f'["{resume_after}"]',
            # the copy's order: the tables nothing references, then those that reference them
            "tablesDone": ["conversations", "documents"],
        },
    }
    plane.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, NS, PLURAL, NAME, {"status": {"progress": previous}}
    )

    done = _run_job(plane, dm, "copy", database.path, tmp_path / "scratch")

    assert done.returncode == 0, done.stdout.decode()[-2000:]
    # done before the "kill": not written again
    rewritten = {u: o["lastUpdateTimeUnix"] for u, o in objects.get("Conversation").objects.items()}
    assert rewritten == written
    assert len(objects.get("Message").objects) == len(keys) - len(keys) // 2
    assert len(objects.get("Document").objects) == database.counts["documents"]
    assert _status(plane)["progress"]["percent"] == 100
