"""End to end on the sandbox with the real Jobs: a DataMigration that lists no table
(spec.discover: all tables, references from foreign keys; one override) walks migrate ->
dual-write -> validate on a database holding each real-world case (test_plan's generator),
its Jobs discovering against their snapshot what `dmctl plan` prints, and validates with 0
differences; the recreate of a later rerun drops once and the walk still validates."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
import yaml

from tests.integration.end_to_end.conftest import (
    connect_weaviate,
    custom_objects,
    data_migration,
    migration_world,
    read_migration,
)
from tests.integration.migration.conftest import DMCTL, cli_env
from tests.integration.migration.test_plan import ROWS, make_database
from tests.integration.operator.conftest import (
    CLAIM,
    GROUP,
    PLURAL,
    VERSION,
    wait_for,
)

NAMESPACE, NAME = "shop", "discovered"
DATABASE = "real.db"
ROWS_IN_ALL = 7 * ROWS  # 8 tables, the empty one has none


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with migration_world(tmp_path_factory.mktemp("discovered"), NAMESPACE, 10) as built:
        path = built["plane"].runner.claim_dir(NAMESPACE, CLAIM) / DATABASE
        make_database(path)
        built["path"] = path
        yield built


def _patch_and_wait(world: dict[str, Any], spec: dict[str, Any], phase: str) -> dict[str, Any]:
    custom_objects(world).patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, NAME, {"spec": spec}
    )

    def done() -> dict[str, Any] | None:
        dm = read_migration(world, NAMESPACE, NAME)
        status = dm.get("status") or {}
        if status.get("observedGeneration") != dm["metadata"]["generation"]:
            return None
        if status.get("state") == "Failed":
            pytest.fail(f"{phase} failed: {status.get('message')}")
        return dm if status.get("phase") == phase and status.get("state") == "Succeeded" else None

    return wait_for(done, f"{phase} to succeed", 180)


def _schema(world: dict[str, Any]) -> dict[str, tuple[dict[str, str], set[str]]]:
    with connect_weaviate(world) as client:
        found = {}
        for name in client.collections.list_all(simple=False):
            config = client.collections.export_config(name)
            found[name] = (
                {p.name: p.data_type.value for p in config.properties},
                {r.name for r in config.references},
            )
        return found


def test_a_spec_listing_no_table_migrates_what_dmctl_plan_prints(world: dict[str, Any]) -> None:
    printed = subprocess.run(
        [*DMCTL, "plan", "--sqlite", str(world["path"])],
        capture_output=True,
        env=cli_env(),
        check=True,
    )
    plan = {m["table"]: m for m in yaml.safe_load(printed.stdout)["collections"]}
    body = data_migration(
        world["ports"],
        NAME,
        path=DATABASE,
        discover={"tables": "all", "references": "fromForeignKeys"},
        # one override: the table with no Latin letters gets a readable collection
        collections=[{"table": "商品", "collection": "Goods"}],
    )
    custom_objects(world).create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)
    dm = _patch_and_wait(world, {}, "migrate")
    progress = dm["status"]["progress"]
    # the self-referencing table is written twice (its references in a second pass)
    assert progress["rowsDone"] == progress["rowsTotal"] == ROWS_IN_ALL + ROWS

    schema = _schema(world)
    expected = {m["collection"] for t, m in plan.items() if t != "商品"} | {"Goods"}
    assert set(schema) == expected
    for table, mapping in plan.items():
        properties, references = schema["Goods" if table == "商品" else mapping["collection"]]
        # every property the plan printed, with its type, and the references it proposed
        for prop in mapping["properties"]:
            if prop.get("name"):
                assert properties[prop["name"]] == prop["dataType"], (table, prop)
        assert references == {
            r.get("property") or r["column"] for r in mapping.get("references", [])
        }, table
    assert schema["Album"][1] == {"artist_id", "parent"}  # a self-reference included

    _patch_and_wait(world, {"phase": "dual-write"}, "dual-write")
    dm = _patch_and_wait(world, {"phase": "validate"}, "validate")
    report = dm["status"]["validation"]
    assert report["passed"] is True
    assert report["checked"] == ROWS_IN_ALL
    assert (report["missing"], report["extra"], report["mismatched"]) == (0, 0, 0)


def test_a_rerun_with_recreate_drops_once_and_copies_again(world: dict[str, Any]) -> None:
    before = {name: len(props) for name, (props, _) in _schema(world).items()}
    _patch_and_wait(world, {"phase": "rollback"}, "rollback")
    # back to migrate for a new copy whose rerun drops what the first copy wrote
    dm = _patch_and_wait(world, {"phase": "migrate", "rerun": 1, "recreateOnRerun": 1}, "migrate")
    recreated = dm["status"]["recreated"]
    assert (recreated["rerun"], recreated["state"]) == (1, "Dropped")
    assert {c["name"] for c in recreated["collections"]} == set(before)
    assert sum(c["objects"] for c in recreated["collections"]) == ROWS_IN_ALL
    progress = dm["status"]["progress"]
    assert progress["rowsDone"] == progress["rowsTotal"] == ROWS_IN_ALL + ROWS  # from row 0
    assert {name: len(props) for name, (props, _) in _schema(world).items()} == before
    _patch_and_wait(world, {"phase": "dual-write"}, "dual-write")
    report = _patch_and_wait(world, {"phase": "validate"}, "validate")["status"]["validation"]
    assert (report["passed"], report["checked"]) == (True, ROWS_IN_ALL)
    # the API server refuses a recreate once the app may write to the collections
    with pytest.raises(kubernetes.client.ApiException, match="recreateOnRerun can be set"):
        custom_objects(world).patch_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, NAME, {"spec": {"rerun": 2, "recreateOnRerun": 2}}
        )
