"""The Pod the Job controller creates for one attempt of a Job."""

from __future__ import annotations

import copy
import secrets
import string
from collections.abc import Mapping
from typing import Any

from datamigration_sandbox.jobs.job_defaults import (
    CONTROLLER_UID_LABEL,
    JOB_NAME_LABEL,
    LEGACY_CONTROLLER_UID_LABEL,
    LEGACY_JOB_NAME_LABEL,
)

_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits


def pod_name(job_name: str) -> str:
    """<job>-<5 random [a-z0-9]>, the shape of the controller's generateName."""
    return f"{job_name[:57]}-{random_suffix()}"


def pod_from_job(job: dict[str, Any], name: str) -> dict[str, Any]:
    meta = job["metadata"]
    template = copy.deepcopy(job["spec"]["template"])
    template_meta = template.get("metadata") or {}
    labels = dict(template_meta.get("labels") or {})
    labels.setdefault(CONTROLLER_UID_LABEL, meta["uid"])
    labels.setdefault(JOB_NAME_LABEL, meta["name"])
    labels.setdefault(LEGACY_CONTROLLER_UID_LABEL, meta["uid"])
    labels.setdefault(LEGACY_JOB_NAME_LABEL, meta["name"])
    spec = template.get("spec") or {}
    return controlled_pod(
        job, ("batch/v1", "Job"), name, f"{meta['name']}-", labels, template_meta, spec
    )


def random_suffix() -> str:
    """5 random [a-z0-9], as the controllers' generateName appends."""
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))


def controlled_pod(
    owner: Mapping[str, Any],
    owner_type: tuple[str, str],
    name: str,
    generate_name: str,
    labels: dict[str, str],
    template_meta: Mapping[str, Any],
    spec: dict[str, Any],
) -> dict[str, Any]:
    """A Pending pod of the template `spec`, controlled by `owner` (a Job, a Deployment) of
    `owner_type` (apiVersion, kind)."""
    meta = owner["metadata"]
    api_version, kind = owner_type
    pod_meta: dict[str, Any] = {
        "name": name,
        "generateName": generate_name,
        "namespace": meta["namespace"],
        "labels": labels,
        "ownerReferences": [
            {
                "apiVersion": api_version,
                "kind": kind,
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if template_meta.get("annotations"):
        pod_meta["annotations"] = dict(template_meta["annotations"])
    # The ServiceAccount admission plugin fills both fields.
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = account
    spec["serviceAccount"] = account
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": qos_class(spec)},
    }


def qos_class(spec: dict[str, Any]) -> str:
    resources = [c.get("resources") or {} for c in spec.get("containers") or []]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    for res in resources:
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        for key in ("cpu", "memory"):
            if key not in limits or requests.get(key, limits[key]) != limits[key]:
                return "Burstable"
    return "Guaranteed"
