"""A stopped drainer makes rollback readiness False and blocks switch (issue 16 item 3).

The operator and its real validate Job on the sandbox; the app's side is the dual-write library
itself (DualWrite: outbox capture and drainer) running on the database file in the app's claim,
as an app pod would. The operator never reads that file: the validate Job looks at the outbox
and its drain lease and reports status.outbox, which RollbackReady judges.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import sessionmaker

from datamigration_operator.api.job_contract import JobTarget
from datamigration_operator.api.spec import Endpoint
from datamigration_operator.dualwrite.integration import DualWrite
from datamigration_operator.dualwrite.modes import ModeSource
from datamigration_operator.migration.sink.weaviate_sink import connect
from datamigration_sandbox.sample_data import sample_collections
from tests.integration.end_to_end.conftest import (
    custom_objects,
    data_migration,
    migration_world,
    read_migration,
)
from tests.integration.operator.conftest import (
    CLAIM,
    CONFIG_MAP,
    GROUP,
    PLURAL,
    SECRET_VALUE,
    VERSION,
    wait_for,
)

NAMESPACE, NAME, ROWS = "notes", "notes-history", 300


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with migration_world(tmp_path_factory.mktemp("rbready"), NAMESPACE, ROWS) as built:
        yield built


def _patch(world: dict[str, Any], **spec: Any) -> None:
    custom_objects(world).patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, NAME, {"spec": spec}
    )


def _reconciled(world: dict[str, Any], phase: str, state: str) -> dict[str, Any] | None:
    dm = read_migration(world, NAMESPACE, NAME)
    status = dm.get("status") or {}
    if status.get("phase") == phase and status.get("state") == "Failed":
        raise AssertionError(f"{phase} failed: {status.get('message')}")
    current = (
        status.get("observedGeneration") == dm["metadata"]["generation"]
        and status.get("phase") == phase
        and status.get("state") == state
    )
    return dm if current else None


def _advance(world: dict[str, Any], phase: str, **spec: Any) -> dict[str, Any]:
    _patch(world, phase=phase, **spec)
    return wait_for(lambda: _reconciled(world, phase, "Succeeded"), f"{phase} to succeed", 120)


def _condition(dm: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in dm["status"]["conditions"] if c["type"] == type_)


class App:
    """The app's dual-write library on its database: capture and drainer, as a pod runs it."""

    def __init__(self, world: dict[str, Any]) -> None:
        path = world["plane"].runner.claim_dir(NAMESPACE, CLAIM) / "app.db"
        self.engine = sa.create_engine(f"sqlite:///{path}")
        http, grpc = world["ports"]
        self.target = JobTarget(
            http=Endpoint(host="127.0.0.1", port=http),
            grpc=Endpoint(host="127.0.0.1", port=grpc),
            tls=False,
        )
        self.dual: DualWrite | None = None

    def start(self) -> None:
        registry = CollectorRegistry()
        self.dual = DualWrite(
            sessionmaker(bind=self.engine),
            sample_collections(),
            ModeSource(fixed="dual_write", registry=registry),
            lambda: connect(self.target, SECRET_VALUE, timeout=5),
            f"{NAMESPACE}/{NAME}",
            registry=registry,
        ).start()

    def stop(self) -> None:
        """A clean stop: the drainer releases its lease (stamped with the stop time)."""
        if self.dual is not None:
            self.dual.stop()
            self.dual = None

    def close(self) -> None:
        self.stop()
        self.engine.dispose()


def test_a_stopped_drainer_makes_rollback_readiness_false_and_blocks_switch(
    world: dict[str, Any],
) -> None:
    app = App(world)
    app.start()
    try:
        _walk(world, app)
    finally:
        app.close()


def _walk(world: dict[str, Any], app: App) -> None:
    body = data_migration(world["ports"], NAME)
    custom_objects(world).create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)
    wait_for(lambda: _reconciled(world, "migrate", "Succeeded"), "migrate to succeed", 120)
    _advance(world, "dual-write")
    dm = _advance(world, "validate")
    # The validate Job saw the app's drainer holding the lease: only the pods' side is unseen.
    outbox = dm["status"]["outbox"]
    assert outbox["leaseHolder"]
    assert outbox["leaseExpiresAt"] > outbox["observedAt"]
    ready = _condition(dm, "RollbackReady")
    assert (ready["status"], ready["reason"]) == ("Unknown", "RollbackPathUnobserved")
    assert "drains the outbox" in ready["message"]
    assert "spec.app.workloads lists none" in ready["message"]

    app.stop()
    dm = _advance(world, "validate", rerun=1)  # the validate Job looks again
    assert dm["status"]["validation"]["passed"] is True  # nothing was waiting: data is fine
    assert "leaseHolder" not in dm["status"]["outbox"]
    ready = _condition(dm, "RollbackReady")
    assert (ready["status"], ready["reason"]) == ("False", "DrainerNotRunning")
    assert "start it" in ready["message"]

    _patch(world, phase="switch")
    dm = wait_for(lambda: _reconciled(world, "switch", "Blocked"), "switch to be blocked", 60)
    assert dm["status"]["message"].startswith("switch refused: rollback is not ready")
    assert (_condition(dm, "Ready")["status"], _condition(dm, "Ready")["reason"]) == (
        "False",
        "DrainerNotRunning",
    )
    cm = kubernetes.client.CoreV1Api(world["api"]).read_namespaced_config_map(CONFIG_MAP, NAMESPACE)
    assert cm.data["migration_mode"] == "dual_write"  # reads did not move

    def refusals() -> list[Any]:
        # the operator posts its events after the status patch: wait for it, as a user would
        events = kubernetes.client.CoreV1Api(world["api"]).list_namespaced_event(
            NAMESPACE, field_selector=f"involvedObject.name={NAME}"
        )
        return [e for e in events.items if e.reason == "DrainerNotRunning"]

    found = wait_for(refusals, "the DrainerNotRunning event", 30)
    assert [e.type for e in found] == ["Warning"]

    # The drainer runs again; a new look (validate) finds it, and switch proceeds.
    app.start()
    _advance(world, "validate")
    dm = _advance(world, "switch")
    assert _condition(dm, "ReadsSwitched")["status"] == "True"
    assert _condition(dm, "RollbackReady")["status"] == "Unknown"
    cm = kubernetes.client.CoreV1Api(world["api"]).read_namespaced_config_map(CONFIG_MAP, NAMESPACE)
    assert cm.data["migration_mode"] == "weaviate_primary"
