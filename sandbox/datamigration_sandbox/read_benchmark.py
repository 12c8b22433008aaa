"""How fast the read side is, against a raw sqlite3 read of the same table in the same run.

    python -m datamigration_sandbox.read_benchmark --rows 1250000 [--json]

Generates a sample database (rows split 10/80/10, so --rows 1250000 gives 1M messages) and
times, alternating the contenders so background load hits them alike, the best of `repeats`:
raw sqlite3 (`SELECT * ... ORDER BY` key, one cursor), SqliteSource.rows() (keyset pages of
dicts), rows() + row_to_object + content_hash (what the copy's resume check does), and
rows() + ObjectBuilder.parts + hash_canonical (validation's in-process path; with a snapshot
its child reads storage_pages() through ObjectBuilder.tuple_parts instead).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import resource
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from datamigration_operator.migration.mapping import ObjectBuilder, plan_collections
from datamigration_operator.migration.mapping.canonical import content_hash, hash_canonical
from datamigration_operator.migration.source.reflection import quote_identifier
from datamigration_operator.migration.source.sqlite_source import SqliteSource
from datamigration_sandbox.sample_data import generate_database, sample_collections


def measure_read_pipeline(
    path: Path, *, table: str = "messages", repeats: int = 2, batch_size: int = 1000
) -> dict[str, float]:
    """Rows per second of each contender (best of `repeats`) and the ratios to raw sqlite3."""
    _reset_peak_rss()
    with tempfile.TemporaryDirectory() as scratch:
        source = SqliteSource(path, snapshot=True, scratch_dir=Path(scratch))
        try:
            stats = {table: source.column_stats(table)}
            plans = plan_collections(sample_collections(), source.tables(), column_stats=stats)
            plan = next(p for p in plans if p.table == table)
            builder = ObjectBuilder(plan, migration_namespace="bench/read")
            order = ", ".join(quote_identifier(c) for c in plan.key_columns)

            def raw() -> int:
                connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                count = 0
                for _ in connection.execute(
                    f"SELECT * FROM {quote_identifier(table)} ORDER BY {order}"
                ):
                    count += 1
                connection.close()
                return count

            def rows() -> int:
                return sum(len(batch) for batch in source.rows(plan, batch_size=batch_size))

            def hashed() -> int:
                count = 0
                for batch in source.rows(plan, batch_size=batch_size):
                    for row in batch:
                        content_hash(builder.build(row))
                    count += len(batch)
                return count

            def fast_hashed() -> int:
                count = 0
                for batch in source.rows(plan, batch_size=batch_size):
                    for row in batch:
                        _, _, properties, references, vector = builder.parts(row)
                        hash_canonical(properties, references, vector)
                    count += len(batch)
                return count

            contenders: dict[str, Callable[[], int]] = {
                "raw_sqlite3": raw,
                "source_rows": rows,
                "source_rows_object_hash": hashed,
                "source_rows_parts_hash": fast_hashed,
            }
            best = dict.fromkeys(contenders, 0.0)
            counts: set[int] = set()
            for _ in range(repeats):
                for name, run in contenders.items():
                    started = time.perf_counter()
                    counted = run()
                    best[name] = max(best[name], counted / (time.perf_counter() - started))
                    counts.add(counted)
            if len(counts) != 1:
                raise RuntimeError(f"contenders read different row counts: {sorted(counts)}")
        finally:
            source.close()
    return {
        "rows": counted,
        **{f"{name}_rows_per_second": round(rate) for name, rate in best.items()},
        "source_rows_vs_raw": round(best["source_rows"] / best["raw_sqlite3"], 3),
        "object_hash_vs_raw": round(best["source_rows_object_hash"] / best["raw_sqlite3"], 3),
        "parts_hash_vs_raw": round(best["source_rows_parts_hash"] / best["raw_sqlite3"], 3),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _reset_peak_rss() -> None:
    """Linux: restart the peak-RSS count, so generating the database does not count."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_250_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        path = Path(workdir) / "bench.db"
        # In a child process, so the generator's memory does not count as the reader's.
        child = multiprocessing.get_context("spawn").Process(
            target=generate_database, args=(path,), kwargs={"rows": args.rows}
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"generating the database failed (exit code {child.exitcode})")
        generated = time.perf_counter() - started
        figures = {
            "generate_seconds": round(generated, 1),
            **measure_read_pipeline(path, repeats=args.repeats),
        }
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name:40} {value}")


if __name__ == "__main__":
    main()
