"""reconcile/invalid_spec.py: a spec the model refuses is said once, and nothing else."""

from __future__ import annotations

from datamigration_operator.reconcile.actions import EmitEvent, SetStatus
from datamigration_operator.reconcile.invalid_spec import plan_invalid_spec
from datamigration_operator.reconcile.status_patch import apply_merge_patch
from tests.unit.reconcile.scenario import NOW, manifest


def test_a_refused_spec_fails_once_with_one_warning_and_then_is_quiet() -> None:
    obj = manifest(collections=[])
    first = plan_invalid_spec(obj, "invalid spec: spec.collections: too short", NOW)
    assert [type(a) for a in first] == [SetStatus, EmitEvent]
    patch = first[0]
    assert isinstance(patch, SetStatus)
    assert (patch.patch["state"], patch.patch["observedGeneration"]) == ("Failed", 1)
    assert first[1] == EmitEvent(
        "Warning", "InvalidSpec", "invalid spec: spec.collections: too short"
    )
    refused = {**obj, "status": apply_merge_patch({}, dict(patch.patch))}
    assert plan_invalid_spec(refused, "invalid spec: spec.collections: too short", NOW) == []
