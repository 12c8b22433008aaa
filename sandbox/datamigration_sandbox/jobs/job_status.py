"""Pure Job status transitions, worded as kube-controller-manager's Job controller (k8s 1.31+).

The controller decides in this order: a FailJob pod-failure-policy match, the backoff limit,
the active deadline, then success. A decided failure first gets `FailureTarget` and, once no
pod is running any more, `Failed`; success gets `SuccessCriteriaMet` then `Complete`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

BACKOFF_LIMIT_EXCEEDED = "BackoffLimitExceeded"
DEADLINE_EXCEEDED = "DeadlineExceeded"
POD_FAILURE_POLICY = "PodFailurePolicy"
COMPLETIONS_REACHED = "CompletionsReached"

_MESSAGES = {
    BACKOFF_LIMIT_EXCEEDED: "Job has reached the specified backoff limit",
    DEADLINE_EXCEEDED: "Job was active longer than specified deadline",
    COMPLETIONS_REACHED: "Reached expected number of succeeded pods",
}


@dataclass(frozen=True)
class PodCounts:
    active: int = 0
    ready: int = 0
    succeeded: int = 0
    failed: int = 0
    terminating: int = 0


@dataclass(frozen=True)
class Verdict:
    """How a Job finishes: `succeeded` picks Complete or Failed."""

    succeeded: bool
    reason: str
    message: str

    @property
    def interim_type(self) -> str:
        return "SuccessCriteriaMet" if self.succeeded else "FailureTarget"

    @property
    def final_type(self) -> str:
        return "Complete" if self.succeeded else "Failed"


@dataclass(frozen=True)
class PolicyMatch:
    action: str  # FailJob | Ignore | Count | FailIndex
    rule_index: int
    message: str


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def verdict_for(reason: str, message: str | None = None) -> Verdict:
    return Verdict(reason == COMPLETIONS_REACHED, reason, message or _MESSAGES[reason])


def finished_type(job: dict[str, Any]) -> str | None:
    """ "Complete" or "Failed" when the Job has that condition True, else None."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


def pending_verdict(job: dict[str, Any]) -> Verdict | None:
    """The verdict already recorded by an interim condition (after a controller restart)."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") in ("FailureTarget", "SuccessCriteriaMet"):
            return Verdict(
                cond["type"] == "SuccessCriteriaMet",
                cond.get("reason", ""),
                cond.get("message", ""),
            )
    return None


def match_pod_failure_policy(
    policy: dict[str, Any] | None, pod: dict[str, Any]
) -> PolicyMatch | None:
    """The first rule matching a failed pod (exit codes of its containers, or its conditions)."""
    if not policy:
        return None
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    where = f"{meta.get('namespace')}/{meta.get('name')}"
    for index, rule in enumerate(policy.get("rules") or []):
        action = str(rule.get("action"))
        on_codes = rule.get("onExitCodes")
        if on_codes is not None:
            hit = _match_exit_codes(on_codes, status)
            if hit is not None:
                name, code = hit
                message = (
                    f"Container {name} for pod {where} failed with exit code {code} "
                    f"matching {action} rule at index {index}"
                )
                return PolicyMatch(action, index, message)
            continue
        cond_type = _match_conditions(rule.get("onPodConditions") or [], status)
        if cond_type is not None:
            message = (
                f"Pod {where} has condition {cond_type} matching {action} rule at index {index}"
            )
            return PolicyMatch(action, index, message)
    return None


def _match_exit_codes(
    requirement: dict[str, Any], status: dict[str, Any]
) -> tuple[str, int] | None:
    wanted_name = requirement.get("containerName")
    values = set(requirement.get("values") or [])
    statuses = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    for container in statuses:
        if wanted_name and container.get("name") != wanted_name:
            continue
        terminated = (container.get("state") or {}).get("terminated")
        if not terminated:
            continue
        code = int(terminated.get("exitCode", 0))
        if code == 0:  # successful containers are excluded from the requirement
            continue
        inside = code in values
        if inside == (requirement.get("operator") == "In"):
            return str(container.get("name")), code
    return None


def _match_conditions(patterns: list[dict[str, Any]], status: dict[str, Any]) -> str | None:
    for cond in status.get("conditions") or []:
        for pattern in patterns:
            if cond.get("type") == pattern.get("type") and cond.get("status") == pattern.get(
                "status", "True"
            ):
                return str(cond["type"])
    return None


def decide(
    spec: dict[str, Any],
    counts: PodCounts,
    *,
    restarts: int,
    start_time: datetime | None,
    now: datetime,
) -> Verdict | None:
    """Backoff limit, then deadline, then completions (a FailJob match is decided before)."""
    backoff_limit = int(spec.get("backoffLimit", 6))
    if counts.failed > backoff_limit or _past_restart_limit(spec, restarts, backoff_limit):
        return verdict_for(BACKOFF_LIMIT_EXCEEDED)
    remaining = deadline_remaining(spec, start_time, now)
    if remaining is not None and remaining <= 0:
        return verdict_for(DEADLINE_EXCEEDED)
    completions = spec.get("completions")
    if completions is not None and counts.succeeded >= int(completions):
        return verdict_for(COMPLETIONS_REACHED)
    if completions is None and counts.succeeded > 0 and counts.active == 0:
        # Work-queue Jobs complete when one pod succeeded and the others ended.
        return verdict_for(COMPLETIONS_REACHED)
    return None


def _past_restart_limit(spec: dict[str, Any], restarts: int, backoff_limit: int) -> bool:
    """With restartPolicy OnFailure the kubelet's restarts count toward the backoff limit."""
    pod_spec = (spec.get("template") or {}).get("spec") or {}
    if pod_spec.get("restartPolicy") != "OnFailure":
        return False
    return restarts > 0 if backoff_limit == 0 else restarts >= backoff_limit


