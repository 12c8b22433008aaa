"""The operator on the real servers: a DataMigration walks every phase while the chat app runs
as pods on the process kubelet under load (the demo's and the scenario tier's World), its
copy Job's logs come through `kubectl logs`, and a weaviate-server stopped during dual-write
costs the app no write: SQLite takes them, the outbox holds them, the drain catches up after
the restart and validation finds 0 differences."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from datamigration_operator.migration.source.app_outbox import AppOutbox
from datamigration_sandbox.planes import RealPlane
from datamigration_sandbox.walk import CLAIM, World
from tests.real.conftest import WEAVIATE_API_KEY, RealCluster

RATE = 40.0  # requests/s, ~33 writes/s: light enough for a 2-core CI runner beside the servers
ROWS = 3_000
OUTAGE_SECONDS = 8.0


@pytest.fixture(scope="module")
def world(real_cluster: RealCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    plane = RealPlane.attach(real_cluster.plane)
    with World(tmp_path_factory.mktemp("walk"), rate=RATE, rows=ROWS, plane=plane) as running:
        yield running


def _status(dm: dict[str, Any]) -> dict[str, Any]:
    status: dict[str, Any] = dm.get("status") or {}
    return status


def _succeeded(world: World, dm: dict[str, Any], phase: str) -> None:
    status = _status(dm)
    if status.get("state") != "Succeeded":
        log = world.operator_log()[-3000:]
        pytest.fail(f"{phase}: {status.get('state')} {status.get('message')}\n{log}")


def _validated_clean(dm: dict[str, Any]) -> None:
    validation = _status(dm)["validation"]
    counts = {k: validation[k] for k in ("missing", "extra", "mismatched")}
    assert counts == {"missing": 0, "extra": 0, "mismatched": 0}, validation.get("samples")
    assert validation["passed"] is True
    assert validation["checked"] >= ROWS


def _mode(real_cluster: RealCluster, namespace: str) -> str:
    cm = real_cluster.core.read_namespaced_config_map("chat-app", namespace)
    return str(cm.data["migration_mode"])


def _outbox_depth(world: World) -> int:
    assert world.plane is not None
    with AppOutbox(world.plane.claim_dir(world.namespace, CLAIM) / "app.db") as outbox:
        return outbox.state().depth


def _failed_writes(world: World) -> int:
    return int(world.load_summary()["failed_writes"])


def test_every_phase_with_the_app_as_pods_and_the_copy_logs_through_kubectl(
    world: World, real_cluster: RealCluster
) -> None:
    walk_every_phase(world, real_cluster)


def walk_every_phase(world: World, real_cluster: RealCluster) -> None:
    """migrate -> dual-write -> validate -> switch -> rollback under the app's load, whichever
    way the operator runs (tests/real/test_helm_install.py: installed by the chart)."""
    namespace = world.namespace
    dm = world.settle("migrate")
    _succeeded(world, dm, "migrate")
    copy_job = next(job["name"] for job in _status(dm)["jobs"] if job["phase"] == "migrate")
    # the API server proxies to the process kubelet's /containerLogs
    logs = real_cluster.kubectl("logs", f"job/{copy_job}", "-n", namespace).stdout
    finished = [json.loads(line) for line in logs.splitlines() if '"finished"' in line]
    assert finished, logs
    assert finished[-1]["failed"] == 0
    assert finished[-1]["written"] >= ROWS
    assert WEAVIATE_API_KEY not in logs
    pods = real_cluster.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout
    phases = {p["metadata"]["name"]: p["status"]["phase"] for p in json.loads(pods)["items"]}
    assert any(n.startswith(copy_job) and ph == "Succeeded" for n, ph in phases.items()), phases
    assert any(n.startswith("chat-app-") and ph == "Running" for n, ph in phases.items()), phases

    _succeeded(world, world.advance("dual-write"), "dual-write")
    assert _mode(real_cluster, namespace) == "dual_write"
    dm = world.advance("validate")
    _succeeded(world, dm, "validate")
    _validated_clean(dm)
    dm = world.advance("switch")
    _succeeded(world, dm, "switch")
    assert _status(dm)["mode"]["applied"] == "weaviate_primary"
    assert _mode(real_cluster, namespace) == "weaviate_primary"
    dm = world.advance("rollback", timeout=60)
    assert _status(dm)["mode"]["applied"] == "sqlite_only"
    assert _mode(real_cluster, namespace) == "sqlite_only"
    assert _failed_writes(world) == 0, world.load_summary()["failure_examples"]


def test_weaviate_down_during_dual_write_loses_no_write(world: World) -> None:
    _succeeded(world, world.advance("dual-write"), "dual-write")  # from rollback
    written_before = world.load_summary()["writes"]
    world.weaviate_down()
    try:
        time.sleep(OUTAGE_SECONDS)
        # the app kept acknowledging writes (SQLite), the outbox holds what Weaviate missed
        assert _failed_writes(world) == 0, world.load_summary()["failure_examples"]
        assert world.load_summary()["writes"] - written_before >= RATE * OUTAGE_SECONDS * 0.5
        held = _outbox_depth(world)
        assert held > 0
    finally:
        world.weaviate_up()
    restarted = time.monotonic()
    deadline = restarted + 90
    while _outbox_depth(world) > RATE:  # caught up: what remains is the live traffic's
        assert time.monotonic() < deadline, f"the outbox still holds {_outbox_depth(world)}"
        time.sleep(0.2)
    print(f"outbox held {held} entries; drained {time.monotonic() - restarted:.1f} s after")
    dm = world.advance("validate")
    _succeeded(world, dm, "validate")
    _validated_clean(dm)
    _succeeded(world, world.advance("switch"), "switch")
    world.advance("rollback", timeout=60)
    summary, missing = world.finish_load()
    assert missing == [], missing[:10]
    assert summary["failed_writes"] == 0, summary["failure_examples"]
