"""Whole walks under live traffic, as users run them: the chat app (rolled by the operator at
every mode change) takes about 100 writes/s while a DataMigration goes migrate -> dual-write ->
validate -> switch -> rollback. Every validation must find 0 differences and no write the app
acknowledged may be lost; with faults (an app pod SIGKILLed, Weaviate down during validate)
the walk still ends clean.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datamigration_sandbox.walk import World

# requests/s; the load generator's mix makes 82 % of them writes: about 100 writes/s
RATE = 122.0
MIN_WRITES_PER_SECOND = 90.0


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path, rate=RATE) as running:
        yield running


def _status(dm: dict[str, Any]) -> dict[str, Any]:
    status: dict[str, Any] = dm.get("status") or {}
    return status


def _succeeded(dm: dict[str, Any], phase: str) -> None:
    status = _status(dm)
    assert status.get("state") == "Succeeded", f"{phase}: {status.get('message')}"


def _validated_clean(dm: dict[str, Any]) -> None:
    validation = _status(dm)["validation"]
    counts = {k: validation[k] for k in ("missing", "extra", "mismatched")}
    assert counts == {"missing": 0, "extra": 0, "mismatched": 0}, validation.get("samples")
    assert validation["passed"] is True
    assert validation["checked"] > 5_000


def _forward(world: World, first: bool) -> None:
    dm = world.settle("migrate") if first else world.advance("migrate")
    _succeeded(dm, "migrate")
    _succeeded(world.advance("dual-write"), "dual-write")
    dm = world.advance("validate")
    _succeeded(dm, "validate")
    _validated_clean(dm)
    _succeeded(world.advance("switch"), "switch")


def _rollback(world: World) -> None:
    dm = world.advance("rollback", timeout=60)
    assert _status(dm)["mode"]["applied"] == "sqlite_only"


def _no_write_lost(world: World, *, failures_allowed: int = 0) -> dict[str, Any]:
    summary, missing = world.finish_load()
    assert missing == [], missing[:10]
    assert summary["failed_writes"] <= failures_allowed, summary["failure_examples"]
    rate = summary["writes"] / summary["seconds"]
    assert rate >= MIN_WRITES_PER_SECOND, f"the load held only {rate:.0f} writes/s"
    return summary


def test_five_walks_in_a_row_validate_clean_and_lose_no_write(world: World) -> None:
    for walk in range(5):
        _forward(world, first=walk == 0)
        _rollback(world)
    summary = _no_write_lost(world)
    print(f"5 walks: {summary['writes']} writes in {summary['seconds']} s, 0 failed, 0 lost")


def test_an_app_pod_killed_during_dual_write_loses_nothing(tmp_path: Path) -> None:
    # two pods serving the manifest's 5 s after SIGTERM: the longest windows in which pods of
    # two modes serve side by side at every mode change
    with World(tmp_path, rate=RATE, replicas=2, shutdown_delay=None) as world:
        _walk_with_a_pod_killed(world)


def _walk_with_a_pod_killed(world: World) -> None:
    _succeeded(world.settle("migrate"), "migrate")
    world.patch_spec({"phase": "dual-write"})
    # kill the pod while the app writes both stores and the sync Job runs
    deadline = time.monotonic() + 60
    while _status(world.migration()).get("mode", {}).get("configMap") != "dual_write":
        assert time.monotonic() < deadline, "dual_write was never written"
        time.sleep(0.1)
    time.sleep(1.0)
    holder = world.drain_lease_holder()
    killed = world.kill_app_pod()
    assert killed == holder, "the pod that drains the outbox is the one to kill"
    _succeeded(world.settle("dual-write"), "dual-write")
    dm = world.advance("validate")
    _succeeded(dm, "validate")
    _validated_clean(dm)
    _succeeded(world.advance("switch"), "switch")
    _rollback(world)
    # the requests the killed pod had in flight fail (connection reset); none acknowledged is lost
    summary = _no_write_lost(world, failures_allowed=RATE)
    print(f"killed pod {killed}: {summary['failed_writes']} writes in flight failed, 0 lost")


def test_weaviate_down_for_30_s_during_validate_ends_clean(world: World) -> None:
    _succeeded(world.settle("migrate"), "migrate")
    _succeeded(world.advance("dual-write"), "dual-write")
    world.patch_spec({"phase": "validate"})
    time.sleep(0.5)
    world.weaviate_down()
    time.sleep(30)
    world.weaviate_up()
    # the validate Job waits Weaviate out (the copy reached it: an outage, not a wrong
    # endpoint), then waits for the app's outbox, which grew meanwhile, to drain
    dm = world.settle("validate", timeout=300)
    _succeeded(dm, "validate")
    _validated_clean(dm)
    _succeeded(world.advance("switch"), "switch")
    _rollback(world)
    summary = _no_write_lost(world)
    print(f"Weaviate down 30 s during validate: {summary['writes']} writes, 0 failed, 0 lost")
