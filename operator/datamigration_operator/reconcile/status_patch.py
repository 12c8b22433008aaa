"""The JSON merge patch that turns the current status into the planned one."""

from __future__ import annotations

from typing import Any, Final

from datamigration_operator.api.status import DataMigrationStatus

# The operator writes these; progress and validation belong to the Jobs and are never patched.
OPERATOR_FIELDS: Final = frozenset(
    {
        "observedGeneration",
        "phase",
        "phaseGeneration",
        "state",
        "message",
        "mode",
        "conditions",
        "jobs",
        "history",
        "switch",
    }
)


def _owned(status: DataMigrationStatus) -> dict[str, Any]:
    dumped = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {key: value for key, value in dumped.items() if key in OPERATOR_FIELDS}


def status_patch(old: DataMigrationStatus, new: DataMigrationStatus) -> dict[str, Any]:
    """Empty when nothing the operator owns changed."""
    return merge_diff(_owned(old), _owned(new))


def merge_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 patch from `old` to `new`: nested objects are diffed, lists replaced whole."""
    patch: dict[str, Any] = {}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            nested = merge_diff(before, value)
            if nested:
                patch[key] = nested
        elif value != before:
            patch[key] = value
    for key in old.keys() - new.keys():
        patch[key] = None
    return patch


def apply_merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 application (what the API server does with a merge patch)."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            before = result.get(key)
            result[key] = apply_merge_patch(before if isinstance(before, dict) else {}, value)
        else:
            result[key] = value
    return result
