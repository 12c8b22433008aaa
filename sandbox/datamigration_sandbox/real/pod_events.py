"""Events the kubelet records about a pod (core/v1 Events, source component kubelet)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from datamigration_sandbox.real.api_client import ApiClient, ApiStatusError
from datamigration_sandbox.real.node_registration import now_rfc3339

_log = logging.getLogger(__name__)


async def record_pod_event(
    api: ApiClient,
    pod: Mapping[str, Any],
    node: str,
    event_type: str,
    reason: str,
    message: str,
) -> None:
    meta = pod["metadata"]
    now = now_rfc3339()
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta['name']}.{uuid.uuid4().hex[:16]}",
            "namespace": meta["namespace"],
        },
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
        },
        "type": event_type,
        "reason": reason,
        "message": message,
        "source": {"component": "kubelet", "host": node},
        "reportingComponent": "kubelet",
        "reportingInstance": node,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    try:
        await api.create(f"/api/v1/namespaces/{meta['namespace']}/events", event)
    except (ApiStatusError, OSError, TimeoutError) as exc:
        _log.debug("event %s for %s not recorded: %s", reason, meta["name"], exc)
