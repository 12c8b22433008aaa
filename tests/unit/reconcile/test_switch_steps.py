"""The gradual read switch walk: share -> pause -> analysis -> next step, rolled back by itself
when a step's figures are over its thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from datamigration_operator.api import reasons
from datamigration_operator.api.spec import StepAnalysis, SwitchSpec, SwitchStep
from datamigration_operator.api.status import SwitchAnalysisReport, SwitchStatus
from datamigration_operator.reconcile.switch_steps import (
    ROLLED_BACK_READS,
    ReadTarget,
    WalkInputs,
    analysis_job_name,
    judge,
    walk,
)

T0 = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
ANALYSIS = StepAnalysis(max_mismatch_percent=1, max_error_percent=1, min_samples=20)
STEPS = [
    SwitchStep(read_percent=10, pause="30s", analysis=ANALYSIS),
    SwitchStep(read_percent=50, pause="30s"),
    SwitchStep(read_percent=100, pause="30s", analysis=ANALYSIS),
]


def report(
    step: int, *, compared: int = 100, mismatched: int = 0, **more: object
) -> SwitchAnalysisReport:
    return SwitchAnalysisReport.model_validate(
        {
            "step": step,
            "compared": compared,
            "mismatched": mismatched,
            "weaviateReads": 200,
            "weaviateErrors": 0,
            "finishedAt": T0,
            "jobUid": "u",
        }
        | more
    )


def at(seconds: float, status: SwitchStatus | None, **more: object) -> WalkInputs:
    return WalkInputs(
        steps=STEPS,
        status=status,
        phase_generation=4,
        rerun=0,
        now=T0 + timedelta(seconds=seconds),
        **more,  # type: ignore[arg-type]
    )


def test_the_first_reconcile_enters_step_one_with_its_share_on_dual_write() -> None:
    result = walk(at(0, None))
    assert result.target == ReadTarget("dual_write", 10)
    assert result.outcome == "progressing"
    assert result.reason == reasons.SWITCH_STEP_PAUSED
    assert result.status.step == 1
    assert result.status.steps[0].started_at == T0
    assert result.analysis_step is None


def test_a_step_holds_its_share_until_the_pause_ends_then_asks_for_its_analysis() -> None:
    entered = walk(at(0, None)).status
    assert walk(at(29, entered)).analysis_step is None
    analyzing = walk(at(30, entered))
    assert analyzing.analysis_step == 1
    assert analyzing.reason == reasons.SWITCH_ANALYSIS_RUNNING
    assert analyzing.target == ReadTarget("dual_write", 10)
    assert analyzing.status.steps[0].result == "Analyzing"


def test_a_mismatch_over_the_threshold_rolls_reads_back_to_sqlite_and_stays_failed() -> None:
    analyzing = walk(at(30, walk(at(0, None)).status)).status
    failed = walk(at(31, analyzing, report=report(1, compared=50, mismatched=2)))
    assert failed.outcome == "failed"
    assert failed.target == ROLLED_BACK_READS
    assert failed.reason == reasons.SWITCH_ANALYSIS_FAILED
    assert "step 1 (10 % of reads from Weaviate)" in failed.message
    assert "read mismatch 4.00 % (2 of 50 shadow reads)" in failed.message
    record = failed.status.steps[0]
    assert (record.result, record.compared, record.mismatched) == ("Failed", 50, 2)
    assert failed.status.read_percent == 0
    # level-based: planning again keeps reads on SQLite, whatever report comes later
    again = walk(at(500, failed.status, report=report(1)))
    assert (again.outcome, again.target) == ("failed", ROLLED_BACK_READS)


def test_passing_steps_walk_to_weaviate_primary() -> None:
    status = walk(at(30, walk(at(0, None)).status)).status
    second = walk(at(31, status, report=report(1)))
    assert second.target == ReadTarget("dual_write", 50)
    assert second.status.step == 2
    assert second.status.steps[0].result == "Passed"
    # step 2 has no analysis: it passes after its pause and step 3 (100 %) begins
    third = walk(at(61, second.status))
    assert third.target == ReadTarget("weaviate_primary", 100)
    assert third.status.step == 3
    analyzing = walk(at(91, third.status))
    assert analyzing.analysis_step == 3
    done = walk(at(92, analyzing.status, report=report(3)))
    assert done.outcome == "succeeded"
    assert done.target == ReadTarget("weaviate_primary", 100)
    assert [s.result for s in done.status.steps] == ["Passed", "Passed", "Passed"]


def test_a_report_of_another_step_is_not_a_verdict() -> None:
    analyzing = walk(at(30, walk(at(0, None)).status)).status
    waiting = walk(at(31, analyzing, report=report(3, mismatched=100)))
    assert waiting.outcome == "progressing"
    assert waiting.analysis_step == 1


def test_an_analysis_job_that_ended_without_a_report_rolls_back_as_inconclusive() -> None:
    analyzing = walk(at(30, walk(at(0, None)).status)).status
    ended = walk(
        at(40, analyzing, analysis_job_state="Failed", analysis_job_failure="no such file")
    )
    assert "without a report (no such file)" in ended.message
    assert ended.outcome == "failed"
    assert ended.reason == reasons.SWITCH_ANALYSIS_INCONCLUSIVE
    assert ended.target == ROLLED_BACK_READS


def test_a_new_rerun_starts_the_walk_over() -> None:
    failed = walk(
        at(31, walk(at(30, walk(at(0, None)).status)).status, report=report(1, mismatched=90))
    )
    fresh = walk(WalkInputs(STEPS, failed.status, 4, 1, T0 + timedelta(hours=1)))
    assert fresh.status.rerun == 1
    assert [s.result for s in fresh.status.steps] == ["Pausing"]
    assert fresh.target == ReadTarget("dual_write", 10)


@pytest.mark.parametrize(
    ("figures", "verdict", "named"),
    [
        ({"compared": 19}, "Inconclusive", "19 shadow reads compared, fewer than minSamples 20"),
        ({"weaviateErrors": 3}, "Failed", "Weaviate read errors 1.50 % (3 of 200)"),
        ({"latencyP99Ms": 300.0}, "Failed", "latency p99 300 ms over maxLatencyP99 250ms"),
        ({"latencyP99Ms": 250.0, "mismatched": 1}, "Passed", "mismatch 1.00 % of 100"),
    ],
)
def test_each_threshold_is_judged_and_named(
    figures: dict[str, object], verdict: str, named: str
) -> None:
    analysis = ANALYSIS.model_copy(update={"max_latency_p99": "250ms"})
    result = judge(1, 10, analysis, report(1, **figures))
    assert result.result == verdict
    assert named in result.message


def test_steps_must_climb_to_one_hundred() -> None:
    with pytest.raises(ValidationError, match="must increase"):
        SwitchSpec(
            steps=[
                SwitchStep(read_percent=50),
                SwitchStep(read_percent=50),
                SwitchStep(read_percent=100),
            ]
        )
    with pytest.raises(ValidationError, match="last switch step must have readPercent 100"):
        SwitchSpec(steps=[SwitchStep(read_percent=10), SwitchStep(read_percent=50)])
    assert SwitchSpec().steps == []


def test_analysis_jobs_are_named_per_step_within_63_characters() -> None:
    names = {analysis_job_name("x" * 80, 4, 0, step) for step in (1, 2, 3)}
    assert len(names) == 3
    assert all(len(name) <= 63 and "-analysis-" in name for name in names)


def test_steps_edited_mid_walk_start_the_walk_over_at_the_smallest_share() -> None:
    second = walk(at(31, walk(at(30, walk(at(0, None)).status)).status, report=report(1)))
    assert second.status.step == 2
    shorter = [SwitchStep(read_percent=100, pause="30s")]
    edited = walk(WalkInputs(shorter, second.status, 4, 0, T0 + timedelta(minutes=5)))
    assert edited.status.step == 1
    assert [s.read_percent for s in edited.status.steps] == [100]
    reshaped = [SwitchStep(read_percent=5), *STEPS[1:]]
    again = walk(WalkInputs(reshaped, second.status, 4, 0, T0 + timedelta(minutes=5)))
    assert (again.target, again.status.step) == (ReadTarget("dual_write", 5), 1)
