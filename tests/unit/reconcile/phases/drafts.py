"""Observations for the phase tests, and a handler's view of them (planner.begin)."""

from __future__ import annotations

import dataclasses
from typing import Any

from datamigration_operator.api.status import JobRecord
from datamigration_operator.reconcile.conditions import find_condition, set_condition
from datamigration_operator.reconcile.draft import Draft
from datamigration_operator.reconcile.observed import Observation, ObservedConfigMap
from datamigration_operator.reconcile.planner import begin
from tests.unit.reconcile.scenario import ME, NOW, observation

OURS = ObservedConfigMap(exists=True, value="sqlite_only", owner=ME, original="sqlite_only")


def with_conditions(obs: Observation, reason: str = "Seeded", **values: str) -> Observation:
    conditions = list(obs.status.conditions)
    for type_, status in values.items():
        conditions = set_condition(conditions, type_, status, reason, "", now=NOW, generation=1)  # type: ignore[arg-type]
    status = obs.status.model_copy(update={"conditions": conditions})
    return dataclasses.replace(obs, status=status)


def with_records(obs: Observation, *records: JobRecord) -> Observation:
    status = obs.status.model_copy(update={"jobs": list(records)})
    return dataclasses.replace(obs, status=status)


def draft(obs: Observation) -> Draft:
    return begin(obs)[1]


def condition(draft: Draft, type_: str) -> tuple[str, str]:
    found = find_condition(draft.conditions, type_)  # type: ignore[arg-type]
    assert found is not None
    return found.status, found.reason


def at(phase: str, **kwargs: Any) -> Observation:
    """`phase` on an app whose ConfigMap this DataMigration already owns."""
    kwargs.setdefault("config_map", OURS)
    return observation(phase, **kwargs)  # type: ignore[arg-type]
