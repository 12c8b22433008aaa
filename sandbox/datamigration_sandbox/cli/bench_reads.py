"""`dmctl bench reads --rows N [--real]`: the validate Job's read probe on the sample app's data.

Generates the GremlinsAI-shaped database, copies it with `dmctl copy` into one Weaviate in a
subprocess (the emulator's, or with `--real` one weaviate-server), then runs `dmctl validate`,
whose read probe (migration/runs/read_probe.py) times the app's declared reads on Weaviate and
the same queries on SQLite, one at a time and `--concurrency` at once. Prints p50/p99/mean per
read kind and store, and Weaviate's p99 against SQLite's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from datamigration_sandbox.cli.bench_migration import (
    JsonOption,
    RealOption,
    _common,
    _dmctl,
    mapping_file,
    our_copy,
    print_result,
    run_measured,
    weaviate_server,
)
from datamigration_sandbox.sample_data import generate_database

# What the system we replace promised before reads move: Weaviate reads under 100 ms on average.
TARGET_MEAN_MS = 100


def bench_reads(rows: int, requests: int, concurrency: int, real: bool = False) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="dmctl-bench-") as tmp,
        weaviate_server(real) as server,
    ):
        directory = Path(tmp)
        db = generate_database(directory / "app.db", rows=rows).path
        mapping = mapping_file(directory)
        our_copy(db, server, mapping)
        argv = [*_dmctl(), "validate", *_common(db, server, mapping), "--recheck-delay", "0"]
        argv += ["--read-requests", str(requests), "--read-concurrency", str(concurrency)]
        summary, _, _ = run_measured(argv)
    figures = summary["readPerformance"]
    reads: dict[str, Any] = {}
    ratios: dict[str, float | None] = {}
    for kind in figures["kinds"]:
        for run in ("sequential", "concurrent"):
            weaviate, sqlite = kind[run]["weaviate"], kind[run].get("sqlite")
            reads[f"{kind['kind']} {run}"] = {
                "weaviate": _compact(weaviate),
                "sqlite": None if sqlite is None else _compact(sqlite),
            }
            both = sqlite is not None and sqlite.get("p99Ms") and weaviate.get("p99Ms")
            ratios[f"{kind['kind']} {run}"] = (
                round(weaviate["p99Ms"] / sqlite["p99Ms"], 2) if both else None
            )
    return {
        "benchmark": "reads",
        "weaviate": server.kind,
        "rows": rows,
        "requests": figures["requests"],
        "concurrency": figures["concurrency"],
        "probe_seconds": figures["seconds"],
        "reads_ms": reads,
        "weaviate_p99_vs_sqlite_p99": ratios,
        "notes": {k["kind"]: k["note"] for k in figures["kinds"] if k.get("note")},
        "targets": {"weaviate_mean_ms_below": TARGET_MEAN_MS},
    }


def _compact(side: dict[str, Any]) -> dict[str, Any]:
    return {
        "p50": side.get("p50Ms"),
        "p99": side.get("p99Ms"),
        "mean": side.get("meanMs"),
        "errors": side.get("errorRate", 0.0),
    }


def reads_benchmark(
    rows: Annotated[int, typer.Option("--rows", min=1_000, max=2_000_000)] = 100_000,
    requests: Annotated[int, typer.Option("--requests", min=10, max=10_000)] = 200,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64)] = 4,
    as_json: JsonOption = False,
    real: RealOption = False,
) -> None:
    """The validate Job's read probe: the app's reads on Weaviate vs the same on SQLite."""
    print_result(bench_reads(rows, requests, concurrency, real), as_json)
