"""core/v1 Events as the Job controller, the scheduler and the kubelet record them."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from datamigration_sandbox.jobs.job_status import format_time
from datamigration_sandbox.kube.status_errors import ApiError
from datamigration_sandbox.kube.store import Store

_log = logging.getLogger(__name__)


def record_event(
    store: Store,
    involved: dict[str, Any],
    event_type: str,
    reason: str,
    message: str,
    component: str,
    now: datetime,
) -> None:
    """Best effort, like client-go's recorder: a failed write never fails the controller."""
    meta = involved["metadata"]
    stamp = format_time(now)
    source = {"component": component}
    if component == "kubelet":
        source["host"] = "sandbox-node"
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta['name']}.{secrets.token_hex(8)}",
            "namespace": meta["namespace"],
        },
        "involvedObject": {
            "apiVersion": involved.get("apiVersion", ""),
            "kind": involved.get("kind", ""),
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "reason": reason,
        "message": message,
        "type": event_type,
        "source": source,
        "reportingComponent": component,
        "reportingInstance": "",
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
    try:
        store.create(store.lookup("", "v1", "events"), meta["namespace"], event)
    except ApiError as exc:
        _log.debug("event %s for %s not recorded: %s", reason, meta["name"], exc)
