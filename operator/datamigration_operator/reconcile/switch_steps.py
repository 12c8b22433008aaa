"""The gradual read switch (spec.switch.steps), as a pure walk: share -> pause -> analysis
verdict -> next step, the last (100 %) ending in weaviate_primary.

A step whose analysis measures a mismatch, error or latency over its threshold, or that cannot
conclude, sends reads back to SQLite at once (dual_write, share 0) and stays failed for this
walk: the operator never writes spec, so a retry is the user's (spec.rerun, or back to
validate). The walk lives in status.switch; a new phase generation or rerun starts it over.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from datamigration_operator.api import reasons
from datamigration_operator.api.durations import parse_duration
from datamigration_operator.api.phases import JobState, Mode
from datamigration_operator.api.spec import StepAnalysis, SwitchStep
from datamigration_operator.api.status import (
    ReadAnalysis,
    SwitchAnalysisReport,
    SwitchStatus,
    SwitchStepStatus,
)
from datamigration_operator.reconcile.job_names import MAX_JOB_NAME

ALL_READS: Final = 100
Outcome = Literal["progressing", "succeeded", "failed"]


@dataclass(frozen=True)
class ReadTarget:
    """What the app's ConfigMap must say: the mode and the share of reads from Weaviate."""

    mode: Mode
    read_percent: int


ROLLED_BACK_READS: Final = ReadTarget("dual_write", 0)


def step_target(read_percent: int) -> ReadTarget:
    """The last step's 100 % is weaviate_primary; a partial share rides on dual_write."""
    if read_percent >= ALL_READS:
        return ReadTarget("weaviate_primary", ALL_READS)
    return ReadTarget("dual_write", read_percent)


@dataclass(frozen=True)
class Verdict:
    result: Literal["Passed", "Failed", "Inconclusive"]
    reason: str
    message: str


def judge(step: int, share: int, analysis: StepAnalysis, report: SwitchAnalysisReport) -> Verdict:
    """A step's figures against its thresholds; the message names the step and the values."""
    where = f"step {step} ({share} % of reads from Weaviate)"
    if report.reason is not None or report.compared < analysis.min_samples:
        return Verdict(
            "Inconclusive",
            reasons.SWITCH_ANALYSIS_INCONCLUSIVE,
            f"{where}: {report.compared} shadow reads compared, fewer than minSamples "
            f"{analysis.min_samples} within the analysis timeout {analysis.timeout}"
            + (f" ({report.message})" if report.message else ""),
        )
    over = []
    if report.mismatch_percent > analysis.max_mismatch_percent:
        over.append(
            f"read mismatch {report.mismatch_percent:.2f} % ({report.mismatched} of "
            f"{report.compared} shadow reads) over maxMismatchPercent "
            f"{analysis.max_mismatch_percent:g}"
        )
    if report.error_percent > analysis.max_error_percent:
        over.append(
            f"Weaviate read errors {report.error_percent:.2f} % ({report.weaviate_errors} of "
            f"{report.weaviate_reads}) over maxErrorPercent {analysis.max_error_percent:g}"
        )
    if analysis.max_latency_p99 is not None and report.latency_p99_ms is not None:
        limit_ms = parse_duration(analysis.max_latency_p99).total_seconds() * 1000
        if report.latency_p99_ms > limit_ms:
            over.append(
                f"Weaviate read latency p99 {report.latency_p99_ms:g} ms over maxLatencyP99 "
                f"{analysis.max_latency_p99}"
            )
    if over:
        return Verdict(
            "Failed",
            reasons.SWITCH_ANALYSIS_FAILED,
            f"{where}: {'; '.join(over)}; reads went back to SQLite",
        )
    return Verdict(
        "Passed",
        reasons.SWITCH_STEP_PAUSED,
        f"{where} passed: mismatch {report.mismatch_percent:.2f} % of {report.compared}, errors "
        f"{report.error_percent:.2f} % of {report.weaviate_reads}"
        + (f", p99 {report.latency_p99_ms:g} ms" if report.latency_p99_ms is not None else ""),
    )


def analysis_job_name(datamigration: str, generation: int, rerun: int, step: int) -> str:
    """`<dm>-analysis-<hash>`: one analysis Job per (switch generation, rerun, step)."""
    digest = hashlib.sha256(f"{datamigration}\0analysis\0{generation}\0{rerun}\0{step}".encode())
    suffix = f"-analysis-{digest.hexdigest()[:8]}"
    prefix = datamigration.replace(".", "-")[: MAX_JOB_NAME - len(suffix)].rstrip("-")
    return prefix + suffix


@dataclass(frozen=True)
class WalkInputs:
    """What the walk looks at; the caller finds the analysis Job and trusts its report."""

    steps: list[SwitchStep]
    status: SwitchStatus | None
    phase_generation: int
    rerun: int
    now: datetime
    report: SwitchAnalysisReport | None = None
    """status.switchAnalysis, only when it carries the uid of the analysis Job the operator
    created for the current step (None otherwise)."""
    analysis_job_state: JobState | None = None
    """State of the current step's analysis Job (None: not created or not seen)."""
    analysis_job_failure: str = ""
    """Why that Job failed (its termination message and the Job controller's account)."""


