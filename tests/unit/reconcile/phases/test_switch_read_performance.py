"""The switch gate on the validate Job's read-performance figures (reconcile/read_performance):
closed while a Weaviate read kind misses spec.validation.maxReadP99 or maxReadErrorRate, with
a message naming the kind, the measured value and the threshold; open otherwise."""

from __future__ import annotations

import pytest

from datamigration_operator.api.spec import ReadProbeSpec, ValidationSpec
from datamigration_operator.api.status import (
    ReadComparison,
    ReadKindPerformance,
    ReadLatency,
    ReadPerformance,
    ValidationReport,
)
from tests.unit.reconcile.phases.gate_inputs import EPOCH, JOB_UID, NOW, check_gate, finished


def latency(p99: float | None, errors: int = 0, requests: int = 200) -> ReadLatency:
    return ReadLatency(
        requests=requests,
        errors=errors,
        error_rate=errors / requests,
        p50_ms=None if p99 is None else p99 / 4,
        p99_ms=p99,
        mean_ms=None if p99 is None else p99 / 3,
    )


def kind(
    name: str, sequential: ReadLatency, concurrent: ReadLatency | None = None
) -> ReadKindPerformance:
    return ReadKindPerformance(
        kind=name,  # type: ignore[arg-type]
        sequential=ReadComparison(weaviate=sequential, sqlite=latency(2.0)),
        concurrent=ReadComparison(weaviate=concurrent or sequential, sqlite=latency(3.0)),
    )


def report_with(*kinds: ReadKindPerformance) -> ValidationReport:
    figures = ReadPerformance(requests=200, concurrency=4, seconds=1.5, kinds=list(kinds))
    return finished(5).model_copy(update={"read_performance": figures})


def gate(report: ValidationReport, policy: ValidationSpec) -> tuple[str | None, str]:
    closed = check_gate("switch", [], report, EPOCH, policy, NOW, issuer_uid=JOB_UID)
    return (closed.reason, closed.message) if closed else (None, "")


FAST = report_with(kind("byId", latency(3.0)), kind("bm25", latency(40.0), latency(95.0)))


@pytest.mark.parametrize(
    "policy",
    [
        ValidationSpec(),  # no thresholds: the figures are information only
        ValidationSpec(max_read_p99="100ms"),
        ValidationSpec(max_read_p99="95ms"),  # equal is within the target
        ValidationSpec(max_read_p99="1s", max_read_error_rate=0.0),
    ],
)
def test_figures_within_the_thresholds_let_switch_through(policy: ValidationSpec) -> None:
    assert gate(FAST, policy) == (None, "")


def test_a_p99_above_max_read_p99_closes_switch_naming_kind_value_and_threshold() -> None:
    reason, message = gate(FAST, ValidationSpec(max_read_p99="90ms"))
    assert reason == "ReadPerformanceBelowTarget"
    assert "bm25 (4 concurrent) p99 95ms above maxReadP99 90ms, SQLite 3ms" in message
    assert "byId" not in message
    assert "bm25 (sequential)" not in message  # 40 ms is within 90 ms


def test_an_error_rate_above_max_read_error_rate_closes_switch() -> None:
    flaky = report_with(kind("byReference", latency(5.0), latency(6.0, errors=3)))
    reason, message = gate(flaky, ValidationSpec(max_read_error_rate=0.01))
    assert reason == "ReadPerformanceBelowTarget"
    assert (
        "byReference (4 concurrent) error rate 1.50% (3 of 200) above maxReadErrorRate 1.00%"
        in message
    )
    assert gate(flaky, ValidationSpec(max_read_error_rate=0.02)) == (None, "")


def test_a_kind_whose_every_read_failed_has_no_p99_and_closes_a_latency_gate() -> None:
    dead = report_with(kind("nearVector", latency(None, errors=200)))
    reason, message = gate(dead, ValidationSpec(max_read_p99="100ms"))
    assert reason == "ReadPerformanceBelowTarget"
    assert "nearVector (sequential): no read succeeded" in message


def test_many_shortfalls_are_counted_not_all_listed() -> None:
    slow = report_with(*(kind(k, latency(500.0)) for k in ("byId", "byReference", "bm25")))
    _, message = gate(slow, ValidationSpec(max_read_p99="100ms"))
    assert message.count("above maxReadP99") == 3
    assert "and 3 more" in message


@pytest.mark.parametrize(
    "figures",
    [None, ReadPerformance(requests=200, concurrency=4, seconds=0.0, kinds=[])],
)
def test_a_threshold_without_figures_keeps_switch_closed(figures: ReadPerformance | None) -> None:
    report = finished(5).model_copy(update={"read_performance": figures})
    policy = ValidationSpec(max_read_p99="100ms", read_probe=ReadProbeSpec(enabled=False))
    reason, message = gate(report, policy)
    assert reason == "ReadPerformanceNotMeasured"
    assert "readProbe.enabled" in message
    assert gate(report, ValidationSpec()) == (None, "")


def test_the_other_switch_gates_come_first() -> None:
    """A validation that did not pass is reported as such, not as slow reads."""
    failing = FAST.model_copy(update={"missing": 2})
    reason, _ = gate(failing, ValidationSpec(max_read_p99="1ms"))
    assert reason == "ValidationRequired"


def test_thresholds_are_checked_at_admission() -> None:
    with pytest.raises(ValueError, match=r"maxReadP99|max_read_p99"):
        ValidationSpec.model_validate({"maxReadP99": "fast"})
    with pytest.raises(ValueError, match=r"maxReadErrorRate|max_read_error_rate"):
        ValidationSpec.model_validate({"maxReadErrorRate": 1.5})
    assert ValidationSpec.model_validate({"maxReadErrorRate": 0}).max_read_error_rate == 0
    assert ValidationSpec().read_probe == ReadProbeSpec(enabled=True, requests=200, concurrency=4)


def test_not_measured_says_why_the_probe_measured_nothing() -> None:
    failed = ReadPerformance(
        requests=200, concurrency=4, seconds=0.0, error="the probe could not read SQLite: gone"
    )
    report = finished(5).model_copy(update={"read_performance": failed})
    reason, message = gate(report, ValidationSpec(max_read_error_rate=0.0))
    assert reason == "ReadPerformanceNotMeasured"
    assert "(the probe could not read SQLite: gone)" in message
