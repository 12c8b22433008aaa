"""Defaulting and validation of batch/v1 Jobs, as the API server's Job strategy does it.

Installed as a store admission hook for (batch, jobs); it rejects with 422 Invalid worded like
kube-apiserver (`Job.batch "x" is invalid: spec.template.spec.restartPolicy: ...`).
"""

from __future__ import annotations

import copy
import secrets
import string
import uuid
from typing import Any

from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import Cause, invalid

CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"

_RESTART_POLICIES = ("OnFailure", "Never")
_COMPLETION_MODES = ("NonIndexed", "Indexed")
_POLICY_ACTIONS = ("FailJob", "FailIndex", "Ignore", "Count")
_SPEC_IMMUTABLE = ("selector", "template", "completionMode", "podFailurePolicy", "manualSelector")
_NAME_ALPHABET = string.ascii_lowercase + string.digits


def is_job_type(rt: ResourceType) -> bool:
    return rt.group == "batch" and rt.plural == "jobs"


def admit_job(
    operation: str, rt: ResourceType, new: dict[str, Any], old: dict[str, Any] | None
) -> dict[str, Any]:
    """Store admission hook: default and validate Jobs; other types pass through unchanged."""
    if not is_job_type(rt):
        return new
    job = default_job(new)
    causes = validate_job(job)
    if operation == "UPDATE" and old is not None:
        causes += _immutable_changes(job, old)
    if causes:
        raise invalid("Job", "batch", job["metadata"].get("name", ""), causes)
    return job


