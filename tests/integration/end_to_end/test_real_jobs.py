"""End to end on the sandbox: the operator's real copy/sync/validate Jobs (`dmctl job ...` run by
the sandbox Job runner) migrate a generated GremlinsAI-shaped database through every phase."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest

from tests.integration.end_to_end.conftest import (
    connect_weaviate,
    custom_objects,
    data_migration,
    migration_world,
    read_migration,
)
from tests.integration.operator.conftest import (
    CONFIG_MAP,
    GROUP,
    PLURAL,
    SECRET_VALUE,
    VERSION,
)

NAMESPACE, NAME, ROWS = "chat", "chat-history", 3_000


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with migration_world(tmp_path_factory.mktemp("e2e"), NAMESPACE, ROWS) as built:
        yield built


def _advance(world: dict[str, Any], phase: str, timeout: float = 120) -> dict[str, Any]:
    from tests.integration.operator.conftest import wait_for

    custom_objects(world).patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, NAME, {"spec": {"phase": phase}}
    )

    def done() -> dict[str, Any] | None:
        dm = read_migration(world, NAMESPACE, NAME)
        status = dm.get("status") or {}
        if status.get("observedGeneration") != dm["metadata"]["generation"]:
            return None
        if status.get("state") == "Failed":
            pytest.fail(
                f"{phase} failed: {status.get('message')}\n{world['operator'].log()[-3000:]}"
            )
        return dm if status.get("phase") == phase and status.get("state") == "Succeeded" else None

    return wait_for(done, f"{phase} to succeed", timeout)


def _weaviate_counts(world: dict[str, Any]) -> dict[str, int]:
    """Object counts as the real client's aggregate reports them."""
    with connect_weaviate(world) as client:
        return {
            name: int(client.collections.get(name).aggregate.over_all(total_count=True).total_count)
            for name in ("Conversation", "Message", "Document")
        }


def _mode(world: dict[str, Any]) -> str:
    cm = kubernetes.client.CoreV1Api(world["api"]).read_namespaced_config_map(CONFIG_MAP, NAMESPACE)
    return str(cm.data["migration_mode"])


def test_every_phase_with_the_real_jobs(world: dict[str, Any]) -> None:
    body = data_migration(world["ports"], NAME)
    custom_objects(world).create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)
    _advance(world, "migrate")  # waits for the creation's reconcile (same phase)
    rows = world["counts"]
    assert _weaviate_counts(world) == {
        "Conversation": rows["conversations"],
        "Message": rows["messages"],
        "Document": rows["documents"],
    }
    dm = read_migration(world, NAMESPACE, NAME)
    assert dm["status"]["progress"]["rowsDone"] == sum(rows.values())

    _advance(world, "dual-write")
    assert _mode(world) == "dual_write"

    dm = _advance(world, "validate")
    report = dm["status"]["validation"]
    assert report["passed"] is True
    assert report["checked"] == sum(rows.values())
    assert (report["missing"], report["extra"], report["mismatched"]) == (0, 0, 0)
    # the read probe ran in the Job's pod (read-only source mount): every kind, both stores
    kinds = report["readPerformance"]["kinds"]
    assert [k["kind"] for k in kinds] == ["byId", "byReference", "bm25", "nearVector"]
    for run in ("sequential", "concurrent"):
        assert [k[run]["weaviate"]["errors"] for k in kinds] == [0, 0, 0, 0]
        assert [k[run]["sqlite"]["errors"] for k in kinds] == [0, 0, 0, 0]

    _advance(world, "switch")
    assert _mode(world) == "weaviate_primary"
    _advance(world, "rollback")
    assert _mode(world) == "sqlite_only"

    # The API key reached the Jobs only through the Secret.
    plane = world["plane"]
    logs = "".join(
        plane.runner.pod_log(NAMESPACE, pod["metadata"]["name"], None) or ""
        for pod in plane.store.list(plane.store.lookup("", "v1", "pods"), NAMESPACE)[0]
    )
    assert logs  # the Jobs did log
    assert SECRET_VALUE not in logs
    assert SECRET_VALUE not in str(read_migration(world, NAMESPACE, NAME)) + world["operator"].log()
