"""runs/read_probe: what it reads and how it spreads requests, without a Weaviate."""

from __future__ import annotations

from pathlib import Path

from datamigration_operator.migration.mapping import CollectionPlan, PropertyPlan
from datamigration_operator.migration.runs.read_probe import (
    ProbeSettings,
    _round_robin,
    _word,
    probe_reads,
)

PLAN = CollectionPlan(
    table="notes",
    collection="Note",
    key_columns=("id",),
    properties=(PropertyPlan("body", "body", "text"),),
    references=(),
    vector_column=None,
)


def test_requests_are_spread_over_the_tables_in_turn() -> None:
    tables = [["a1", "a2", "a3"], ["b1"], ["c1", "c2"]]
    assert _round_robin(tables, 4) == ["a1", "b1", "c1", "a2"]
    assert _round_robin(tables, 100) == ["a1", "b1", "c1", "a2", "c2", "a3"]
    assert _round_robin([[], []], 5) == []


def test_bm25_terms_are_words_of_the_sampled_row() -> None:
    row = {"title": "Zebra crossing", "body": "at 10:30, a_b x y"}
    assert _word(row, ["title", "body"], 0) == "zebra"
    assert _word(row, ["title", "body"], 1) == "crossing"
    assert _word(row, ["title", "body"], 2) == "zebra"  # cycles; digits, "_" and short words out
    assert _word({"title": None, "body": "1 2 3"}, ["title", "body"], 0) is None


def test_a_sqlite_file_it_cannot_read_is_reported_in_the_figures(tmp_path: Path) -> None:
    figures = probe_reads(
        None,  # never reached: SQLite fails first
        [PLAN],
        tmp_path / "gone.db",
        snapshot=False,
        namespace="ns",
        settings=ProbeSettings(requests=10, concurrency=2),
    )
    assert figures.kinds == []
    assert figures.error is not None
    assert "could not read SQLite" in figures.error
    assert "does not exist" in figures.error
