"""End to end on the sandbox: the operator's real copy Job keeps its snapshot as a backup on the
app's claim before it migrates; status.backup names the file, whose checksum matches, and with
retain 1 two reruns leave exactly the newest backup."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.end_to_end.conftest import (
    custom_objects,
    data_migration,
    migration_world,
    read_migration,
)
from tests.integration.operator.conftest import (
    CLAIM,
    GROUP,
    PLURAL,
    VERSION,
    wait_for,
)

NAMESPACE, NAME, ROWS = "chat", "chat-backup", 600


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with migration_world(tmp_path_factory.mktemp("backup"), NAMESPACE, ROWS) as built:
        yield built


def _copied(world: dict[str, Any], after_job: str | None) -> dict[str, Any]:
    """The DataMigration once a copy Job other than `after_job` succeeded for its generation."""

    def done() -> dict[str, Any] | None:
        dm = read_migration(world, NAMESPACE, NAME)
        status = dm.get("status") or {}
        if status.get("observedGeneration") != dm["metadata"]["generation"]:
            return None
        if status.get("state") == "Failed":
            pytest.fail(
                f"migrate failed: {status.get('message')}\n{world['operator'].log()[-3000:]}"
            )
        jobs = status.get("jobs") or []
        fresh = jobs and jobs[-1]["name"] != after_job and jobs[-1]["state"] == "Succeeded"
        return dm if fresh and status.get("state") == "Succeeded" else None

    return wait_for(done, "the copy Job to succeed", 120)


def _folder(world: dict[str, Any]) -> Path:
    claim: Path = world["plane"].runner.claim_dir(NAMESPACE, CLAIM)
    return claim / ".datamigration" / "backups" / NAME


def test_the_migrate_phase_leaves_a_verified_backup_and_reruns_keep_only_the_newest(
    world: dict[str, Any],
) -> None:
    body = data_migration(world["ports"], NAME, backup={"retain": 1})
    custom_objects(world).create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)
    dm = _copied(world, None)
    backup = dm["status"]["backup"]
    job = dm["status"]["jobs"][-1]["name"]
    claim_dir: Path = world["plane"].runner.claim_dir(NAMESPACE, CLAIM)
    file = claim_dir / backup["path"]
    assert backup["claim"] == CLAIM
    assert backup["job"] == job
    assert file.parent == _folder(world)
    assert file.name.startswith(f"{job}-")
    assert hashlib.sha256(file.read_bytes()).hexdigest() == backup["sha256"]
    assert file.stat().st_size == backup["sizeBytes"]
    assert {t["table"]: t["rows"] for t in backup["tables"]} == world["counts"]
    assert backup["retained"] == [file.name]
    assert f"SQLite backup {CLAIM}:{backup['path']}" in dm["status"]["message"]
    # the app's database is untouched beside it
    assert (claim_dir / "app.db").is_file()

    newest = file
    for rerun in (1, 2):
        custom_objects(world).patch_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, NAME, {"spec": {"rerun": rerun}}
        )
        dm = _copied(world, job)
        job = dm["status"]["jobs"][-1]["name"]
        backup = dm["status"]["backup"]
        newest = claim_dir / backup["path"]
        assert backup["job"] == job
        assert hashlib.sha256(newest.read_bytes()).hexdigest() == backup["sha256"]
    # retain 1: exactly the newest backup and its manifest are left
    assert sorted(p.name for p in _folder(world).iterdir()) == [newest.name, newest.name + ".json"]
    assert dm["status"]["backup"]["retained"] == [newest.name]
