"""Reasons where users look (issue 11, item 7), on the sandbox with RBAC on and Weaviate behind an
API key, the operator a real process and its Jobs the real `dmctl job copy` of this checkout:
a failed Job's own words reach status.message and a Warning event, keeping the rerun hint;
a refused API key fails the copy Job at once (one pod, no retries); an endpoint nobody answers
on fails the copy within seconds naming host and port. No secret shows up in any of it."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from datamigration_sandbox.sample_data import generate_database
from tests.integration.end_to_end.conftest import (
    OperatorSandbox,
    data_migration,
    operator_sandbox,
)
from tests.integration.operator.conftest import (
    CLAIM,
    GROUP,
    PLURAL,
    SECRET,
    SECRET_VALUE,
    VERSION,
    own_collection,
    prepare_namespace,
    wait_for,
)

WRONG_KEY = "sk-wrong-7c1f0b2d"


class World(OperatorSandbox):
    """The sandbox and operator, with what the failure cases do to a fresh namespace."""

    def namespace(self, *, database: bool = True) -> str:
        name = f"r-{uuid.uuid4().hex[:8]}"
        prepare_namespace(self.api, name, config_map_data={"migration_mode": "sqlite_only"})
        if database:
            generate_database(self.plane.runner.claim_dir(name, CLAIM) / "app.db", rows=50)
        return name

    def migrate(self, namespace: str, *, path: str = "app.db", **target: Any) -> None:
        # one Weaviate serves the module: each DataMigration its own collection
        collection = {"table": "conversations", "collection": own_collection(namespace, "dm")}
        body = data_migration(self.ports, "dm", path=path, target=target, collections=[collection])
        self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)

    def failed(self, namespace: str, timeout: float = 90) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            dm: dict[str, Any] = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, "dm"
            )
            status = dm.get("status") or {}
            if status.get("state") == "Succeeded":
                pytest.fail(f"the copy succeeded: {status}")
            return status if status.get("state") == "Failed" else None

        try:
            status: dict[str, Any] = wait_for(probe, f"{namespace}/dm to fail", timeout)
        except AssertionError as error:
            raise AssertionError(f"{error}\noperator log:\n{self.operator.log()[-6000:]}") from None
        return status

    def warning(self, namespace: str, reason: str) -> str:
        def found() -> list[Any]:
            events = self.core.list_namespaced_event(
                namespace, field_selector="involvedObject.name=dm"
            ).items
            return [e for e in events if e.type == "Warning" and e.reason == reason]

        message: str = wait_for(found, f"a Warning {reason}")[-1].message
        return message

    def copy_job(self, namespace: str) -> Any:
        (job,) = self.batch.list_namespaced_job(namespace).items
        return job


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with operator_sandbox(tmp_path_factory.mktemp("reasons")) as sandbox:
        yield World(sandbox.plane, sandbox.api, sandbox.ports, sandbox.operator)


def _unused_ports() -> tuple[int, int]:
    """Two ports nobody listens on (bound and released)."""
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", 0))
        second.bind(("127.0.0.1", 0))
        return first.getsockname()[1], second.getsockname()[1]


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET_VALUE not in text
        assert WRONG_KEY not in text


def test_a_missing_sqlite_file_is_the_failed_copys_reason_in_status_and_event(
    world: World,
) -> None:
    namespace = world.namespace()
    world.migrate(namespace, path="missing.db")

    status = world.failed(namespace)
    message = status["message"]
    assert "missing.db does not exist" in message, message
    assert message.startswith("copy Job ")
    assert "exit code 42" in message  # the Job controller's account stays
    assert message.endswith("bump spec.rerun to retry")
    event = world.warning(namespace, "JobFailed")
    assert "missing.db does not exist" in event
    assert world.copy_job(namespace).status.failed == 1  # a retry cannot help: not retried
    _no_secret(message, event)


def test_a_wrong_api_key_fails_the_copy_at_once_saying_so(world: World) -> None:
    namespace = world.namespace()
    world.core.patch_namespaced_secret(SECRET, namespace, {"stringData": {"api-key": WRONG_KEY}})
    world.migrate(namespace)

    status = world.failed(namespace)
    message = status["message"]
    assert "Weaviate refused the API key" in message, message
    assert "HTTP 401" in message
    event = world.warning(namespace, "JobFailed")
    assert "Weaviate refused the API key" in event
    job = world.copy_job(namespace)
    assert job.status.failed == 1  # at once: no pod retries with the same key
    (failed,) = [c for c in job.status.conditions if c.type == "Failed"]
    assert failed.reason == "PodFailurePolicy"
    _no_secret(message, event, str(status))


def test_an_endpoint_nobody_answers_on_fails_the_copy_within_seconds_naming_it(
    world: World,
) -> None:
    port, grpc_port = _unused_ports()
    namespace = world.namespace()
    world.migrate(
        namespace,
        http={"host": "127.0.0.1", "port": port},
        grpc={"host": "127.0.0.1", "port": grpc_port},
    )

    status = world.failed(namespace, timeout=60)
    message = status["message"]
    assert f"127.0.0.1:{port}" in message, message
    assert "Connection refused" in message
    assert "Details: ." not in message
    job = world.copy_job(namespace)
    assert job.status.failed == 1
    started, ended = job.status.start_time, job.status.conditions[-1].last_transition_time
    assert (ended - started).total_seconds() < 40
