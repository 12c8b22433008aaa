"""Job status transitions: pod failure policy matching, verdict order, counters, conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from datamigration_sandbox.jobs.job_status import (
    PodCounts,
    decide,
    match_pod_failure_policy,
    retry_delay,
    verdict_for,
    wanted_active,
    with_condition,
    with_counts,
    with_verdict,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def failed_pod(
    *codes: tuple[str, int], conditions: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {"name": "copy-abcde", "namespace": "ns"},
        "status": {
            "phase": "Failed",
            "conditions": conditions or [],
            "containerStatuses": [
                {"name": name, "state": {"terminated": {"exitCode": code}}} for name, code in codes
            ],
        },
    }


def rule(
    action: str, operator: str, values: list[int], container: str | None = None
) -> dict[str, Any]:
    on_codes: dict[str, Any] = {"operator": operator, "values": values}
    if container:
        on_codes["containerName"] = container
    return {"action": action, "onExitCodes": on_codes}


def test_fail_job_rule_message_names_container_pod_code_and_rule() -> None:
    policy = {"rules": [rule("Ignore", "In", [1]), rule("FailJob", "In", [42])]}

    match = match_pod_failure_policy(policy, failed_pod(("main", 42)))

    assert match is not None
    assert (match.action, match.rule_index) == ("FailJob", 1)
    assert match.message == (
        "Container main for pod ns/copy-abcde failed with exit code 42 "
        "matching FailJob rule at index 1"
    )


def test_not_in_matches_other_nonzero_codes_but_never_zero() -> None:
    policy = {"rules": [rule("FailJob", "NotIn", [137])]}

    assert match_pod_failure_policy(policy, failed_pod(("main", 137))) is None
    assert match_pod_failure_policy(policy, failed_pod(("main", 0))) is None
    assert match_pod_failure_policy(policy, failed_pod(("main", 2))) is not None


def test_container_name_restricts_the_rule() -> None:
    policy = {"rules": [rule("FailJob", "In", [3], container="sidecar")]}

    assert match_pod_failure_policy(policy, failed_pod(("main", 3))) is None


def test_pod_condition_rule() -> None:
    policy = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    pod = failed_pod(("main", 137), conditions=[{"type": "DisruptionTarget", "status": "True"}])

    match = match_pod_failure_policy(policy, pod)

    assert match is not None
    assert match.action == "Ignore"
    assert (
        match.message
        == "Pod ns/copy-abcde has condition DisruptionTarget matching Ignore rule at index 0"
    )


def test_backoff_limit_is_exceeded_only_past_the_limit() -> None:
    spec = {"backoffLimit": 2, "completions": 1, "template": {"spec": {"restartPolicy": "Never"}}}

    assert decide(spec, PodCounts(failed=2), restarts=0, start_time=NOW, now=NOW) is None
    verdict = decide(spec, PodCounts(failed=3), restarts=0, start_time=NOW, now=NOW)
    assert verdict is not None
    assert (verdict.succeeded, verdict.reason) == (False, "BackoffLimitExceeded")


def test_on_failure_restarts_count_toward_the_limit() -> None:
    spec = {
        "backoffLimit": 2,
        "completions": 1,
        "template": {"spec": {"restartPolicy": "OnFailure"}},
    }

    assert decide(spec, PodCounts(active=1), restarts=1, start_time=NOW, now=NOW) is None
    verdict = decide(spec, PodCounts(active=1), restarts=2, start_time=NOW, now=NOW)
    assert verdict is not None
    assert verdict.reason == "BackoffLimitExceeded"


def test_deadline_is_measured_from_start_time() -> None:
    spec = {"activeDeadlineSeconds": 10, "completions": 1}

    assert (
        decide(
            spec, PodCounts(active=1), restarts=0, start_time=NOW, now=NOW + timedelta(seconds=9)
        )
        is None
    )
    verdict = decide(
        spec, PodCounts(active=1), restarts=0, start_time=NOW, now=NOW + timedelta(seconds=10)
    )
    assert verdict is not None
    assert verdict.message == "Job was active longer than specified deadline"


def test_success_when_completions_reached() -> None:
    spec = {"completions": 2}

    assert decide(spec, PodCounts(succeeded=1), restarts=0, start_time=NOW, now=NOW) is None
    verdict = decide(spec, PodCounts(succeeded=2), restarts=0, start_time=NOW, now=NOW)
    assert verdict is not None
    assert (verdict.succeeded, verdict.reason) == (True, "CompletionsReached")


def test_wanted_active_never_exceeds_remaining_completions() -> None:
    assert wanted_active({"parallelism": 3, "completions": 4}, PodCounts(succeeded=3)) == 1
    assert wanted_active({"parallelism": 3, "completions": 4, "suspend": True}, PodCounts()) == 0


def test_counters_are_omitted_when_zero_like_the_go_type() -> None:
    status = with_counts({"active": 1}, PodCounts(succeeded=1))

    assert status == {"succeeded": 1, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}}


def test_condition_transition_time_moves_only_when_status_flips() -> None:
    first = with_condition({}, "Suspended", "JobSuspended", "Job suspended", NOW)
    later = NOW + timedelta(seconds=30)

    same = with_condition(first, "Suspended", "JobSuspended", "Job suspended", later)
    flipped = with_condition(first, "Suspended", "JobResumed", "Job resumed", later, "False")

    assert same == first
    [cond] = flipped["conditions"]
    assert cond["status"] == "False"
    assert cond["lastTransitionTime"] == "2026-01-02T03:04:35Z"


def test_final_success_adds_both_conditions_and_completion_time() -> None:
    status = with_verdict({}, verdict_for("CompletionsReached"), NOW, final=True)

    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert status["completionTime"] == "2026-01-02T03:04:05Z"
    interim = with_verdict({}, verdict_for("BackoffLimitExceeded"), NOW, final=False)
    assert [c["type"] for c in interim["conditions"]] == ["FailureTarget"]


def test_retry_delay_doubles_and_is_capped() -> None:
    assert [retry_delay(n, 0.2, 1.0) for n in range(5)] == [0.0, 0.2, 0.4, 0.8, 1.0]
