"""status.validation.readPerformance as lines a person reads (`dmctl validate`, `dmctl status`):
per read kind and run, Weaviate's p50/p99/mean and error rate beside SQLite's."""

from __future__ import annotations

from datamigration_operator.api.status import ReadLatency, ReadPerformance


def read_figure_lines(figures: ReadPerformance) -> list[str]:
    lines = [] if figures.error is None else [figures.error]
    for kind in figures.kinds:
        for run, comparison in (
            ("sequential", kind.sequential),
            (f"{figures.concurrency} concurrent", kind.concurrent),
        ):
            sqlite = "skipped" if comparison.sqlite is None else _latency(comparison.sqlite)
            lines.append(
                f"{kind.kind} ({run}): Weaviate {_latency(comparison.weaviate)} | SQLite {sqlite}"
            )
        if kind.note:
            lines.append(f"  {kind.note}")
    return lines


def _latency(figures: ReadLatency) -> str:
    errors = f", errors {figures.error_rate:.1%}" if figures.errors else ""
    if figures.p50_ms is None:
        return f"every one of {figures.requests} reads failed"
    return (
        f"p50 {figures.p50_ms:g} ms, p99 {figures.p99_ms:g} ms, mean {figures.mean_ms:g} ms{errors}"
    )
