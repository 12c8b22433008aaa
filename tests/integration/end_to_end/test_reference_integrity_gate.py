"""The switch gate and reference integrity, end to end on the sandbox: the operator a real
process, its Jobs this checkout's `dmctl job ...`. After dual-write, the object of an author a
book references is deleted from Weaviate and the author's row from SQLite: every row still
equals its object, but the book's reference dangles. Validation fails on it (Validated=False,
ValidationMismatch) and says which object; switch stays Blocked and changes nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest

from tests.integration.end_to_end.conftest import (
    connect_weaviate,
    custom_objects,
    data_migration,
    operator_sandbox,
    read_migration,
)
from tests.integration.migration.reference_integrity_case import (
    COLLECTIONS,
    DANGLING_BOOK,
    GONE_AUTHOR,
    make_library,
    uuid_of,
)
from tests.integration.migration.reference_integrity_case import (
    NAMESPACE as ID_NAMESPACE,
)
from tests.integration.operator.conftest import (
    CLAIM,
    CONFIG_MAP,
    GROUP,
    PLURAL,
    VERSION,
    prepare_namespace,
    wait_for,
)

# the DataMigration apps/library: its object ids are those of the case's id namespace
NAMESPACE, NAME = "apps", "library"


assert f"{NAMESPACE}/{NAME}" == ID_NAMESPACE


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with operator_sandbox(tmp_path_factory.mktemp("refcheck")) as sandbox:
        prepare_namespace(sandbox.api, NAMESPACE, config_map_data={"migration_mode": "sqlite_only"})
        database = sandbox.plane.runner.claim_dir(NAMESPACE, CLAIM) / "app.db"
        make_library(database)
        yield {
            "api": sandbox.api,
            "database": database,
            "ports": sandbox.ports,
            "operator": sandbox.operator,
        }


def _phase(world: dict[str, Any], phase: str, *states: str) -> dict[str, Any]:
    """Patches spec.phase and waits until its status is in one of `states`."""
    custom_objects(world).patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, NAME, {"spec": {"phase": phase}}
    )

    def reached() -> dict[str, Any] | None:
        dm = read_migration(world, NAMESPACE, NAME)
        status = dm.get("status") or {}
        if status.get("observedGeneration") != dm["metadata"]["generation"]:
            return None
        return dm if status.get("phase") == phase and status.get("state") in states else None

    try:
        return wait_for(reached, f"{phase} to be {'/'.join(states)}", 120)
    except AssertionError as error:
        status = read_migration(world, NAMESPACE, NAME).get("status")
        log = world["operator"].log()[-4000:]
        raise AssertionError(f"{error}\nstatus: {status}\noperator log:\n{log}") from None


def _dangle_a_reference(world: dict[str, Any]) -> None:
    with connect_weaviate(world) as client:
        client.collections.get("Author").data.delete_by_id(uuid_of("authors", GONE_AUTHOR))
    with sqlite3.connect(world["database"]) as db:  # foreign keys are not enforced
        db.execute("DELETE FROM authors WHERE id = ?", (GONE_AUTHOR,))


def _config_map_mode(world: dict[str, Any]) -> str:
    core = kubernetes.client.CoreV1Api(world["api"])
    return str(core.read_namespaced_config_map(CONFIG_MAP, NAMESPACE).data["migration_mode"])


def test_a_dangling_reference_fails_validation_and_keeps_switch_closed(
    world: dict[str, Any],
) -> None:
    collections = [c.model_dump(by_alias=True, exclude_none=True) for c in COLLECTIONS]
    body = data_migration(world["ports"], NAME, collections=collections)
    custom_objects(world).create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)
    _phase(world, "migrate", "Succeeded")
    _phase(world, "dual-write", "Succeeded")
    _dangle_a_reference(world)

    dm = _phase(world, "validate", "Failed")
    report = dm["status"]["validation"]
    assert (report["missing"], report["extra"], report["mismatched"]) == (0, 0, 0)
    assert (report["danglingReferences"], report["wrongReferences"]) == (1, 0)
    assert report["passed"] is False
    (sample,) = report["samples"]
    assert (sample["table"], sample["key"], sample["problem"]) == (
        "books",
        f'["{DANGLING_BOOK}"]',
        "danglingReference",
    )
    assert str(uuid_of("authors", GONE_AUTHOR)) in sample["detail"]
    validated = {c["type"]: c for c in dm["status"]["conditions"]}["Validated"]
    assert (validated["status"], validated["reason"]) == ("False", "ValidationMismatch")
    assert "1 dangling references" in validated["message"]

    # the switch gate's reason for any validation that did not pass; its message says why
    dm = _phase(world, "switch", "Blocked")
    conditions = {c["type"]: c for c in dm["status"]["conditions"]}
    ready = conditions["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "ValidationRequired")
    assert "1 dangling references, 0 wrong references" in ready["message"]
    assert conditions["Validated"]["reason"] == "ValidationMismatch"
    assert conditions["ReadsSwitched"]["status"] == "False"
    assert _config_map_mode(world) == "dual_write"
