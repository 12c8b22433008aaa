"""Pod status documents as the scheduler and the kubelet report them."""

from __future__ import annotations

from typing import Any

HOST_IP = "127.0.0.1"


def running_state(started_at: str) -> dict[str, Any]:
    return {"running": {"startedAt": started_at}}


def waiting_state(reason: str, message: str | None = None) -> dict[str, Any]:
    waiting: dict[str, Any] = {"reason": reason}
    if message:
        waiting["message"] = message
    return {"waiting": waiting}


def terminated_state(
    exit_code: int,
    started_at: str | None,
    finished_at: str,
    *,
    reason: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    terminated: dict[str, Any] = {
        "exitCode": exit_code,
        "reason": reason or ("Completed" if exit_code == 0 else "Error"),
        "finishedAt": finished_at,
    }
    if started_at:
        terminated["startedAt"] = started_at
    if message:
        terminated["message"] = message
    return {"terminated": terminated}


def container_status(
    container: dict[str, Any],
    state: dict[str, Any],
    *,
    restart_count: int = 0,
    last_state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    running = "running" in state
    return {
        "name": container.get("name", ""),
        "image": container.get("image", ""),
        "imageID": "",
        "ready": running,
        "started": running,
        "restartCount": restart_count,
        "state": state,
        "lastState": last_state or {},
    }


def unschedulable_status(message: str, now: str, qos_class: str) -> dict[str, Any]:
    return {
        "phase": "Pending",
        "qosClass": qos_class,
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
                "lastProbeTime": None,
                "lastTransitionTime": now,
            }
        ],
    }


def node_status(
    phase: str,
    containers: list[dict[str, Any]],
    *,
    scheduled_at: str,
    start_time: str,
    now: str,
    qos_class: str,
    reason: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """Status of a pod bound to the node: phase, conditions and container statuses."""
    finished = phase in ("Succeeded", "Failed")
    all_ready = bool(containers) and all(c.get("ready") for c in containers)
    unready = [c["name"] for c in containers if not c.get("ready")]
    if finished:
        ready_reason: str | None = "PodCompleted"
        ready_message: str | None = None
    else:
        ready_reason = None if all_ready else "ContainersNotReady"
        ready_message = (
            None if all_ready else f"containers with unready status: [{' '.join(unready)}]"
        )
    ready = "True" if all_ready and not finished else "False"
    conditions = [
        _condition("PodReadyToStartContainers", "False" if finished else "True", start_time),
        _condition("Initialized", "True", start_time),
        _condition("Ready", ready, now, ready_reason, ready_message),
        _condition("ContainersReady", ready, now, ready_reason, ready_message),
        _condition("PodScheduled", "True", scheduled_at),
    ]
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": HOST_IP,
        "hostIPs": [{"ip": HOST_IP}],
        "podIP": HOST_IP,
        "podIPs": [{"ip": HOST_IP}],
        "startTime": start_time,
        "containerStatuses": containers,
        "qosClass": qos_class,
    }
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    return status


def _condition(
    cond_type: str,
    status: str,
    at: str,
    reason: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    cond: dict[str, Any] = {
        "type": cond_type,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": at,
    }
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond
