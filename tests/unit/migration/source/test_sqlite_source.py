"""SqliteSource reads a consistent state of the database in key order, without writing to it."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.dialects import sqlite

from datamigration_operator.api.spec import CollectionMapping
from datamigration_operator.migration.mapping import CollectionPlan, plan_collections
from datamigration_operator.migration.mapping.model import ColumnStats
from datamigration_operator.migration.mapping.values import InvalidText
from datamigration_operator.migration.source import snapshot as snapshot_module
from datamigration_operator.migration.source.keyset import page_statement
from datamigration_operator.migration.source.snapshot import SourceError
from datamigration_operator.migration.source.sqlite_source import SqliteSource
from datamigration_sandbox.sample_data import generate_database

SCHEMA = """
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, big INTEGER, data BLOB);
CREATE TABLE pairs (a TEXT, b INTEGER, v REAL, PRIMARY KEY (a, b));
CREATE TABLE kv (k TEXT PRIMARY KEY, v) WITHOUT ROWID;
CREATE TABLE log (event TEXT);
CREATE VIEW item_names AS SELECT name FROM items;
"""


def make_db(path: Path, *, wal: bool = False) -> Path:
    connection = sqlite3.connect(path, isolation_level=None)
    if wal:
        connection.execute("PRAGMA journal_mode = WAL")
    connection.executescript(SCHEMA)
    connection.execute("BEGIN")
    connection.executemany(
        "INSERT INTO items VALUES (?, ?, ?, ?)",
        [(i, f"item {i}", i * 2**40, bytes([i % 256])) for i in range(1, 1001)],
    )
    connection.executemany(
        "INSERT INTO pairs VALUES (?, ?, ?)",
        [(a, b, a_i + b / 10) for a_i, a in enumerate("xyz") for b in range(5)],
    )
    connection.executemany("INSERT INTO kv VALUES (?, ?)", [("b", 1), ("a", "one"), ("c", 2.5)])
    connection.executemany("INSERT INTO log VALUES (?)", [(f"e{i}",) for i in range(7)])
    connection.execute("COMMIT")
    connection.close()
    return path


def plans(source: SqliteSource, *mappings: CollectionMapping) -> dict[str, CollectionPlan]:
    tables = source.tables()
    stats = {m.table: source.column_stats(m.table) for m in mappings}
    return {p.table: p for p in plan_collections(list(mappings), tables, column_stats=stats)}


def keys(source: SqliteSource, plan: CollectionPlan, **kwargs: object) -> list[tuple[object, ...]]:
    return [
        tuple(row[c] for c in plan.key_columns)
        for batch in source.rows(plan, **kwargs)  # type: ignore[arg-type]
        for row in batch
    ]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reflection_finds_keys_without_rowid_and_skips_views(tmp_path: Path) -> None:
    with SqliteSource(make_db(tmp_path / "a.db"), snapshot=False) as source:
        tables = source.tables()
    assert sorted(tables) == ["items", "kv", "log", "pairs"]
    assert tables["items"].key_columns == ("id",)
    assert tables["pairs"].key_columns == ("a", "b")
    assert tables["kv"].without_rowid
    assert tables["kv"].key_columns == ("k",)
    assert tables["log"].key_columns == ("rowid",)
    value = tables["kv"].column("v")
    assert value is not None
    assert value.declared_type == ""


# the tables make_db creates
MAKE_DB_MAPPINGS = (
    CollectionMapping(table="items", collection="Item"),
    CollectionMapping(table="pairs", collection="Pair"),
    CollectionMapping(table="kv", collection="Kv", id_column="k"),
    CollectionMapping(table="log", collection="Log"),
)


@pytest.mark.parametrize("snapshot", [True, False])
def test_pages_follow_the_key_and_resume_after_a_checkpoint(tmp_path: Path, snapshot: bool) -> None:
    path = make_db(tmp_path / "a.db")
    with SqliteSource(path, snapshot=snapshot, scratch_dir=tmp_path / "scratch") as source:
        found = plans(
            source,
            *MAKE_DB_MAPPINGS,
        )
        assert [len(b) for b in source.rows(found["items"], batch_size=300)] == [300, 300, 300, 100]
        assert keys(source, found["items"], after=(998,)) == [(999,), (1000,)]
        pairs = keys(source, found["pairs"], batch_size=4)
        assert pairs == sorted(pairs)
        assert len(pairs) == 15
        assert keys(source, found["pairs"], after=("y", 3), batch_size=2)[:3] == [
            ("y", 4),
            ("z", 0),
            ("z", 1),
        ]
        assert keys(source, found["kv"]) == [("a",), ("b",), ("c",)]
        assert keys(source, found["log"], batch_size=3, after=(5,)) == [(6,), (7,)]
        assert source.count("items") == 1000
        row = next(source.rows(found["items"], batch_size=1))[0]
        assert row == {"id": 1, "name": "item 1", "big": 2**40, "data": b"\x01"}
    assert digest(path) == digest(make_db(tmp_path / "fresh.db"))  # the source is untouched
    assert not list((tmp_path / "scratch").glob("*")) if snapshot else True


def test_pages_are_index_seeks_never_offsets() -> None:
    statement = page_statement("pairs", ["a", "b"], ["a", "b", "v"], ("x", 1), 100)
    compiled = statement.compile(dialect=sqlite.dialect())
    sql = str(compiled)
    assert "WHERE (pairs.a, pairs.b) > (?, ?)" in sql
    # SQLAlchemy's SQLite dialect always renders "LIMIT ? OFFSET ?": the offset is 0.
    assert sql.endswith("LIMIT ? OFFSET ?")
    assert list(compiled.params.values()) == ["x", 1, 100, 0]
    assert "ORDER BY pairs.a, pairs.b" in sql


def test_column_stats_count_storage_classes_and_the_integer_range(tmp_path: Path) -> None:
    with SqliteSource(make_db(tmp_path / "a.db"), snapshot=False) as source:
        stats = source.column_stats("kv")
        items = source.column_stats("items", ["big"])
    assert (stats["v"].integers, stats["v"].texts, stats["v"].reals) == (1, 1, 1)
    assert (items["big"].min_integer, items["big"].max_integer) == (2**40, 1000 * 2**40)


def test_snapshot_and_read_transaction_ignore_later_writes(tmp_path: Path) -> None:
    path = make_db(tmp_path / "a.db", wal=True)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("INSERT INTO items VALUES (5000, 'uncheckpointed', 0, NULL)")  # stays in -wal
    snap = SqliteSource(path, snapshot=True, scratch_dir=tmp_path / "scratch")
    live = SqliteSource(path, snapshot=False)
    plan = plans(live, CollectionMapping(table="items", collection="Item"))["items"]
    assert live.count("items") == 1001
    writer.execute("DELETE FROM items WHERE id <= 500")
    writer.execute("INSERT INTO items VALUES (6000, 'later', 0, NULL)")
    for source in (snap, live):
        seen = keys(source, plan, batch_size=100)
        assert len(seen) == 1001
        assert seen[-1] == (5000,)
        source.close()
    writer.close()
    assert list((tmp_path / "scratch").iterdir()) == []  # no snapshot, -wal or -shm left


def test_text_that_is_not_utf8_comes_back_as_raw_bytes_and_nul_survives(tmp_path: Path) -> None:
    path = make_db(tmp_path / "a.db")
    connection = sqlite3.connect(path)
    connection.execute("INSERT INTO kv VALUES (CAST(? AS TEXT), ?)", (b"\xff\xfe", "a\x00b"))
    connection.execute("INSERT INTO kv VALUES ('d', CAST(? AS TEXT))", (b"caf\xe9",))
    connection.commit()
    connection.close()
    with SqliteSource(path, snapshot=False) as source:
        plan = plans(source, CollectionMapping(table="kv", collection="Kv", id_column="k"))["kv"]
        rows = [row for batch in source.rows(plan, batch_size=2) for row in batch]
        values = {str(row["k"]): row["v"] for row in rows}
        assert values["d"] == InvalidText(b"caf\xe9")
        assert values["InvalidText(b'\\xff\\xfe')"] == "a\x00b"
        # Resuming after a key that is not UTF-8 binds it as TEXT, so nothing is skipped.
        last = rows[-1]["k"]
        assert isinstance(last, InvalidText)
        assert keys(source, plan, after=("d",)) == [(last,)]
        assert keys(source, plan, after=(last,)) == []


def test_bad_input_gets_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        SqliteSource(tmp_path / "missing.db", snapshot=False)
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    with pytest.raises(SourceError, match=r"junk\.db"):
        SqliteSource(tmp_path / "junk.db", snapshot=True, scratch_dir=tmp_path / "s")
    with pytest.raises(SourceError, match="scratch directory"):
        SqliteSource(make_db(tmp_path / "a.db"), snapshot=True, scratch_dir=None)
    with SqliteSource(tmp_path / "a.db", snapshot=False) as source:
        with pytest.raises(SourceError, match="table nope does not exist"):
            source.count("nope")
        with pytest.raises(ValueError, match="batch_size"):
            next(
                source.rows(
                    plans(source, CollectionMapping(table="log", collection="L"))["log"],
                    batch_size=0,
                )
            )


def test_a_read_only_wal_database_opens_immutable_only_without_pending_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where mode=ro cannot open a WAL file (read-only directory, no -shm), the source falls
    back to immutable=1 only when no -wal content exists that immutable would skip."""
    real_connect = snapshot_module._connect

    def no_shm(uri: str) -> sqlite3.Connection:
        if "immutable" not in uri:
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(uri)

    monkeypatch.setattr(snapshot_module, "_connect", no_shm)
    path = make_db(tmp_path / "a.db", wal=True)
    with snapshot_module.open_read_only(path) as connection:
        assert connection.execute("SELECT count(*) FROM items").fetchone() == (1000,)
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("INSERT INTO items VALUES (5000, 'only in the log', 0, NULL)")
    writer.commit()
    with pytest.raises(SourceError, match=r"write-ahead log a\.db-wal holds transactions"):
        snapshot_module.open_read_only(path)
    writer.close()


