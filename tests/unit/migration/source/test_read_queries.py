"""source/read_queries: the SQLite side of the read probe, on a small database file."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
from pathlib import Path

import pytest

from datamigration_operator.migration.mapping import CollectionPlan, PropertyPlan, ReferencePlan
from datamigration_operator.migration.source.read_queries import SqliteReads

NOTES = CollectionPlan(
    table="notes",
    collection="Note",
    key_columns=("id",),
    properties=(PropertyPlan("body", "body", "text"), PropertyPlan("id", "source_id", "int")),
    references=(ReferencePlan("author_id", "author", "authors", "Author", "INTEGER"),),
    vector_column="embedding",
)


def _blob(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "app.db"
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, author_id INTEGER, embedding)"
    )
    rows = []
    for i in range(1, 101):
        body = "100% sure" if i == 50 else f"note number {i} about {'cats' if i % 2 else 'dogs'}"
        vector: object = _blob(1.0, i / 100) if i % 3 else json.dumps([1.0, i / 100])
        rows.append((i, body, i % 7, vector))
    rows[9] = (10, "short vector", 3, _blob(1.0))  # another length: never a candidate
    connection.executemany("INSERT INTO notes VALUES (?, ?, ?, ?)", rows)
    connection.commit()
    connection.close()
    return path


def test_samples_are_evenly_spaced_over_the_key_order_and_repeatable(db: Path) -> None:
    reads = SqliteReads(db, snapshot=False)
    try:
        keys = [row["id"] for row in reads.sample(NOTES, 10)]
        assert keys == [1, 11, 21, 31, 41, 51, 61, 71, 81, 91]
        assert [row["id"] for row in reads.sample(NOTES, 10)] == keys
        assert len(reads.sample(NOTES, 500)) == 100  # no more than the table holds
        assert set(reads.sample(NOTES, 1)[0]) == {"id", "body", "author_id", "embedding"}
    finally:
        reads.close()


def test_the_reads_answer_what_the_app_would_get(db: Path) -> None:
    reads = SqliteReads(db, snapshot=False, connections=2)
    try:
        assert reads.by_key(NOTES, (42,))["body"] == "note number 42 about dogs"  # type: ignore[index]
        assert reads.by_key(NOTES, (1000,)) is None
        by_author = reads.by_column(NOTES, "author_id", 3, limit=100)
        assert sorted(r["id"] for r in by_author) == [i for i in range(1, 101) if i % 7 == 3]
        assert len(reads.by_column(NOTES, "author_id", 3, limit=5)) == 5
        cats = reads.text_match(NOTES, ["body"], "CATS", limit=100)  # LIKE ignores ASCII case
        assert [r["id"] for r in cats] == list(range(1, 101, 2))
        # LIKE wildcards in a word are matched literally ("number 100" has no "100%")
        assert [r["id"] for r in reads.text_match(NOTES, ["body"], "100%", limit=10)] == [50]
        assert reads.text_match(NOTES, ["body"], "r_1", limit=10) == []
    finally:
        reads.close()


def test_nearest_is_an_exact_cosine_scan_over_blob_and_json_vectors(db: Path) -> None:
    reads = SqliteReads(db, snapshot=False)
    try:
        assert reads.vector_count(NOTES) == 100
        nearest = reads.nearest(NOTES, [1.0, 0.42], limit=3)
        # 42 is JSON text, 41 and 43 BLOBs; by angle 0.43 is nearer 0.42 than 0.41 is
        assert [key for _, key in nearest] == [(42,), (43,), (41,)]
        distances = [distance for distance, _ in nearest]
        assert distances == sorted(distances)
        assert distances[0] == pytest.approx(0.0, abs=1e-6)
        assert (10,) not in [key for _, key in reads.nearest(NOTES, [1.0, 0.1], limit=5)]
    finally:
        reads.close()


def test_the_probe_never_writes_the_database(db: Path) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    reads = SqliteReads(db, snapshot=False, connections=3)
    try:
        reads.sample(NOTES, 20)
        reads.nearest(NOTES, [1.0, 0.5], limit=10)
        with (
            pytest.raises(sqlite3.OperationalError, match="readonly"),
            reads._db() as connection,
        ):
            connection.execute("DELETE FROM notes")
    finally:
        reads.close()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
