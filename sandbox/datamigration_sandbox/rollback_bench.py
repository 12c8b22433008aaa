"""Rollback with a real app on the sandbox: how long until the ConfigMap says sqlite_only, and
how long until every app pod runs it (the operator stamps the mode into the Deployment's pod
template and acknowledges once the rollout completed).

Both times come from status.mode (changedAt, appliedAt, written by the operator) against the
moment just before the rollback patch, on one machine's clock. The chat app runs under light
load and rolls at every mode change, as in the demo.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from datamigration_operator.api.status import ModeStatus
from datamigration_sandbox.operator_bench import summary, target
from datamigration_sandbox.walk import World

TARGET_P99_MS: Final = 2000.0
LOAD_RATE: Final = 20.0


def run_rollback_benchmark(rollbacks: int, work_dir: Path | None) -> dict[str, Any]:
    with ExitStack() as stack:
        if work_dir is None:
            work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dm-rb-")))
        # the app pods serve the manifest's 5 s after SIGTERM, as in a cluster: "every pod"
        # counts once the old pod is gone, so this is what a user's rollback waits for
        world = stack.enter_context(World(work_dir, rate=LOAD_RATE, rows=500, shutdown_delay=None))
        world.settle("migrate")
        config_map_ms: list[float] = []
        acknowledged_ms: list[float] = []
        for _ in range(rollbacks):
            world.advance("dual-write")
            patched = datetime.now(UTC)
            dm = world.advance("rollback", timeout=60)
            mode = ModeStatus.model_validate(dm["status"]["mode"])
            if mode.changed_at is None or mode.applied_at is None:
                raise RuntimeError(f"status.mode has no rollback times: {mode}")
            config_map_ms.append((mode.changed_at - patched).total_seconds() * 1000)
            acknowledged_ms.append((mode.applied_at - patched).total_seconds() * 1000)
        load, missing = world.finish_load()
    to_config_map, to_ack = summary(config_map_ms), summary(acknowledged_ms)
    return {
        "rollbacks": rollbacks,
        "rollback_to_configmap": to_config_map,
        "rollback_to_every_pod": to_ack,
        "app_load": {"writes": load["writes"], "failed": load["failed"], "lost": len(missing)},
        "targets": {
            "rollback_configmap_p99_ms": target(to_config_map["p99_ms"], TARGET_P99_MS),
            "rollback_every_pod_p99_ms": target(to_ack["p99_ms"], TARGET_P99_MS),
        },
    }
