"""The read benchmark measures every contender over the same rows."""

from __future__ import annotations

from pathlib import Path

from datamigration_sandbox.read_benchmark import measure_read_pipeline
from datamigration_sandbox.sample_data import generate_database


def test_all_contenders_read_the_whole_table(tmp_path: Path) -> None:
    database = generate_database(tmp_path / "bench.db", rows=2000)
    figures = measure_read_pipeline(database.path, repeats=1, batch_size=300)
    assert figures["rows"] == database.counts["messages"] == 1600
    for name in ("raw_sqlite3", "source_rows", "source_rows_object_hash", "source_rows_parts_hash"):
        assert figures[f"{name}_rows_per_second"] > 0
    assert figures["object_hash_vs_raw"] > 0
