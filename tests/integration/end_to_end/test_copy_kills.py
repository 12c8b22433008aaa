"""The operator's copy Job killed 5 times at random points: each retry resumes from the
checkpoint in status.progress, nothing is lost or duplicated, validation finds 0 differences."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datamigration_operator.reconcile.job_names import job_name
from tests.integration.end_to_end.conftest import custom_objects, data_migration, migration_world
from tests.integration.operator.conftest import (
    GROUP,
    PLURAL,
    VERSION,
    wait_for,
)

NAMESPACE, NAME, ROWS = "chat", "killed-copy", 3_000
KILLS, BATCH, CONCURRENCY, RATE = 5, 100, 2, 1_500


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with migration_world(tmp_path, NAMESPACE, ROWS) as built:
        yield built


def _status(world: dict[str, Any]) -> dict[str, Any]:
    dm = custom_objects(world).get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, NAME)
    status: dict[str, Any] = dm.get("status") or {}
    if status.get("state") == "Failed":
        pytest.fail(f"failed: {status.get('message')}\n{world['operator'].log()[-3000:]}")
    return status


def _create(world: dict[str, Any], phase: str) -> None:
    body = data_migration(
        world["ports"],
        NAME,
        phase=phase,
        jobTemplate={
            "batchSize": BATCH,
            "concurrency": CONCURRENCY,
            "objectsPerSecond": RATE,
            "backoffLimit": KILLS + 2,
        },
        validation={"recheckDelay": "0s"},
    )
    custom_objects(world).create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)


def _checkpoint(status: dict[str, Any]) -> tuple[int, Any] | None:
    progress = status.get("progress") or {}
    checkpoint = progress.get("checkpoint")
    if not checkpoint or progress.get("rowsDone") is None:
        return None
    return progress["rowsDone"], checkpoint


def test_five_kills_resume_from_the_checkpoint_and_lose_nothing(world: dict[str, Any]) -> None:
    plane, stats = world["plane"], world["plane"].weaviate.database.stats
    job = job_name(NAME, "migrate", 1, 0)
    _create(world, "migrate")
    rng = random.Random(7)
    kills: list[int] = []  # objects written when each kill landed
    seen: Any = None
    for _ in range(KILLS):
        # a new checkpoint in status since the last kill: the retry made progress; then a
        # random point after it
        def advanced(last: Any = seen) -> tuple[int, Any] | None:
            found = _checkpoint(_status(world))
            return found if found is not None and found[1] != last else None

        _, seen = wait_for(advanced, "a new checkpoint", timeout=120)
        time.sleep(rng.uniform(0, 0.5))
        before = stats.objects_written
        assert plane.runner.kill(NAMESPACE, job), "the copy Job's pod was not running"
        kills.append(before)

    def succeeded() -> dict[str, Any] | None:
        status = _status(world)
        return status if status.get("state") == "Succeeded" else None

    status = wait_for(succeeded, "the copy to succeed after the kills", timeout=180)
    total = world["rows"]
    assert status["progress"]["rowsDone"] == total
    database = plane.weaviate.database
    counts = sum(
        len(database.get(name).objects) for name in ("Conversation", "Message", "Document")
    )
    assert counts == total  # deterministic ids: a row sent twice is overwritten, not duplicated
    assert kills[-1] < total  # every kill hit a copy in progress
    # resumed, not restarted: each retry sent again at most 2 batches
    assert total <= stats.objects_written <= total + KILLS * 2 * BATCH

    custom_objects(world).patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, NAME, {"spec": {"phase": "dual-write"}}
    )
    wait_for(
        lambda: (
            (s := _status(world)).get("phase") == "dual-write" and s.get("state") == "Succeeded"
        ),
        "dual-write",
        timeout=60,
    )
    custom_objects(world).patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, NAME, {"spec": {"phase": "validate"}}
    )

    def validated() -> dict[str, Any] | None:
        s = _status(world)
        ok = s.get("phase") == "validate" and s.get("state") == "Succeeded"
        return s if ok else None

    report = wait_for(validated, "validation", timeout=120)["validation"]
    assert report["checked"] == total
    assert (report["missing"], report["extra"], report["mismatched"]) == (0, 0, 0)
