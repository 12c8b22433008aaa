"""switch: reads move to Weaviate (weaviate_primary; writes still reach both stores). No Job.

Where switch is refused: `gate` below. It needs a passing validation from the validate Job the
operator created, finished inside the current dual-write epoch, with the app's outbox drained,
and younger than spec.validation.maxAge; and RollbackReady not False (the way back is known to
work: reconcile.rollback_readiness). Once reads switched, the gate is not asked again.
Complete (ReadsSwitched=True) when every pod runs weaviate_primary.

With spec.switch.steps the reads move step by step instead (phases/gradual_switch.py): a share
of reads, a pause, an analysis; a step over its thresholds sends reads back to SQLite."""

from __future__ import annotations

from datamigration_operator.api import reasons
from datamigration_operator.api.durations import parse_duration
from datamigration_operator.api.phases import Mode
from datamigration_operator.reconcile.draft import Draft
from datamigration_operator.reconcile.phases import gradual_switch
from datamigration_operator.reconcile.phases.base import GateClosed, GateInputs
from datamigration_operator.reconcile.phases.forward import ForwardPhase
from datamigration_operator.reconcile.phases.validate import record_verdict
from datamigration_operator.reconcile.validation import validation_verdict


class Switch(ForwardPhase):
    phase = "switch"
    mode = "weaviate_primary"
    done_condition = reasons.READS_SWITCHED

    def before_gate(self, draft: Draft) -> None:
        record_verdict(draft)

    def passed_gate_already(self, draft: Draft) -> bool:
        """Once weaviate_primary is in our ConfigMap, switch passed its gate; a validation
        that ages afterwards must not flip reads back."""
        cm = draft.obs.config_map
        if draft.obs.spec.switch.steps and gradual_switch.walk_started(draft):
            return True  # a walk outlives maxAge; its own analyses judge each step
        return cm.value == self.mode and cm.owner == draft.me

    def gate(self, inputs: GateInputs) -> GateClosed | None:
        report = inputs.report
        verdict = validation_verdict(report, inputs.epoch, inputs.policy, inputs.issuer_uid)
        if verdict.reason in (
            reasons.VALIDATION_NOT_FROM_ITS_JOB,
            reasons.VALIDATION_STALE,
            reasons.OUTBOX_NOT_DRAINING,
            reasons.OUTBOX_NOT_DRAINED,
        ):
            return GateClosed(verdict.reason, f"switch refused: {verdict.message}")
        if not verdict.passed:
            return GateClosed(
                reasons.VALIDATION_REQUIRED,
                f"switch needs a passing validation ({verdict.message}); run phase validate",
            )
        assert report is not None
        assert report.finished_at is not None
        max_age = parse_duration(inputs.policy.max_age)
        if inputs.now - report.finished_at > max_age:
            return GateClosed(
                reasons.VALIDATION_STALE,
                f"switch refused: the last validation finished at "
                f"{report.finished_at.isoformat()}, older than maxAge {inputs.policy.max_age}; "
                "run validate again",
            )
        readiness = inputs.rollback
        if readiness is not None and readiness.status == "False":
            return GateClosed(
                readiness.reason, f"switch refused: rollback is not ready: {readiness.message}"
            )
        return None

    def read_target(self, draft: Draft) -> tuple[Mode, int]:
        if not draft.obs.spec.switch.steps:
            return self.mode, 0
        walk = draft.switch_walk = gradual_switch.plan_walk(draft)
        return walk.target.mode, walk.target.read_percent

    def proceed(self, draft: Draft) -> None:
        if draft.switch_walk is not None:
            gradual_switch.finish_walk(draft, draft.switch_walk)
            return
        draft.done(reasons.MODE_APPLIED, f"reads switched: mode {self.mode} applied")


SWITCH = Switch()