def deadline_remaining(
    spec: dict[str, Any], start_time: datetime | None, now: datetime
) -> float | None:
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is None or start_time is None:
        return None
    return float(deadline) - (now - start_time).total_seconds()


def wanted_active(spec: dict[str, Any], counts: PodCounts) -> int:
    """How many pods should run now (the controller never exceeds remaining completions)."""
    if spec.get("suspend"):
        return 0
    parallelism = int(spec.get("parallelism", 1))
    completions = spec.get("completions")
    if completions is None:
        return 0 if counts.succeeded > 0 else parallelism
    return max(0, min(parallelism, int(completions) - counts.succeeded))


def retry_delay(failures: int, base: float, cap: float) -> float:
    """Exponential back-off before re-creating a failed pod: base * 2^(failures-1), capped."""
    if failures <= 0:
        return 0.0
    return float(min(cap, base * (2 ** (failures - 1))))


def with_counts(status: dict[str, Any], counts: PodCounts) -> dict[str, Any]:
    """Status with the pod counters; active/succeeded/failed are omitempty as in the Go type."""
    new = copy.deepcopy(status)
    for key, value in (
        ("active", counts.active),
        ("succeeded", counts.succeeded),
        ("failed", counts.failed),
    ):
        if value:
            new[key] = value
        else:
            new.pop(key, None)
    new["ready"] = counts.ready
    new["terminating"] = counts.terminating
    new.setdefault("uncountedTerminatedPods", {})
    return new


def with_condition(
    status: dict[str, Any],
    cond_type: str,
    reason: str,
    message: str,
    now: datetime,
    cond_status: str = "True",
) -> dict[str, Any]:
    """Status with a condition set; lastTransitionTime moves only when the status flips."""
    new = copy.deepcopy(status)
    conditions: list[dict[str, Any]] = new.setdefault("conditions", [])
    stamp = format_time(now)
    for cond in conditions:
        if cond.get("type") != cond_type:
            continue
        if (cond.get("status"), cond.get("reason"), cond.get("message")) == (
            cond_status,
            reason,
            message,
        ):
            return new
        if cond.get("status") != cond_status:
            cond["lastTransitionTime"] = stamp
        cond.update(status=cond_status, reason=reason, message=message, lastProbeTime=stamp)
        return new
    conditions.append(
        {
            "type": cond_type,
            "status": cond_status,
            "lastProbeTime": stamp,
            "lastTransitionTime": stamp,
            "reason": reason,
            "message": message,
        }
    )
    return new


def with_verdict(
    status: dict[str, Any], verdict: Verdict, now: datetime, *, final: bool
) -> dict[str, Any]:
    """The interim condition, plus the final one (and completionTime on success) when `final`."""
    new = with_condition(status, verdict.interim_type, verdict.reason, verdict.message, now)
    if not final:
        return new
    new = with_condition(new, verdict.final_type, verdict.reason, verdict.message, now)
    if verdict.succeeded:
        new["completionTime"] = format_time(now)
    return new


def condition_status(status: dict[str, Any], cond_type: str) -> str | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == cond_type:
            return str(cond.get("status"))
    return None
