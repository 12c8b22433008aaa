"""What to do with a DataMigration whose spec passed admission but not our model: nothing
but say so (status Failed, one Warning event), until the spec is fixed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError

from datamigration_operator.api import reasons
from datamigration_operator.api.model_base import whole_seconds
from datamigration_operator.api.status import DataMigrationStatus
from datamigration_operator.reconcile.actions import Action, EmitEvent, SetStatus
from datamigration_operator.reconcile.conditions import set_condition
from datamigration_operator.reconcile.status_patch import status_patch

INVALID_SPEC: Final = "InvalidSpec"


def describe_problem(error: ValidationError) -> str:
    """`spec.a.b: message; ...` without the input values (they may be large or sensitive)."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"])
        problems.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "invalid spec: " + "; ".join(problems)


def plan_invalid_spec(obj: Mapping[str, Any], problem: str, now: datetime) -> list[Action]:
    """`obj`: the DataMigration as the API server returned it (the model refused its spec)."""
    status = obj.get("status")
    generation = int(obj["metadata"].get("generation", 1))
    try:
        old = DataMigrationStatus.model_validate(status if isinstance(status, dict) else {})
    except ValidationError:
        old = DataMigrationStatus()
    message = problem[:1024]
    conditions = set_condition(
        list(old.conditions),
        reasons.READY,
        "False",
        INVALID_SPEC,
        message,
        now=whole_seconds(now),
        generation=generation,
    )
    new = old.model_copy(
        update={
            "observed_generation": generation,
            "state": "Failed",
            "message": message,
            "conditions": conditions,
        }
    )
    patch = status_patch(old, new)
    if not patch:
        return []
    actions: list[Action] = [SetStatus(patch)]
    if (old.state, old.message) != ("Failed", message):
        actions.append(EmitEvent("Warning", INVALID_SPEC, message))
    return actions
