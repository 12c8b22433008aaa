"""The Pod the Job controller creates for one attempt of a Job."""

from __future__ import annotations

import copy
import secrets
import string
from typing import Any

from datamigration_operator.sandbox.jobs.job_defaults import (
    CONTROLLER_UID_LABEL,
    JOB_NAME_LABEL,
    LEGACY_CONTROLLER_UID_LABEL,
    LEGACY_JOB_NAME_LABEL,
)

_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits


def pod_name(job_name: str) -> str:
    """<job>-<5 random [a-z0-9]>, the shape of the controller's generateName."""
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))
    return f"{job_name[:57]}-{suffix}"


def pod_from_job(job: dict[str, Any], name: str) -> dict[str, Any]:
    meta = job["metadata"]
    template = copy.deepcopy(job["spec"]["template"])
    template_meta = template.get("metadata") or {}
    labels = dict(template_meta.get("labels") or {})
    labels.setdefault(CONTROLLER_UID_LABEL, meta["uid"])
    labels.setdefault(JOB_NAME_LABEL, meta["name"])
    labels.setdefault(LEGACY_CONTROLLER_UID_LABEL, meta["uid"])
    labels.setdefault(LEGACY_JOB_NAME_LABEL, meta["name"])
    pod_meta: dict[str, Any] = {
        "name": name,
        "generateName": f"{meta['name']}-",
        "namespace": meta["namespace"],
        "labels": labels,
        "ownerReferences": [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if template_meta.get("annotations"):
        pod_meta["annotations"] = dict(template_meta["annotations"])
    spec = template.get("spec") or {}
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
