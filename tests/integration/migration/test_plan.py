"""`dmctl plan` on a generated database holding each case discovery must handle; its YAML is a
valid spec.collections, and `dmctl copy --mapping` then `validate --mapping` find 0 differences.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import yaml

from datamigration_operator.api.spec import DataMigrationSpec
from datamigration_operator.cli.migrate import parse_mappings
from tests.integration.migration.conftest import DMCTL, RunningWeaviate, cli_env, parse_json_line
from tests.unit.reconcile.scenario import spec_dict

ROWS = 40
NAMESPACE = "apps/plan"


def make_database(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE artist (id INTEGER PRIMARY KEY, name TEXT NOT NULL, born DATE);
        CREATE TABLE album (
            "AlbumId" INTEGER PRIMARY KEY, title TEXT,
            artist_id INTEGER REFERENCES artist(id),
            parent INTEGER REFERENCES album,           -- a self-reference
            price NUMERIC, released DATETIME, cover BLOB, note DATETIME);
        CREATE TABLE "Order Details" (
            order_id INTEGER, album_id INTEGER REFERENCES album("AlbumId"),
            "unit price" NUMERIC, qty INTEGER,
            PRIMARY KEY (order_id, album_id)) WITHOUT ROWID;
        CREATE TABLE tag (album INTEGER, tag TEXT, PRIMARY KEY (album, tag)) WITHOUT ROWID;
        CREATE TABLE empty (x TEXT, at DATETIME);
        CREATE TABLE loose (event TEXT, payload BLOB);       -- no primary key: the rowid
        CREATE TABLE orphans (id INTEGER PRIMARY KEY, artist INTEGER REFERENCES artist(id));
        CREATE TABLE "商品" (code TEXT PRIMARY KEY, "名前" TEXT, artist INTEGER REFERENCES artist);
        CREATE VIEW album_titles AS SELECT title FROM album;
        """
    )
    for n in range(1, ROWS + 1):
        db.execute(
            "INSERT INTO artist VALUES (?, ?, ?)", (n, f"artist {n}", f"19{n:02}-01-0{n % 9 + 1}")
        )
        db.execute(
            "INSERT INTO album VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                n,
                f"album {n}",
                n % 7 + 1,
                n // 2 or None,  # parents at lower keys: written first
                n * 1.25 if n % 2 else n,  # NUMERIC mixing integers and reals
                f"2021-03-{n % 28 + 1:02} 10:{n % 60:02}:00"
                if n % 3
                else f"2021-03-04T05:06:{n % 60:02}Z",
                bytes([n, 0, 255]) if n % 4 else None,
                "someday" if n == 5 else "2020-01-01",  # one value no date: stays text
            ),
        )
        db.execute('INSERT INTO "Order Details" VALUES (?, ?, ?, ?)', (n // 3, n, n / 4, n % 5))
        db.execute("INSERT INTO tag VALUES (?, ?)", (n, f"tag {n % 3}"))
        db.execute("INSERT INTO loose VALUES (?, ?)", (f"event {n}", bytes([n])))
        db.execute('INSERT INTO "商品" VALUES (?, ?, ?)', (f"c{n}", f"名前 {n}", n))
        db.execute("INSERT INTO orphans VALUES (?, ?)", (n, n + 1000 if n == 3 else n))
    db.commit()
    db.close()


def run(
    args: list[str], weaviate: RunningWeaviate, cwd: Path
) -> subprocess.CompletedProcess[bytes]:
    env = {**cli_env(), "DMCTL_WEAVIATE": weaviate.url, "DMCTL_GRPC_PORT": str(weaviate.grpc_port)}
    return subprocess.run(
        [*DMCTL, *args], capture_output=True, env=env, cwd=cwd, timeout=180, check=False
    )


def test_plan_copy_validate(tmp_path: Path, weaviate: RunningWeaviate) -> None:
    db = tmp_path / "app.db"
    make_database(db)
    done = run(["plan", "--sqlite", str(db)], weaviate, tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    text = done.stdout.decode()
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(text)
    document = yaml.safe_load(text)

    # it is spec.collections as a DataMigration takes it, and what --mapping reads
    spec = DataMigrationSpec.model_validate(spec_dict(collections=document["collections"]))
    collections = {c.table: c for c in spec.collections}
    assert {m.table for m in parse_mappings(None, mapping_file)} == set(collections)
    assert set(collections) == {
        "artist",
        "album",
        "Order Details",
        "tag",
        "empty",
        "loose",
        "orphans",
        "商品",
    }
    assert "# skipped 'album_titles': a view" in text
    assert collections["Order Details"].collection == "OrderDetails"

    types = {p.column: p.data_type for p in collections["album"].properties}
    assert types == {
        "AlbumId": "int",
        "title": "text",
        "price": "number",
        "released": "date",
        "cover": "blob",
        "note": "text",
    }
    assert {p.column: p.data_type for p in collections["artist"].properties}["born"] == "date"
    assert {r.column: r.target_table for r in collections["album"].references} == {
        "artist_id": "artist",
        "parent": "album",
    }
    assert [(r.column, r.target_table) for r in collections["Order Details"].references] == [
        ("album_id", "album")
    ]
    assert collections["orphans"].references == []  # one row points to no artist
    assert "1 rows point to no artist row" in text
    assert collections["loose"].id_column == "rowid"
    goods = collections["商品"]  # no Latin letters: fallback names, noted
    assert (goods.collection, goods.id_column) == ("Table8", "code")
    assert [p.name for p in goods.properties] == [None, "column2"]
    assert [r.target_table for r in goods.references] == ["artist"]

    common = [
        "--sqlite",
        str(db),
        "--mapping",
        str(mapping_file),
        "--namespace",
        NAMESPACE,
        "--json",
    ]
    copied = run(["copy", *common], weaviate, tmp_path)
    result: dict[str, Any] = parse_json_line(copied.stdout + copied.stderr)
    assert copied.returncode == 0, result
    assert (result["rows"], result["failed"]) == (7 * ROWS, 0)
    checked = run(["validate", *common, "--recheck-delay", "0"], weaviate, tmp_path)
    report = parse_json_line(checked.stdout + checked.stderr)
    assert checked.returncode == 0, report
    assert report["checked"] == 7 * ROWS
    assert report["missing"] + report["extra"] + report["mismatched"] == 0, report


def test_plan_json_is_read_by_mapping(tmp_path: Path, weaviate: RunningWeaviate) -> None:
    db = tmp_path / "app.db"
    make_database(db)
    done = run(["plan", "--sqlite", str(db), "-o", "json"], weaviate, tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_bytes(done.stdout)
    assert len(parse_mappings(None, mapping_file)) == 8
    missing = run(["plan", "--sqlite", str(tmp_path / "nope.db")], weaviate, tmp_path)
    assert missing.returncode == 2
