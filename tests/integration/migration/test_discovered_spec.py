"""spec.discover / --all-tables --references-from-foreign-keys (issue 14, item 2) on the
database test_plan generates (names with spaces and unicode, composite keys, WITHOUT ROWID,
NUMERIC mixing integers and reals, DATETIME and DATE text, BLOBs, foreign keys with a
self-reference and dangling values, a view, an empty table, a table without a primary key):
the plan `dmctl plan` prints is the plan a discovering run uses, overrides change only what
they name, `dmctl copy` and `validate` discover it all with 0 differences, and an app
following the same discovered spec captures the same tables and its writes validate."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from prometheus_client import CollectorRegistry

from datamigration_operator.api.spec import CollectionMapping, DiscoverSpec
from datamigration_operator.cli.migrate import parse_mappings
from datamigration_operator.dualwrite.drainer import DrainSettings
from datamigration_operator.dualwrite.integration import DualWrite, collection_plans
from datamigration_operator.dualwrite.modes import ModeSource
from datamigration_operator.migration.app_engine import OUTBOX_TABLE
from datamigration_operator.migration.sink.weaviate_sink import connect
from datamigration_operator.migration.source.collection_plans import source_plans
from datamigration_operator.migration.source.sqlite_source import SqliteSource
from tests.integration.migration.conftest import DMCTL, RunningWeaviate, cli_env, parse_json_line
from tests.integration.migration.test_plan import ROWS, make_database

NAMESPACE = "apps/discovered"
DISCOVER = DiscoverSpec(tables="all", references="fromForeignKeys")
DISCOVER_FLAGS = ["--all-tables", "--references-from-foreign-keys"]
TABLES = 8  # of the 9 schema objects: the view is skipped
ROWS_IN_ALL = 7 * ROWS  # the empty table has none


def dmctl(args: list[str], weaviate: RunningWeaviate, cwd: Path) -> tuple[int, dict[str, Any]]:
    env = {**cli_env(), "DMCTL_WEAVIATE": weaviate.url, "DMCTL_GRPC_PORT": str(weaviate.grpc_port)}
    done = subprocess.run(
        [*DMCTL, *args], capture_output=True, env=env, cwd=cwd, timeout=180, check=False
    )
    return done.returncode, parse_json_line(done.stdout + done.stderr)


def test_the_plan_printed_is_the_plan_run_and_overrides_change_only_what_they_name(
    tmp_path: Path,
) -> None:
    db = tmp_path / "app.db"
    make_database(db)
    printed = subprocess.run(
        [*DMCTL, "plan", "--sqlite", str(db)], capture_output=True, env=cli_env(), check=True
    )
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_bytes(printed.stdout)
    with SqliteSource(db, snapshot=True, scratch_dir=tmp_path) as source:
        from_file = source_plans(source, parse_mappings(None, mapping_file))
        discovered = source_plans(source, [], DISCOVER)
        overridden = source_plans(
            source,
            [
                CollectionMapping.model_validate(
                    {
                        "table": "ALBUM",  # SQLite's spelling does not matter
                        "collection": "Records",
                        "properties": [
                            {"column": "note", "exclude": True},
                            {"column": "price", "name": "listPrice", "dataType": "text"},
                        ],
                    }
                )
            ],
            DISCOVER,
        )
    assert len(discovered) == TABLES
    assert discovered == from_file  # collections, keys, properties, types, references
    by_table = {p.table: p for p in discovered}
    changed = {p.table: p for p in overridden}
    assert set(changed) == set(by_table)
    album, records = by_table["album"], changed["album"]
    assert records.collection == "Records"
    # still from the foreign keys; the self-reference now targets Records
    assert {(r.column, r.target_table, r.target_collection) for r in records.references} == {
        ("artist_id", "artist", "Artist"),
        ("parent", "album", "Records"),
    }
    assert {r.column for r in album.references} == {"artist_id", "parent"}
    assert [p.column for p in records.properties] == [
        p.column for p in album.properties if p.column != "note"
    ]
    price = next(p for p in records.properties if p.column == "price")
    assert (price.name, price.data_type, price.numbers_as_text) == ("listPrice", "text", True)
    assert {p.data_type for p in album.properties if p.column in ("released", "cover")} == {
        "date",
        "blob",
    }
    # a table pointing to album now points to Records; the others are as discovered
    assert [r.target_collection for r in changed["Order Details"].references] == ["Records"]
    assert changed["artist"] == by_table["artist"]
    assert changed["商品"] == by_table["商品"]

    # dmctl plan --mapping prints the merged mapping: as a file, the plan the run derives
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text(
        "collections:\n"
        "  - {table: ALBUM, collection: Records, properties: [{column: note, exclude: true},"
        " {column: price, name: listPrice, dataType: text}]}\n"
    )
    merged = subprocess.run(
        [*DMCTL, "plan", "--sqlite", str(db), "--mapping", str(overrides)],
        capture_output=True,
        env=cli_env(),
        check=True,
    )
    merged_file = tmp_path / "merged.yaml"
    merged_file.write_bytes(merged.stdout)
    with SqliteSource(db, snapshot=False) as source:
        assert source_plans(source, parse_mappings(None, merged_file)) == overridden
    overrides.write_text("collections: [{table: albums, collection: Records}]\n")
    wrong = subprocess.run(
        [*DMCTL, "plan", "--sqlite", str(db), "--mapping", str(overrides)],
        capture_output=True,
        env=cli_env(),
        check=False,
    )
    assert wrong.returncode == 2
    assert "table albums does not exist" in wrong.stderr.decode()


def test_copy_and_validate_discover_every_table_and_reference(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    db = tmp_path / "app.db"
    make_database(db)
    common = ["--sqlite", str(db), "--namespace", NAMESPACE, "--json", *DISCOVER_FLAGS]
    code, copied = dmctl(["copy", *common, "--batch-size", "7"], weaviate, tmp_path)
    assert code == 0, copied
    assert (copied["rows"], copied["failed"]) == (ROWS_IN_ALL, 0)
    plan = yaml.safe_load(
        subprocess.run(
            [*DMCTL, "plan", "--sqlite", str(db)], capture_output=True, env=cli_env(), check=True
        ).stdout
    )
    client = weaviate.client()
    try:
        for mapping in plan["collections"]:
            config = client.collections.export_config(mapping["collection"])
            types = {p.name: p.data_type.value for p in config.properties}
            planned = {p.get("name") for p in mapping["properties"]} - {None}
            assert planned <= set(types), mapping["table"]
            assert {r.name for r in config.references} == {
                r.get("property") or r["column"] for r in mapping.get("references", [])
            }, mapping["table"]
    finally:
        client.close()
    code, checked = dmctl(["validate", *common, "--recheck-delay", "0"], weaviate, tmp_path)
    assert code == 0, checked
    assert checked["checked"] == ROWS_IN_ALL
    assert checked["missing"] + checked["extra"] + checked["mismatched"] == 0, checked


def test_an_app_following_the_discovered_spec_captures_the_same_tables(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    db = tmp_path / "app.db"
    make_database(db)
    common = ["--sqlite", str(db), "--namespace", NAMESPACE, "--json", *DISCOVER_FLAGS]
    code, copied = dmctl(["copy", *common], weaviate, tmp_path)
    assert code == 0, copied

    engine = sa.create_engine(f"sqlite:///{db}", connect_args={"timeout": 30})
    with SqliteSource(db, snapshot=False) as source:
        jobs_tables = [p.table for p in source_plans(source, [], DISCOVER)]
    dual = DualWrite(
        engine,
        [],
        ModeSource(fixed="dual_write", registry=CollectorRegistry()),
        lambda: connect(weaviate.target, None, timeout=5),
        NAMESPACE,
        registry=CollectorRegistry(),
        drain_settings=DrainSettings(base_delay=0.05, max_delay=0.5, idle_interval=0.05),
        discover=DISCOVER,
    ).start()
    try:
        assert sorted(dual.plans) == sorted(jobs_tables)
        with engine.begin() as app:
            run = app.exec_driver_sql
            run("INSERT INTO artist VALUES (900, 'new artist', '1999-12-31')")
            run(  # references artist 900 and, itself, album 1 (written earlier)
                "INSERT INTO album VALUES (900, 'new album', 900, 1, 3.5, "
                "'2024-02-29 23:59:59', x'00ff', '2020-01-01')"
            )
            run("UPDATE album SET released = '2021-01-01T00:00:00+02:00' WHERE \"AlbumId\" = 2")
            run('INSERT INTO "Order Details" VALUES (900, 900, 12, 1)')
            run('DELETE FROM "Order Details" WHERE order_id = 1')
            run("INSERT INTO empty VALUES ('first', '2024-01-01')")
            run("DELETE FROM tag WHERE album = 3")
            run("UPDATE \"商品\" SET \"名前\" = '新しい' WHERE code = 'c4'")
            run("INSERT INTO loose VALUES ('late event', x'01')")
        deadline = time.monotonic() + 60
        with engine.connect() as look:
            while look.exec_driver_sql(f'SELECT count(*) FROM "{OUTBOX_TABLE}"').scalar_one():
                assert time.monotonic() < deadline, "the outbox did not drain"
                time.sleep(0.05)
    finally:
        dual.stop()
        engine.dispose()
    # a second start finds the outbox tables and still captures only the migrated ones
    assert sorted(collection_plans(sa.create_engine(f"sqlite:///{db}"), [], DISCOVER)) == sorted(
        jobs_tables
    )
    code, checked = dmctl(["validate", *common, "--recheck-delay", "0"], weaviate, tmp_path)
    assert code == 0, checked
    assert checked["missing"] + checked["extra"] + checked["mismatched"] == 0, checked
