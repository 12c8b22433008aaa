"""Defaults the API server's registry strategies apply to built-in kinds on every write."""

from __future__ import annotations

import base64
from typing import Any

from datamigration_sandbox.kube.resource_kinds import ResourceType

SECRETS = ("", "secrets")


def admit_builtin(
    operation: str, rt: ResourceType, new: dict[str, Any], old: dict[str, Any] | None
) -> dict[str, Any]:
    """Secrets: `stringData` is folded into `data` (it wins, as in the real strategy) and
    `type` defaults to Opaque; neither form is ever stored twice."""
    if rt.key != SECRETS:
        return new
    string_data = new.pop("stringData", None) or {}
    if string_data:
        data = new.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    if not new.get("type"):
        new["type"] = "Opaque"
    return new
