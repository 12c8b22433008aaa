"""The CRD's CEL rules on spec.switch refuse what the model refuses (checked with the
sandbox's CEL evaluator, which the real API server's conformance tests hold to account)."""

from __future__ import annotations

import pytest

from datamigration_operator.api.crd import build_crd
from datamigration_operator.api.spec import SwitchSpec
from datamigration_sandbox.kube.cel_rules import compile_rule, to_cel


def _switch_schema() -> dict[str, object]:
    version = build_crd()["spec"]["versions"][0]
    schema: dict[str, object] = version["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]["switch"]
    return schema


def _failures(switch: dict[str, object]) -> list[str]:
    schema = _switch_schema()
    rules = [compile_rule(rule) for rule in schema["x-kubernetes-validations"]]  # type: ignore[union-attr]
    value = to_cel(switch, schema)  # type: ignore[arg-type]
    return [m for m in (rule.evaluate(value, None) for rule in rules) if m is not None]


@pytest.mark.parametrize(
    ("shares", "refused"),
    [
        ([], None),
        ([100], None),
        ([5, 10, 25, 50, 75, 80, 90, 95, 99, 100], None),
        ([10, 10, 100], "must increase"),
        ([50, 20, 100], "must increase"),
        ([10, 50], "last switch step must have readPercent 100"),
    ],
)
def test_cel_and_the_model_agree_on_the_steps(shares: list[int], refused: str | None) -> None:
    switch = {"steps": [{"readPercent": share} for share in shares]}
    failures = _failures(switch)
    if refused is None:
        assert failures == []
        SwitchSpec.model_validate(switch)
    else:
        assert any(refused in message for message in failures), failures
        with pytest.raises(ValueError, match=refused):
            SwitchSpec.model_validate(switch)