@dataclass
class Walk:
    """The walk after this reconcile: status, where reads go, and what happened."""

    status: SwitchStatus
    target: ReadTarget
    outcome: Outcome
    reason: str
    message: str
    analysis_step: int | None = None
    """The current step's analysis Job must exist (the caller creates it once)."""
    events: list[str] = field(default_factory=list)
    """Normal events: each step entered or passed."""


def walk(inputs: WalkInputs) -> Walk:
    if not inputs.steps:
        raise ValueError("a gradual switch needs spec.switch.steps")
    status = inputs.status
    events: list[str] = []
    if (
        status is None
        or status.phase_generation != inputs.phase_generation
        or status.rerun != inputs.rerun
        or not status.steps
        or not _walked_these_steps(status, inputs.steps)
    ):
        status = SwitchStatus(phase_generation=inputs.phase_generation, rerun=inputs.rerun)
        status = _enter(status, 1, inputs, events)
    while True:
        record = status.steps[-1]
        step = inputs.steps[record.step - 1]
        if record.result in ("Failed", "Inconclusive"):
            reason = (
                reasons.SWITCH_ANALYSIS_FAILED
                if record.result == "Failed"
                else reasons.SWITCH_ANALYSIS_INCONCLUSIVE
            )
            status = status.model_copy(update={"read_percent": 0})
            return Walk(status, ROLLED_BACK_READS, "failed", reason, record.message, None, events)
        if record.result == "Passed":
            if record.step == len(inputs.steps):
                return Walk(
                    status,
                    step_target(ALL_READS),
                    "succeeded",
                    reasons.MODE_APPLIED,
                    f"reads switched in {len(inputs.steps)} steps: mode weaviate_primary applied",
                    None,
                    events,
                )
            status = _enter(status, record.step + 1, inputs, events)
            continue
        target = step_target(step.read_percent)
        assert record.started_at is not None
        where = f"step {record.step}/{len(inputs.steps)}: {step.read_percent} % of reads"
        if record.result == "Pausing":
            until = record.started_at + parse_duration(step.pause)
            if inputs.now < until:
                message = f"{where} from Weaviate, pausing until {until.isoformat()}"
                return Walk(
                    status, target, "progressing", reasons.SWITCH_STEP_PAUSED, message, None, events
                )
            if step.analysis is None:
                status = _finish(status, "Passed", f"{where}: paused {step.pause}", inputs.now)
                events.append(f"{where} passed (no analysis)")
                continue
            status = _update_last(status, result="Analyzing")
            record = status.steps[-1]
        # Analyzing
        analysis = step.analysis
        assert analysis is not None
        report = inputs.report
        if report is not None and report.step == record.step and report.finished_at is not None:
            verdict = judge(record.step, step.read_percent, analysis, report)
            figures = ReadAnalysis.model_validate(report.model_dump(include=_FIGURES))
            status = _finish(status, verdict.result, verdict.message, inputs.now, figures)
            if verdict.result == "Passed":
                events.append(verdict.message)
            continue
        if inputs.analysis_job_state in ("Failed", "Deleted", "Succeeded"):
            why = f" ({inputs.analysis_job_failure})" if inputs.analysis_job_failure else ""
            message = (
                f"step {record.step} ({step.read_percent} % of reads from Weaviate): its "
                f"analysis Job ended ({inputs.analysis_job_state}) without a report{why}; reads "
                "went back to SQLite"
            )
            status = _finish(status, "Inconclusive", message, inputs.now)
            continue
        message = f"{where} from Weaviate, analysis running"
        return Walk(
            status,
            target,
            "progressing",
            reasons.SWITCH_ANALYSIS_RUNNING,
            message,
            record.step,
            events,
        )


_FIGURES: Final = set(ReadAnalysis.model_fields)


def _walked_these_steps(status: SwitchStatus, steps: list[SwitchStep]) -> bool:
    """The walk so far matches spec.switch.steps; steps edited mid-walk (a GitOps change of
    the shares) start it over from step 1, the smallest share: never a jump upwards."""
    if len(status.steps) > len(steps):
        return False
    return all(r.read_percent == steps[r.step - 1].read_percent for r in status.steps)


def _enter(
    status: SwitchStatus, number: int, inputs: WalkInputs, events: list[str]
) -> SwitchStatus:
    share = inputs.steps[number - 1].read_percent
    record = SwitchStepStatus(
        step=number, read_percent=share, started_at=inputs.now, result="Pausing"
    )
    events.append(f"step {number}/{len(inputs.steps)}: {share} % of reads from Weaviate")
    return status.model_copy(
        update={"step": number, "read_percent": share, "steps": [*status.steps, record]}
    )


def _update_last(status: SwitchStatus, **update: object) -> SwitchStatus:
    last = status.steps[-1].model_copy(update=update)
    return status.model_copy(update={"steps": [*status.steps[:-1], last]})


def _finish(
    status: SwitchStatus,
    result: Literal["Passed", "Failed", "Inconclusive"],
    message: str,
    now: datetime,
    figures: ReadAnalysis | None = None,
) -> SwitchStatus:
    update: dict[str, object] = {"result": result, "message": message[:1024], "finished_at": now}
    if figures is not None:
        update.update(figures.model_dump())
    return _update_last(status, **update)
