"""The planner walking spec.switch.steps: the share in the ConfigMap, the pause, the analysis
Job, the verdict; a step over its threshold sends reads back to SQLite by itself."""

from __future__ import annotations

import dataclasses
from typing import Any

from datamigration_operator.api.status import SwitchAnalysisReport
from datamigration_operator.reconcile.actions import ApplyMode, CreateJob, DeleteJobs, EmitEvent
from datamigration_operator.reconcile.observed import Observation
from datamigration_operator.reconcile.planner import plan
from tests.unit.reconcile.scenario import job_uid, later, with_job_state
from tests.unit.reconcile.test_planner import condition, of, step, to_phase, validated, warnings

STEPS: dict[str, Any] = {
    "steps": [
        {"readPercent": 10, "pause": "1m", "analysis": {"minSamples": 50}},
        {"readPercent": 100, "pause": "30s"},
    ]
}


def analysed(obs: Observation, job: str, *, compared: int, mismatched: int) -> Observation:
    switch = obs.status.switch
    assert switch is not None
    report = SwitchAnalysisReport(
        job=job,
        job_uid=job_uid(job),
        step=switch.step or 0,
        read_percent=switch.read_percent,
        finished_at=obs.now,
        compared=compared,
        mismatched=mismatched,
        weaviate_reads=compared,
    )
    return dataclasses.replace(
        obs, status=obs.status.model_copy(update={"switch_analysis": report})
    )


def in_analysis() -> tuple[Observation, str]:
    obs, actions = step(to_phase(validated(), "switch", switch=STEPS))
    (mode,) = of(actions, ApplyMode)
    assert (mode.mode, mode.read_share_key, mode.read_share) == (
        "dual_write",
        "migration_mode_read_percent",
        "10",
    )
    assert obs.status.state == "Running"
    assert condition(obs, "ReadsSwitched") == ("False", "SwitchStepPaused")
    obs, actions = step(later(obs, 30))
    assert not of(actions, CreateJob)  # still pausing
    obs, actions = step(later(obs, 31))
    (job,) = of(actions, CreateJob)
    assert (job.kind, job.phase) == ("analyze", "switch")
    assert job.analysis is not None
    assert (job.analysis.step, job.analysis.read_percent, job.analysis.min_samples) == (1, 10, 50)
    return obs, job.name


def test_a_step_with_a_read_mismatch_rolls_reads_back_by_itself() -> None:
    obs, job = in_analysis()
    obs, actions = step(analysed(later(obs, 5), job, compared=80, mismatched=4))
    (mode,) = of(actions, ApplyMode)
    assert (mode.mode, mode.read_share_key, mode.read_share) == (
        "dual_write",
        "migration_mode_read_percent",
        None,
    )
    assert obs.status.state == "Failed"
    assert condition(obs, "ReadsSwitched") == ("False", "SwitchAnalysisFailed")
    (warning,) = warnings(actions)
    assert warning.reason == "SwitchAnalysisFailed"
    assert "step 1 (10 % of reads from Weaviate)" in warning.message
    assert "read mismatch 5.00 % (4 of 80 shadow reads)" in warning.message
    record = obs.status.switch.steps[0]  # type: ignore[union-attr]
    assert (record.result, record.mismatched, record.compared) == ("Failed", 4, 80)
    # it stays rolled back: nothing more to do until spec.rerun or another phase
    assert not of(plan(later(obs, 600)), ApplyMode)


def test_passing_steps_end_in_weaviate_primary() -> None:
    obs, job = in_analysis()
    obs, actions = step(analysed(later(obs, 5), job, compared=80, mismatched=0))
    (mode,) = of(actions, ApplyMode)
    assert (mode.mode, mode.read_share) == ("weaviate_primary", None)
    assert [e.reason for e in of(actions, EmitEvent)].count("SwitchStep") == 2  # passed, entered
    obs, _ = step(later(obs, 31))
    assert obs.status.state == "Succeeded"
    assert condition(obs, "ReadsSwitched") == ("True", "ModeApplied")
    assert obs.config_map.value == "weaviate_primary"
    assert obs.config_map.read_share is None
    assert [s.result for s in obs.status.switch.steps] == ["Passed", "Passed"]  # type: ignore[union-attr]


def test_a_report_written_by_someone_else_is_not_a_verdict() -> None:
    obs, job = in_analysis()
    forged = analysed(later(obs, 5), job, compared=80, mismatched=0)
    report = forged.status.switch_analysis.model_copy(update={"job_uid": "forged"})  # type: ignore[union-attr]
    forged = dataclasses.replace(
        forged, status=forged.status.model_copy(update={"switch_analysis": report})
    )
    obs, actions = step(forged)
    assert obs.status.state == "Running"
    assert not of(actions, ApplyMode)


def test_rollback_during_a_step_removes_the_share_with_the_mode() -> None:
    obs, job = in_analysis()
    obs, actions = step(to_phase(obs, "rollback"))
    (mode,) = of(actions, ApplyMode)
    assert (mode.mode, mode.read_share_key, mode.read_share) == (
        "sqlite_only",
        "migration_mode_read_percent",
        None,
    )
    (deleted,) = of(actions, DeleteJobs)
    assert deleted.names == (job,)  # the analysis Job stops too


def test_an_analysis_job_that_failed_rolls_back_as_inconclusive_and_says_why() -> None:
    obs, job = in_analysis()
    failed = with_job_state(later(obs, 5), job, "Failed", "BackoffLimitExceeded")
    obs, actions = step(failed)
    (mode,) = of(actions, ApplyMode)
    assert (mode.mode, mode.read_share) == ("dual_write", None)
    assert obs.status.state == "Failed"
    assert condition(obs, "ReadsSwitched") == ("False", "SwitchAnalysisInconclusive")
    assert "analyze Job" in (obs.status.message or "")
    assert "BackoffLimitExceeded" in (obs.status.message or "")
