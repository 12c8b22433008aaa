"""The DataMigration shown in the README is valid for both the CRD schema and the models."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from datamigration_operator.api.crd import build_crd
from datamigration_operator.api.resource import DataMigration
from datamigration_sandbox.kube.crd_schema import SchemaValidator

README = Path(__file__).resolve().parents[3] / "README.md"


def _readme_datamigration() -> dict[str, Any]:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    documents = [yaml.safe_load(block) for block in blocks]
    found = [d for d in documents if isinstance(d, dict) and d.get("kind") == "DataMigration"]
    assert found, "the README shows a DataMigration"
    return found[0]


def test_the_readme_example_passes_admission_and_parses() -> None:
    example = _readme_datamigration()
    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    validator = SchemaValidator(schema)
    defaulted = validator.apply_defaults(example)
    assert validator.validate(defaulted, None) == []
    parsed = DataMigration.from_object(defaulted)
    assert parsed.spec.phase == "migrate"
    assert parsed.spec.collections[1].references[0].target_table == "conversations"
