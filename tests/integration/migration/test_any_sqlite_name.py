"""Names SQLite accepts and Weaviate does not: copy, validate, sync and dual-write capture.

The database holds a table with a space and a composite key, a WITHOUT ROWID table whose name
holds a double quote, a table named by a keyword with keyword columns and no primary key,
a mixed-case table and one named in Chinese; columns with spaces, dashes, quotes and
accents. Everything goes through `dmctl` as a user runs it (subprocesses), and the app's
writes through the dual-write triggers and drainer.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from datamigration_operator.dualwrite.drainer import DrainSettings
from datamigration_operator.dualwrite.integration import DualWrite
from datamigration_operator.dualwrite.modes import ModeSource
from datamigration_operator.migration.app_engine import OUTBOX_TABLE
from datamigration_operator.migration.sink.weaviate_sink import connect
from tests.integration.migration.conftest import (
    DMCTL,
    RunningWeaviate,
    cli_env,
    parse_json_line,
)

NAMESPACE = "apps/odd-names"
ROWS = 60
TABLES = [
    "Order Details",  # -> OrderDetails
    'quo"te:Quoted',  # a double quote in the name; the collection named
    "select",  # a keyword
    "MixedCase",
    "商品:Goods",  # no Latin letters: the collection must be named
]
COLLECTIONS = ["OrderDetails", "Quoted", "Select", "MixedCase", "Goods"]


def make_database(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(
        """
        PRAGMA journal_mode=WAL;
        CREATE TABLE "Order Details" (
            "Order ID" INTEGER, "Product-ID" INTEGER, "unit price" NUMERIC,
            "Größe" TEXT, 'say "hi"' TEXT,
            PRIMARY KEY ("Order ID", "Product-ID"));
        CREATE TABLE "quo""te" ("k-ey" TEXT PRIMARY KEY, "select" TEXT, "from" INTEGER)
            WITHOUT ROWID;
        CREATE TABLE "select" ("order" TEXT, "group" INTEGER, "table" REAL);
        CREATE TABLE "MixedCase" ("Id" INTEGER PRIMARY KEY, "MixedCol" TEXT, "ÜberCol" TEXT);
        CREATE TABLE "商品" (id INTEGER PRIMARY KEY, "naïve name" TEXT);
        """
    )
    for n in range(ROWS):
        db.execute(
            'INSERT INTO "Order Details" VALUES (?, ?, ?, ?, ?)',
            (n // 4, n % 4, n * 1.5 if n % 2 else n, f"größe {n}", f'he said "hi" {n}'),
        )
        db.execute('INSERT INTO "quo""te" VALUES (?, ?, ?)', (f"key {n:03}", f"sel {n}", n))
        db.execute('INSERT INTO "select" VALUES (?, ?, ?)', (f"order {n}", n, n / 3))
        db.execute('INSERT INTO "MixedCase" VALUES (?, ?, ?)', (n, f"mixed {n}", f"über {n}"))
        db.execute('INSERT INTO "商品" VALUES (?, ?)', (n, f"名前 {n}"))
    db.commit()
    db.close()


def dmctl(command: str, db: Path, weaviate: RunningWeaviate, *extra: str) -> tuple[int, Any]:
    args = [command, "--sqlite", str(db), "--namespace", NAMESPACE, "--json"]
    for table in TABLES:
        args += ["--table", table]
    # the endpoint from the environment, as after `eval "$(dmctl sandbox up)"`
    env = {
        **cli_env(),
        "DMCTL_WEAVIATE": weaviate.url,
        "DMCTL_GRPC_PORT": str(weaviate.grpc_port),
    }
    done = subprocess.run(
        [*DMCTL, *args, *extra],
        capture_output=True,
        env=env,
        cwd=db.parent,  # validate's report lands beside the database
        timeout=180,
        check=False,
    )
    return done.returncode, parse_json_line(done.stdout + done.stderr)


def _differences(result: dict[str, Any]) -> int:
    return int(result["missing"] + result["extra"] + result["mismatched"])


def test_copy_validate_and_sync_with_names_weaviate_does_not_accept(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    db = tmp_path / "odd.db"
    make_database(db)
    code, copied = dmctl("copy", db, weaviate, "--batch-size", "7")  # many keyset pages
    assert code == 0, copied
    assert (copied["rows"], copied["written"], copied["failed"]) == (5 * ROWS, 5 * ROWS, 0)
    assert weaviate.counts(COLLECTIONS) == dict.fromkeys(COLLECTIONS, ROWS)
    client = weaviate.client()
    try:
        config = client.collections.export_config("OrderDetails")
    finally:
        client.close()
    assert [p.name for p in config.properties] == [
        "orderID",
        "productID",
        "unitPrice",
        "grosse",
        "sayHi",
    ]

    code, checked = dmctl("validate", db, weaviate, "--recheck-delay", "0")
    assert code == 0, checked
    assert (checked["checked"], _differences(checked)) == (5 * ROWS, 0)

    live = sqlite3.connect(db)
    live.execute('UPDATE "Order Details" SET "unit price" = 99 WHERE "Order ID" = 1')
    live.execute('DELETE FROM "quo""te" WHERE "k-ey" = \'key 005\'')
    live.execute("INSERT INTO \"select\" VALUES ('late', 1, 2)")
    live.execute('UPDATE "商品" SET "naïve name" = \'changed\' WHERE id = 3')
    live.commit()
    live.close()
    code, found = dmctl("validate", db, weaviate, "--recheck-delay", "0")
    assert code == 3, found
    assert (found["missing"], found["extra"], found["mismatched"]) == (1, 1, 5), found

    code, synced = dmctl("sync", db, weaviate)
    assert code == 0, synced
    code, checked = dmctl("validate", db, weaviate, "--recheck-delay", "0")
    assert (code, _differences(checked)) == (0, 0), checked


def test_dual_write_captures_and_drains_tables_with_odd_names(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    db = tmp_path / "odd.db"
    make_database(db)
    code, copied = dmctl("copy", db, weaviate)
    assert code == 0, copied

    from datamigration_operator.cli.migrate import parse_mappings

    engine = sa.create_engine(f"sqlite:///{db}", connect_args={"timeout": 30})
    dual = DualWrite(
        engine,
        parse_mappings(TABLES, None),
        ModeSource(fixed="dual_write", registry=CollectorRegistry()),
        lambda: connect(weaviate.target, None, timeout=5),
        NAMESPACE,
        registry=CollectorRegistry(),
        drain_settings=DrainSettings(base_delay=0.05, max_delay=0.5, idle_interval=0.05),
    ).start()
    try:
        with engine.begin() as app:
            run = app.exec_driver_sql
            run("INSERT INTO \"Order Details\" VALUES (500, 1, 2.5, 'neu', '\"x\"')")
            key_change = 'SET "Product-ID" = 9 WHERE ("Order ID", "Product-ID") = (0, 0)'
            run(f'UPDATE "Order Details" {key_change}')
            run('DELETE FROM "Order Details" WHERE "Order ID" = 2')
            run('INSERT INTO "quo""te" VALUES (\'new "key"\', \'s\', 1)')
            run('UPDATE "quo""te" SET "select" = \'edited\' WHERE "k-ey" = \'key 001\'')
            run('DELETE FROM "quo""te" WHERE "k-ey" = \'key 002\'')
            run("INSERT INTO \"select\" VALUES ('new', 7, 0.5)")
            run('UPDATE "select" SET "group" = -1 WHERE "order" = \'order 3\'')
            run('DELETE FROM "select" WHERE "order" = \'order 4\'')
            run('UPDATE "MixedCase" SET "ÜberCol" = \'neu\' WHERE "Id" = 1')
            run("INSERT INTO \"商品\" VALUES (1000, '新')")
            run('DELETE FROM "商品" WHERE id = 5')
        deadline = time.monotonic() + 60
        with engine.connect() as look:
            while look.exec_driver_sql(f'SELECT count(*) FROM "{OUTBOX_TABLE}"').scalar_one():
                assert time.monotonic() < deadline, "the outbox did not drain"
                time.sleep(0.05)
            captured = look.exec_driver_sql("SELECT seq FROM sqlite_sequence").scalar_one()
        assert captured >= 12  # every statement went through the outbox
    finally:
        dual.stop()
        engine.dispose()
    code, checked = dmctl("validate", db, weaviate, "--recheck-delay", "0")
    assert (code, _differences(checked)) == (0, 0), checked
    assert checked["checked"] == 5 * ROWS + 1 - 4, checked  # +1 order, -4 of order 2


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("Order_Details", "table Order_Details does not exist in the SQLite database"),
        ("日本", 'name the collection: --table "日本:Name"'),
    ],
)
def test_a_table_that_is_not_there_or_has_no_name_is_a_usage_error(
    tmp_path: Path, weaviate: RunningWeaviate, table: str, message: str
) -> None:
    db = tmp_path / "odd.db"
    make_database(db)
    env = {**cli_env(), "DMCTL_WEAVIATE": weaviate.url, "DMCTL_GRPC_PORT": str(weaviate.grpc_port)}
    done = subprocess.run(
        [*DMCTL, "copy", "--sqlite", str(db), "--table", table],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
