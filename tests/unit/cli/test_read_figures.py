"""How `dmctl validate` and `dmctl status` print status.validation.readPerformance."""

from __future__ import annotations

from datamigration_operator.api.status import ReadPerformance
from datamigration_operator.cli.migrations import _read_lines
from datamigration_operator.cli.read_figures import read_figure_lines

FIGURES = {
    "requests": 200,
    "concurrency": 4,
    "seconds": 3.1,
    "kinds": [
        {
            "kind": "nearVector",
            "sequential": {
                "weaviate": {"requests": 200, "p50Ms": 1.5, "p99Ms": 4.25, "meanMs": 1.75},
                "sqlite": {"requests": 20, "p50Ms": 80, "p99Ms": 95, "meanMs": 82.5},
            },
            "concurrent": {
                "weaviate": {"requests": 200, "errors": 200, "errorRate": 1.0},
                "sqlite": None,
            },
            "note": "SQLite: brute-force cosine scan, 20 of 200 requests within the budget",
        }
    ],
}


def test_each_kind_and_run_on_one_line_weaviate_beside_sqlite() -> None:
    assert read_figure_lines(ReadPerformance.model_validate(FIGURES)) == [
        "nearVector (sequential): Weaviate p50 1.5 ms, p99 4.25 ms, mean 1.75 ms | "
        "SQLite p50 80 ms, p99 95 ms, mean 82.5 ms",
        "nearVector (4 concurrent): Weaviate every one of 200 reads failed | SQLite skipped",
        "  SQLite: brute-force cosine scan, 20 of 200 requests within the budget",
    ]


def test_status_shows_them_and_survives_a_shape_it_does_not_know() -> None:
    assert _read_lines(None) == []
    assert _read_lines(FIGURES)[0].startswith("nearVector (sequential): Weaviate p50 1.5 ms")
    assert _read_lines({"kinds": "?"}) == [
        "(readPerformance present, in a shape this dmctl does not know)"
    ]
