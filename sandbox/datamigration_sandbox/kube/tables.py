"""meta.k8s.io Table rendering (what `kubectl get` prints), column for column as kube-apiserver's
printers and the CRD table convertor produce them, with ages translated on the server."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from datamigration_sandbox.kube.printer_jsonpath import PrinterPath
from datamigration_sandbox.kube.resource_kinds import ResourceType

Row = Callable[[dict[str, Any], datetime], list[Any]]

_NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated."
)
_AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is "
    "in UTC."
)


def _column(
    name: str, kind: str = "string", description: str = "", *, fmt: str = "", priority: int = 0
) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "format": fmt,
        "description": description,
        "priority": priority,
    }


NAME_COLUMN = _column("Name", "string", _NAME_DESCRIPTION, fmt="name")
AGE_COLUMN = _column("Age", "string", _AGE_DESCRIPTION)


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return f"{minutes}m" if whole % 60 == 0 else f"{minutes}m{whole % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def age(timestamp: Any, now: datetime) -> str:
    """The age kubectl shows for an RFC 3339 timestamp ("<unknown>" when absent)."""
    moment = _parse_time(timestamp)
    if moment is None:
        return "<unknown>" if not timestamp else "<invalid>"
    return human_duration((now - moment).total_seconds())


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = obj.get("metadata") or {}
    return meta


def _created(obj: dict[str, Any], now: datetime) -> str:
    return age(_meta(obj).get("creationTimestamp"), now)


def _has_condition(obj: dict[str, Any], kind: str) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def _configmap_row(obj: dict[str, Any], now: datetime) -> list[Any]:
    count = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return [_meta(obj).get("name"), count, _created(obj, now)]


_JOB_STATES = (
    ("Complete", "Complete"),
    ("Failed", "Failed"),
    ("", "Terminating"),
    ("Suspended", "Suspended"),
    ("FailureTarget", "FailureTarget"),
    ("SuccessCriteriaMet", "SuccessCriteriaMet"),
)


def _job_status(obj: dict[str, Any]) -> str:
    for condition, label in _JOB_STATES:
        if condition and _has_condition(obj, condition):
            return label
        if not condition and _meta(obj).get("deletionTimestamp"):
            return label
    return "Running"


def _job_row(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    succeeded = status.get("succeeded", 0)
    parallelism = spec.get("parallelism")
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif isinstance(parallelism, int) and parallelism > 1:
        completions = f"{succeeded}/1 of {parallelism}"
    else:
        completions = f"{succeeded}/1"
    started, finished = (
        _parse_time(status.get("startTime")),
        _parse_time(status.get("completionTime")),
    )
    duration = ""
    if started is not None:
        duration = human_duration(((finished or now) - started).total_seconds())
    name = _meta(obj).get("name")
    return [name, _job_status(obj), completions, duration, _created(obj, now)]


def _pod_status(obj: dict[str, Any]) -> str:
    status = obj.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting") or {}, state.get("terminated") or {}
        if waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated.get("reason"):
            reason = terminated["reason"]
    if _meta(obj).get("deletionTimestamp"):
        return "Terminating"
    return str(reason)


def _pod_row(obj: dict[str, Any], now: datetime) -> list[Any]:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    total = len((obj.get("spec") or {}).get("containers") or []) or len(statuses)
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
    name = _meta(obj).get("name")
    return [name, f"{ready}/{total}", _pod_status(obj), str(restarts), _created(obj, now)]


def _deployment_row(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    desired = spec.get("replicas", 1)
    ready = f"{status.get('readyReplicas', 0)}/{desired}"
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    return [_meta(obj).get("name"), ready, updated, available, _created(obj, now)]


def _event_row(obj: dict[str, Any], now: datetime) -> list[Any]:
    involved = obj.get("involvedObject") or {}
    last = obj.get("lastTimestamp") or obj.get("eventTime") or _meta(obj).get("creationTimestamp")
    target = f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"
    kind, reason, message = obj.get("type", ""), obj.get("reason", ""), obj.get("message", "")
    return [age(last, now), kind, reason, target, message]


def _namespace_row(obj: dict[str, Any], now: datetime) -> list[Any]:
    phase = (obj.get("status") or {}).get("phase", "Active")
    return [_meta(obj).get("name"), phase, _created(obj, now)]


def _default_row(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_meta(obj).get("name"), _created(obj, now)]


_BUILTIN: dict[tuple[str, str], tuple[list[dict[str, Any]], Row]] = {
    ("", "configmaps"): (
        [
            NAME_COLUMN,
            _column("Data", "integer", "Data contains the configuration data."),
            AGE_COLUMN,
        ],
        _configmap_row,
    ),
    ("batch", "jobs"): (
        [
            NAME_COLUMN,
            _column("Status", description="Status of the job."),
            _column("Completions", description="The desired number of successfully finished pods."),
            _column("Duration", description="Time required to complete the job."),
            AGE_COLUMN,
        ],
        _job_row,
    ),
    ("", "pods"): (
        [
            NAME_COLUMN,
            _column("Ready", description="The aggregate readiness state of this pod."),
            _column("Status", description="The aggregate status of the containers in this pod."),
            _column("Restarts", description="The number of times the containers restarted."),
            AGE_COLUMN,
        ],
        _pod_row,
    ),
    ("apps", "deployments"): (
        [
            NAME_COLUMN,
            _column("Ready", description="Number of the pod with ready state"),
            _column("Up-to-date", "integer", "Total number of non-terminated pods updated."),
            _column("Available", "integer", "Number of available replicas (ready for minReady)."),
            AGE_COLUMN,
        ],
        _deployment_row,
    ),
    ("", "events"): (
        [
            _column("Last Seen", description="The time the event was last seen."),
            _column("Type", description="Type of this event (Normal, Warning)."),
            _column("Reason", description="The reason for the transition into this status."),
            _column("Object", description="The object this event is about."),
            _column("Message", description="A human-readable description of the status."),
        ],
        _event_row,
    ),
    ("", "namespaces"): (
        [NAME_COLUMN, _column("Status", description="The phase of the namespace."), AGE_COLUMN],
        _namespace_row,
    ),
}


def _cell(kind: str, values: list[Any], now: datetime) -> Any:
    """apiextensions tableconvertor.cellForJSONValue, plus the string rendering of PrintResults."""
    if not values or values[0] is None:
        return None
    value = values[0]
    if kind == "string":
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if kind == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str):
        return age(value, now)
    return None


class _CustomColumns:
    """Columns of a CRD version: Name, then additionalPrinterColumns (default: Age)."""

    def __init__(self, columns: tuple[dict[str, Any], ...]) -> None:
        self.source = columns
        specs = list(columns) or [
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
        ]
        self.definitions = [NAME_COLUMN] + [
            _column(
                c["name"],
                c.get("type", "string"),
                c.get("description", _AGE_DESCRIPTION if c["name"] == "Age" else ""),
                fmt=c.get("format", ""),
                priority=int(c.get("priority", 0)),
            )
            for c in specs
        ]
        self._paths = [(c.get("type", "string"), PrinterPath(c["jsonPath"])) for c in specs]

    def row(self, obj: dict[str, Any], now: datetime) -> list[Any]:
        cells: list[Any] = [_meta(obj).get("name")]
        cells.extend(_cell(kind, path.find(obj), now) for kind, path in self._paths)
        return cells


_CUSTOM_CACHE: dict[tuple[str, str, str], _CustomColumns] = {}


def _columns_for(rt: ResourceType) -> tuple[list[dict[str, Any]], Row]:
    builtin = _BUILTIN.get(rt.key)
    if builtin is not None and rt.from_crd is None:
        return builtin
    if rt.from_crd is None:
        return [NAME_COLUMN, AGE_COLUMN], _default_row
    # Compiling the JSONPaths once per CRD version keeps list rendering cheap.
    key = (rt.group, rt.plural, rt.version)
    custom = _CUSTOM_CACHE.get(key)
    if custom is None or custom.source is not rt.printer_columns:
        try:
            custom = _CustomColumns(rt.printer_columns)
        except (KeyError, ValueError):
            # As the real server: an unusable printer specification falls back to the default.
            custom = _CustomColumns(())
            custom.source = rt.printer_columns
        _CUSTOM_CACHE[key] = custom
    return custom.definitions, custom.row


def _row_object(obj: dict[str, Any], include: str, api_version: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": _meta(obj)}


def build_table(
    rt: ResourceType,
    objects: list[dict[str, Any]],
    *,
    table_version: str = "v1",
    include_object: str = "Metadata",
    list_meta: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A Table of `objects`; `list_meta` (resourceVersion, continue) is set for list requests."""
    if include_object not in ("None", "Metadata", "Object"):
        raise ValueError(f"includeObject must be None, Metadata or Object, got {include_object!r}")
    moment = now or datetime.now(UTC)
    columns, row = _columns_for(rt)
    api_version = f"meta.k8s.io/{table_version}"
    rows = []
    for obj in objects:
        entry: dict[str, Any] = {"cells": row(obj, moment)}
        embedded = _row_object(obj, include_object, api_version)
        if embedded is not None:
            entry["object"] = embedded
        rows.append(entry)
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": list_meta or {},
        "columnDefinitions": columns,
        "rows": rows,
    }