def test_column_stats_equal_a_row_by_row_count(tmp_path: Path) -> None:
    db = generate_database(tmp_path / "app.db", rows=1_000, bad_data=True).path
    raw = sqlite3.connect(db)
    raw.text_factory = bytes
    with SqliteSource(db, snapshot=False) as source:
        for table, info in source.tables().items():
            stats = source.column_stats(table)
            for column in info.columns:
                name = '"' + column.name.replace('"', '""') + '"'
                cells = raw.execute(f'SELECT typeof({name}), {name} FROM "{table}"').fetchall()
                kinds = [kind.decode() for kind, _ in cells]
                ints = [value for kind, value in cells if kind == b"integer"]
                expected = ColumnStats(
                    integers=kinds.count("integer"),
                    reals=kinds.count("real"),
                    texts=kinds.count("text"),
                    blobs=kinds.count("blob"),
                    nulls=kinds.count("null"),
                    min_integer=min(ints, default=None),
                    max_integer=max(ints, default=None),
                )
                assert stats[column.name] == expected, (table, column.name)
    raw.close()


def test_column_stats_of_a_snapshot_in_parallel_equal_the_single_scan(tmp_path: Path) -> None:
    db = generate_database(tmp_path / "app.db", rows=1_000, bad_data=True).path
    live = SqliteSource(db, snapshot=False)
    copy = SqliteSource(db, snapshot=True, scratch_dir=tmp_path / "scratch")
    try:
        for table in live.tables():
            assert copy.column_stats(table) == live.column_stats(table)
            columns = [c.name for c in live.tables()[table].columns][::-1]
            assert list(copy.column_stats(table, columns)) == columns
    finally:
        live.close()
        copy.close()