def default_job(obj: dict[str, Any]) -> dict[str, Any]:
    """Returns a copy with the API server's Job defaults and the generated selector/labels."""
    job = copy.deepcopy(obj)
    meta = job.setdefault("metadata", {})
    # The selector and labels need the uid and name, which the store may assign only after
    # admission: assign them here (the store keeps a provided uid and name).
    meta.setdefault("uid", str(uuid.uuid4()))
    if not meta.get("name") and meta.get("generateName"):
        suffix = "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
        meta["name"] = f"{meta['generateName']}{suffix}"
    spec = job.setdefault("spec", {})
    # completions/parallelism default to 1 only when neither is set (a work queue leaves
    # completions unset when only parallelism is given).
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault(
        "podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    )
    template = spec.setdefault("template", {})
    _default_pod_spec(template.setdefault("spec", {}))
    if not spec.get("manualSelector"):
        _generate_selector(job)
    return job


def _default_pod_spec(pod_spec: dict[str, Any]) -> None:
    pod_spec.setdefault("restartPolicy", "Always")
    pod_spec.setdefault("terminationGracePeriodSeconds", 30)
    pod_spec.setdefault("dnsPolicy", "ClusterFirst")
    pod_spec.setdefault("schedulerName", "default-scheduler")
    pod_spec.setdefault("securityContext", {})
    for container in pod_spec.get("containers") or []:
        if not isinstance(container, dict):
            continue
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        image = str(container.get("image", ""))
        tagged = ":" in image.rsplit("/", 1)[-1] or "@" in image
        latest = not tagged or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")


def _generate_selector(job: dict[str, Any]) -> None:
    meta = job["metadata"]
    uid, name = meta["uid"], meta.get("name", "")
    spec = job["spec"]
    template_meta = spec["template"].setdefault("metadata", {})
    labels = template_meta.setdefault("labels", {})
    labels.setdefault(CONTROLLER_UID_LABEL, uid)
    labels.setdefault(JOB_NAME_LABEL, name)
    labels.setdefault(LEGACY_CONTROLLER_UID_LABEL, uid)
    labels.setdefault(LEGACY_JOB_NAME_LABEL, name)
    if not spec.get("selector"):
        spec["selector"] = {"matchLabels": {CONTROLLER_UID_LABEL: uid}}


def validate_job(job: dict[str, Any]) -> list[Cause]:
    """The field errors kube-apiserver reports for a (defaulted) Job."""
    spec = job.get("spec") or {}
    causes: list[Cause] = []
    for key in ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"):
        causes += _non_negative_int(spec, key)
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (not _is_int(deadline) or deadline <= 0):
        causes.append(
            Cause(
                "spec.activeDeadlineSeconds", f"Invalid value: {deadline}: must be greater than 0"
            )
        )
    mode = spec.get("completionMode")
    if mode not in _COMPLETION_MODES:
        causes.append(_unsupported("spec.completionMode", mode, _COMPLETION_MODES))
    elif mode == "Indexed" and spec.get("completions") is None:
        causes.append(
            Cause(
                "spec.completions",
                "Required value: when completion mode is Indexed",
                "FieldValueRequired",
            )
        )
    causes += _validate_selector(job)
    pod_spec = (spec.get("template") or {}).get("spec") or {}
    restart = pod_spec.get("restartPolicy")
    if restart not in _RESTART_POLICIES:
        causes.append(_unsupported("spec.template.spec.restartPolicy", restart, _RESTART_POLICIES))
    containers = pod_spec.get("containers")
    if not isinstance(containers, list) or not containers:
        causes.append(
            Cause("spec.template.spec.containers", "Required value", "FieldValueRequired")
        )
    else:
        causes += _validate_containers(containers)
    policy = spec.get("podFailurePolicy")
    if policy is not None:
        if restart == "OnFailure":
            causes.append(
                Cause(
                    "spec.template.spec.restartPolicy",
                    'Invalid value: "OnFailure": only "Never" is supported when '
                    "podFailurePolicy is specified",
                )
            )
        causes += validate_pod_failure_policy(policy, spec)
    return causes


def _validate_selector(job: dict[str, Any]) -> list[Cause]:
    spec = job.get("spec") or {}
    selector = spec.get("selector")
    if not spec.get("manualSelector"):
        return []
    if not selector:
        return [Cause("spec.selector", "Required value", "FieldValueRequired")]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    wanted = selector.get("matchLabels") or {}
    if any(labels.get(k) != v for k, v in wanted.items()):
        return [
            Cause(
                "spec.template.metadata.labels",
                f"Invalid value: {labels}: `selector` does not match template `labels`",
            )
        ]
    return []


def _validate_containers(containers: list[Any]) -> list[Cause]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, container in enumerate(containers):
        path = f"spec.template.spec.containers[{i}]"
        if not isinstance(container, dict):
            causes.append(Cause(path, "Invalid value: must be an object"))
            continue
        name = container.get("name")
        if not name:
            causes.append(Cause(f"{path}.name", "Required value", "FieldValueRequired"))
        elif name in names:
            causes.append(
                Cause(f"{path}.name", f'Duplicate value: "{name}"', "FieldValueDuplicate")
            )
        else:
            names.add(name)
        if not container.get("image"):
            causes.append(Cause(f"{path}.image", "Required value", "FieldValueRequired"))
    return causes


def validate_pod_failure_policy(policy: Any, spec: dict[str, Any]) -> list[Cause]:
    base = "spec.podFailurePolicy.rules"
    rules = policy.get("rules") if isinstance(policy, dict) else None
    if not isinstance(rules, list):
        return [Cause(base, "Required value", "FieldValueRequired")]
    causes: list[Cause] = []
    for i, rule in enumerate(rules):
        path = f"{base}[{i}]"
        if not isinstance(rule, dict):
            causes.append(Cause(path, "Invalid value: must be an object"))
            continue
        action = rule.get("action")
        if action not in _POLICY_ACTIONS:
            causes.append(_unsupported(f"{path}.action", action, _POLICY_ACTIONS))
        elif action == "FailIndex" and spec.get("backoffLimitPerIndex") is None:
            causes.append(
                Cause(
                    f"{path}.action",
                    'Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set',
                )
            )
        on_codes, on_conditions = rule.get("onExitCodes"), rule.get("onPodConditions")
        if (on_codes is None) == (on_conditions is None):
            causes.append(
                Cause(
                    path,
                    "Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
                )
            )
        if on_codes is not None:
            causes += _validate_exit_codes(f"{path}.onExitCodes", on_codes)
    return causes


def _validate_exit_codes(path: str, requirement: Any) -> list[Cause]:
    if not isinstance(requirement, dict):
        return [Cause(path, "Invalid value: must be an object")]
    causes: list[Cause] = []
    operator = requirement.get("operator")
    if operator not in ("In", "NotIn"):
        causes.append(_unsupported(f"{path}.operator", operator, ("In", "NotIn")))
    values = requirement.get("values")
    if not isinstance(values, list) or not values or not all(_is_int(v) for v in values):
        causes.append(
            Cause(f"{path}.values", "Invalid value: must be a non-empty list of integers")
        )
    elif operator == "In" and 0 in values:
        causes.append(
            Cause(f"{path}.values", "Invalid value: 0: must not be 0 for the In operator")
        )
    return causes


def _immutable_changes(job: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    new_spec, old_spec = job.get("spec") or {}, old.get("spec") or {}
    causes: list[Cause] = []
    for key in _SPEC_IMMUTABLE:
        if new_spec.get(key) != old_spec.get(key):
            causes.append(Cause(f"spec.{key}", "Invalid value: field is immutable"))
    return causes


def _non_negative_int(spec: dict[str, Any], key: str) -> list[Cause]:
    value = spec.get(key)
    if value is None or (_is_int(value) and value >= 0):
        return []
    return [Cause(f"spec.{key}", f"Invalid value: {value}: must be greater than or equal to 0")]


def _unsupported(path: str, value: Any, supported: tuple[str, ...]) -> Cause:
    options = ", ".join(f'"{s}"' for s in supported)
    return Cause(
        path,
        f'Unsupported value: "{value}": supported values: {options}',
        "FieldValueNotSupported",
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
