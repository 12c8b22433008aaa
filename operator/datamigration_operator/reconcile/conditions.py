"""Condition list edits with Kubernetes semantics."""

from __future__ import annotations

from datetime import datetime

from datamigration_operator.api.reasons import ConditionStatus, ConditionType
from datamigration_operator.api.status import Condition


def find_condition(conditions: list[Condition], type_: ConditionType) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def is_true(conditions: list[Condition], type_: ConditionType) -> bool:
    condition = find_condition(conditions, type_)
    return condition is not None and condition.status == "True"


def set_condition(
    conditions: list[Condition],
    type_: ConditionType,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    now: datetime,
    generation: int,
) -> list[Condition]:
    """A new list with the condition set. lastTransitionTime moves only when status changes,
    so it tells when the fact became true, not when it was last re-confirmed."""
    current = find_condition(conditions, type_)
    if current is None or current.status != status:
        changed_at = now
    else:
        changed_at = current.last_transition_time
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=changed_at,
        observed_generation=generation,
    )
    if current == updated:
        return conditions
    if current is None:
        return [*conditions, updated]
    return [updated if c.type == type_ else c for c in conditions]


def stamp_generation(conditions: list[Condition], generation: int) -> list[Condition]:
    """Every condition re-confirmed for `generation`: a reconcile of that generation computed
    them all (the ones whose status did not change included), so none may keep an older
    observedGeneration and look stale to `kubectl wait` or Argo CD. lastTransitionTime stays."""
    return [
        c
        if c.observed_generation == generation
        else c.model_copy(update={"observed_generation": generation})
        for c in conditions
    ]