def _stored(source: SqliteSource, plan: CollectionPlan, batch_size: int) -> list[dict[str, object]]:
    """storage_pages as row dicts (the trailing rowid dropped), like rows() gives them."""
    columns, pages = source.storage_pages(plan, batch_size=batch_size)
    return [dict(zip(columns, row, strict=False)) for page in pages for row in page]


def _by_key(source: SqliteSource, plan: CollectionPlan) -> list[dict[str, object]]:
    return [row for page in source.rows(plan, batch_size=1000) for row in page]


def test_storage_pages_give_every_row_once_in_storage_order(tmp_path: Path) -> None:
    path = make_db(tmp_path / "a.db")
    connection = sqlite3.connect(path)
    # rowid order differs from key order; a TEXT key that is not UTF-8; the rowid shadowed
    connection.executescript("""
        CREATE TABLE words (w TEXT PRIMARY KEY, n INTEGER);
        CREATE TABLE shadow (rowid TEXT PRIMARY KEY, oid INTEGER, v TEXT);
        CREATE TABLE hidden (rowid TEXT, oid TEXT, _rowid_ TEXT, PRIMARY KEY (oid, _rowid_));
    """)
    connection.executemany("INSERT INTO words VALUES (?, ?)", [("b", 1), ("a", 2), ("c", 3)])
    connection.execute("INSERT INTO words VALUES (CAST(? AS TEXT), 4)", (b"\xff",))
    connection.execute(
        "INSERT INTO kv VALUES (CAST(? AS TEXT), CAST(? AS TEXT))", (b"a\xfe", b"\xfd")
    )
    connection.executemany(
        "INSERT INTO shadow VALUES (?, ?, ?)",
        [(f"r{i}", 10 - i, f"v{i}") for i in reversed(range(7))],
    )
    connection.executemany(
        "INSERT INTO hidden VALUES (?, ?, ?)", [(f"r{i}", f"o{i % 3}", f"x{i}") for i in range(7)]
    )
    connection.commit()
    connection.close()
    with SqliteSource(path, snapshot=False) as source:
        found = plans(
            source,
            *MAKE_DB_MAPPINGS,
            CollectionMapping(table="words", collection="Word"),
            CollectionMapping(table="shadow", collection="Shadow", id_column="rowid"),
            CollectionMapping(table="hidden", collection="Hidden"),
        )
        for plan in found.values():
            expected = _by_key(source, plan)
            for batch_size in (1, 2, 3, 1000):
                got = _stored(source, plan, batch_size)
                assert len(got) == len(expected), plan.table
                assert sorted(got, key=repr) == sorted(expected, key=repr), plan.table
        # a rowid table comes in rowid order, a WITHOUT ROWID table in key order
        words = [row["w"] for row in _stored(source, found["words"], 2)]
        assert words == ["b", "a", "c", InvalidText(b"\xff")]
        kv = [row["k"] for row in _stored(source, found["kv"], 1)]
        assert kv == ["a", InvalidText(b"a\xfe"), "b", "c"]  # paged on past a non-UTF-8 key
        hidden = [row["_rowid_"] for row in _stored(source, found["hidden"], 2)]
        assert hidden == [row["_rowid_"] for row in _by_key(source, found["hidden"])]
        shadow = [row["v"] for row in _stored(source, found["shadow"], 3)]
        assert shadow == [f"v{i}" for i in reversed(range(7))]
        columns, pages = source.storage_pages(found["items"], batch_size=400)
        assert columns == ["id", "name", "big", "data"]
        assert [len(page) for page in pages] == [400, 400, 200]
        with pytest.raises(ValueError, match="batch_size"):
            source.storage_pages(found["log"], batch_size=0)
