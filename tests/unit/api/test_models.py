"""The spec models accept what users write and reject what the CRD rejects."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from datamigration_operator.api.durations import parse_duration
from datamigration_operator.api.names import read_percent_key
from datamigration_operator.api.resource import DataMigration
from datamigration_operator.api.spec import AppSpec, DataMigrationSpec
from tests.unit.reconcile.scenario import manifest, spec_dict


def test_a_minimal_manifest_parses_with_documented_defaults() -> None:
    dm = DataMigration.from_object(manifest())
    spec = dm.spec
    assert spec.phase == "migrate"
    assert spec.app.key == "migration_mode"
    assert spec.validation.max_age == "1h"
    assert spec.validation.max_mismatches == 0
    assert spec.source.snapshot is True
    assert spec.collections[0].id_column == "id"
    assert spec.job_template.resources.limits.memory == "512Mi"
    assert dm.status.state is None


def test_json_round_trip_uses_camel_case() -> None:
    dumped = DataMigration.from_object(manifest()).model_dump(mode="json", by_alias=True)
    assert dumped["spec"]["app"]["configMapRef"] == {"name": "shop-config"}
    assert "apiKeySecretRef" in dumped["spec"]["target"]
    assert dumped["spec"]["collections"][1]["references"][0]["targetTable"] == "customers"
    assert DataMigration.model_validate(dumped).spec == DataMigration.from_object(manifest()).spec


def test_status_with_timestamps_from_the_api_server_parses() -> None:
    obj = manifest()
    obj["status"] = {
        "state": "Running",
        "conditions": [
            {
                "type": "Migrated",
                "status": "True",
                "reason": "JobSucceeded",
                "lastTransitionTime": "2026-11-26T10:00:00Z",
            }
        ],
        "progress": {"percent": 40, "rowsPerSecond": 1200, "checkpoint": {"lastKey": 9}},
    }
    status = DataMigration.from_object(obj).status
    assert status.conditions[0].last_transition_time.tzinfo is not None
    assert status.progress is not None
    assert status.progress.rows_per_second == 1200.0


def _with(path: str, value: Any) -> dict[str, Any]:
    spec = copy.deepcopy(spec_dict())
    *parents, leaf = path.split(".")
    node: Any = spec
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[leaf] = value
    return spec


BAD_SPECS = {
    "phase not in the enum": _with("phase", "finish"),
    "batchSize as a string": _with("batchSize", "500"),
    "ConfigMap name not a DNS subdomain": _with("app.configMapRef.name", "Shop_Config"),
    "claim name too long": _with("source.claimName", "a" * 254),
    "absolute source path": _with("source.path", "/etc/passwd"),
    "source path escaping the claim": _with("source.path", "db/../../x"),
    "collection not capitalized": _with("collections.0.collection", "customer"),
    "table with a quote": _with("collections.0.table", 'x"; drop'),
    "port out of range": _with("target.grpc.port", 70000),
    "unknown field": _with("source.sqlitePath", "x"),
    "workload kind": _with("app.workloads", [{"kind": "DaemonSet", "name": "x"}]),
    "too many workloads": _with(
        "app.workloads", [{"kind": "Deployment", "name": f"w{i}"} for i in range(17)]
    ),
    "no collections": _with("collections", []),
    "too many collections": _with(
        "collections", [{"table": f"t{i}", "collection": f"C{i}"} for i in range(33)]
    ),
    "duplicate table": _with(
        "collections", [{"table": "t", "collection": "A"}, {"table": "t", "collection": "B"}]
    ),
    "duplicate collection": _with(
        "collections", [{"table": "a", "collection": "A"}, {"table": "b", "collection": "A"}]
    ),
    "reference to an unmapped table": _with(
        "collections.1.references", [{"column": "x", "targetTable": "ghosts"}]
    ),
    "vector column is the id": _with("collections.1.vectorColumn", "id"),
    "maxAge not a duration": _with("validation", {"maxAge": "an hour"}),
    "negative rerun": _with("rerun", -1),
    "bad quantity": _with("jobTemplate", {"resources": {"limits": {"memory": "lots"}}}),
}


@pytest.mark.parametrize("spec", BAD_SPECS.values(), ids=BAD_SPECS.keys())
def test_invalid_specs_are_rejected(spec: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        DataMigrationSpec.model_validate(spec)


def test_quantities_may_be_numbers() -> None:
    spec = DataMigrationSpec.model_validate(
        _with("jobTemplate", {"resources": {"requests": {"cpu": 1, "memory": "1Gi"}}})
    )
    assert spec.job_template.resources.requests.cpu == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", timedelta(hours=1)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(minutes=90)),
        ("250ms", timedelta(milliseconds=250)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_bad_duration() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("1d")


def test_backup_defaults_keep_three_on_the_source_claim() -> None:
    backup = DataMigrationSpec.model_validate(spec_dict()).backup
    assert (backup.enabled, backup.claim_name, backup.path, backup.retain) == (True, None, None, 3)


@pytest.mark.parametrize("path", [".datamigration/backups/shop", "backups", "a/.b/c_d-1.x"])
def test_backup_paths_may_use_hidden_folders(path: str) -> None:
    spec = DataMigrationSpec.model_validate(spec_dict(backup={"path": path}))
    assert spec.backup.path == path


@pytest.mark.parametrize(
    "bad", [{"path": "../up"}, {"path": "a/../b"}, {"path": "/abs"}, {"path": "."}, {"retain": 0}]
)
def test_backup_outside_its_claim_or_keeping_nothing_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        DataMigrationSpec.model_validate(spec_dict(backup=bad))


def test_the_mode_key_leaves_room_for_its_read_percent_twin() -> None:
    longest = "k" * 240
    spec = AppSpec.model_validate({"configMapRef": {"name": "app"}, "key": longest})
    assert len(read_percent_key(spec.key)) == 253  # a ConfigMap key's limit
    with pytest.raises(ValidationError, match="at most 240 characters"):
        AppSpec.model_validate({"configMapRef": {"name": "app"}, "key": longest + "k"})
