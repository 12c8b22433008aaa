"""What the validate Job's read-performance figures count for: switch stays closed while the
Weaviate reads of any kind are slower (p99) or fail more often than spec.validation allows
(phases/switch.py asks). Without thresholds the figures are information only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from datamigration_operator.api import reasons
from datamigration_operator.api.durations import parse_duration
from datamigration_operator.api.spec import ValidationSpec
from datamigration_operator.api.status import ReadComparison, ReadPerformance

# status.message holds 1024 characters: name the first few shortfalls and count the rest.
MAX_NAMED: Final = 3


@dataclass(frozen=True)
class ReadShortfall:
    reason: str
    message: str


def read_shortfall(
    performance: ReadPerformance | None, policy: ValidationSpec
) -> ReadShortfall | None:
    """None when the figures meet maxReadP99 and maxReadErrorRate (or neither is set)."""
    max_p99, max_rate = policy.max_read_p99, policy.max_read_error_rate
    if max_p99 is None and max_rate is None:
        return None
    if performance is None or not performance.kinds:
        why = f" ({performance.error})" if performance is not None and performance.error else ""
        return ReadShortfall(
            reasons.READ_PERFORMANCE_NOT_MEASURED,
            "switch refused: spec.validation sets maxReadP99 or maxReadErrorRate, but the last "
            f"validation has no read-performance figures{why}; set "
            "spec.validation.readProbe.enabled (the default) and run validate again",
        )
    limit_ms = None if max_p99 is None else parse_duration(max_p99).total_seconds() * 1000
    problems: list[str] = []
    for kind in performance.kinds:
        for run, figures in (
            ("sequential", kind.sequential),
            (f"{performance.concurrency} concurrent", kind.concurrent),
        ):
            problems += _run_problems(f"{kind.kind} ({run})", figures, limit_ms, policy)
    if not problems:
        return None
    named = "; ".join(problems[:MAX_NAMED])
    more = f"; and {len(problems) - MAX_NAMED} more" if len(problems) > MAX_NAMED else ""
    return ReadShortfall(
        reasons.READ_PERFORMANCE_BELOW_TARGET,
        f"switch refused: reads from Weaviate miss the target: {named}{more}; see "
        "status.validation.readPerformance, then run validate again (spec.rerun)",
    )


def _run_problems(
    where: str, figures: ReadComparison, limit_ms: float | None, policy: ValidationSpec
) -> list[str]:
    weaviate, problems = figures.weaviate, []
    max_rate = policy.max_read_error_rate
    if max_rate is not None and weaviate.error_rate > max_rate:
        problems.append(
            f"{where} error rate {weaviate.error_rate:.2%} ({weaviate.errors} of "
            f"{weaviate.requests}) above maxReadErrorRate {max_rate:.2%}"
        )
    if limit_ms is not None:
        if weaviate.p99_ms is None:
            problems.append(
                f"{where}: no read succeeded, p99 unknown (maxReadP99 {policy.max_read_p99})"
            )
        elif weaviate.p99_ms > limit_ms:
            sqlite = figures.sqlite
            versus = (
                f", SQLite {sqlite.p99_ms:g}ms"
                if sqlite is not None and sqlite.p99_ms is not None
                else ""
            )
            problems.append(
                f"{where} p99 {weaviate.p99_ms:g}ms above maxReadP99 {policy.max_read_p99}{versus}"
            )
    return problems
