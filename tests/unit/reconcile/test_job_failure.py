"""A failed Job's reason where users look: status.message and the Warning event say why, in the
Job's own words (its pod's termination message), keep the Job controller's account and the
rerun hint."""

from __future__ import annotations

import dataclasses
import json

from datamigration_operator.reconcile.actions import Action, CreateJob, EmitEvent
from datamigration_operator.reconcile.job_failure import failed_job_message, termination_reason
from datamigration_operator.reconcile.observed import Observation, ObservedJob
from datamigration_operator.reconcile.planner import plan
from tests.unit.reconcile.scenario import apply, later, observation
from tests.unit.reconcile.test_planner import dual_writing, of, step, to_phase, warnings

POLICY = (
    "Container job for pod apps/shop-migrate-1-x7k2p failed with exit code 42 matching FailJob "
    "rule at index 0"
)
MISSING = "SQLite file /var/lib/datamigration/source/db/missing.sqlite does not exist"


def _job(message: str = POLICY, said: str = "") -> ObservedJob:
    return ObservedJob(
        "shop-migrate-1", "migrate", "Failed", 1, message=message, termination_message=said
    )


def test_the_reason_comes_first_then_the_job_controllers_account_then_the_hint() -> None:
    message = failed_job_message("copy", "shop-migrate-1", "Failed", _job(said=MISSING + "\n"))
    assert message == (
        f"copy Job shop-migrate-1 failed: {MISSING} ({POLICY}); bump spec.rerun to retry"
    )


def test_without_a_termination_message_the_wording_is_as_before() -> None:
    assert failed_job_message("copy", "shop-migrate-1", "Failed", _job()) == (
        f"copy Job shop-migrate-1 failed: {POLICY}; bump spec.rerun to retry"
    )
    assert failed_job_message("sync", "j", "Deleted", None) == (
        "sync Job j was deleted; bump spec.rerun to retry"
    )
    assert failed_job_message("copy", "j", "Failed", _job(message="", said=MISSING)) == (
        f"copy Job j failed: {MISSING}; bump spec.rerun to retry"
    )


def test_a_log_tail_gives_its_last_line_and_our_json_lines_their_message() -> None:
    """FallbackToLogsOnError: a container that died before writing its message leaves the tail
    of its log; one line of it is enough, never a wall of text or control characters."""
    tail = "\n".join(
        [
            json.dumps({"event": "started", "kind": "copy"}),
            json.dumps({"event": "failed", "reason": "WeaviateUnauthorized", "message": "nope"}),
            "",
        ]
    )
    assert termination_reason(tail) == "nope"
    assert termination_reason("Traceback ...\n  File x\nMemoryError\n") == "MemoryError"
    assert termination_reason("bell\x07 and\ttab") == "bell and tab"
    assert termination_reason("x" * 5000) == "x" * 512
    assert termination_reason("\n \n") == ""


def _failed_copy(said: str) -> tuple[Observation, list[Action]]:
    obs = apply(observation("migrate"), plan(observation("migrate")))
    (created,) = obs.jobs
    failed = dataclasses.replace(created, state="Failed", message=POLICY, termination_message=said)
    obs = dataclasses.replace(obs, jobs=(failed,))
    actions = plan(obs)
    return apply(obs, actions), actions


def test_a_failed_copy_says_why_in_status_message_and_the_warning_event() -> None:
    obs, actions = _failed_copy(MISSING)
    assert obs.status.state == "Failed"
    assert MISSING in (obs.status.message or "")
    assert (obs.status.message or "").endswith("bump spec.rerun to retry")
    (warning,) = [a for a in actions if isinstance(a, EmitEvent) and a.type == "Warning"]
    assert (warning.reason, warning.message) == ("JobFailed", obs.status.message)
    assert obs.status.history[-1].message == obs.status.message


def test_a_failed_validate_job_without_a_report_says_why() -> None:
    obs, actions = step(later(to_phase(dual_writing(), "validate"), 10))
    (create,) = of(actions, CreateJob)
    jobs = tuple(
        dataclasses.replace(j, state="Failed", message=POLICY, termination_message=MISSING)
        if j.name == create.name
        else j
        for j in obs.jobs
    )
    after, actions = step(dataclasses.replace(obs, jobs=jobs))
    assert after.status.state == "Failed"
    assert MISSING in (after.status.message or "")
    assert [w.message for w in warnings(actions)] == [after.status.message]
