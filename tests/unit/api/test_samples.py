"""samples/: every DataMigration passes the generated CRD's schema and CEL rules as a create,
parses with the models, and together they cover the common cases the README points to."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from datamigration_operator.api.crd import build_crd
from datamigration_operator.api.resource import DataMigration
from datamigration_sandbox.kube.crd_schema import SchemaValidator

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
SAMPLE_FILES = sorted(SAMPLES.glob("*.yaml"))


def _validator() -> SchemaValidator:
    return SchemaValidator(build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def _admit(obj: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What the API server does on create: defaults, then schema and CEL validation."""
    validator = _validator()
    defaulted = validator.apply_defaults(copy.deepcopy(obj))
    errors = [f"{c.field}: {c.message}" for c in validator.validate(defaulted, None)]
    # The API server prunes fields its schema lacks (a typo would vanish silently): a sample
    # keeps every field it writes.
    errors += [f"{path}: unknown field, pruned" for path in _pruned(obj, defaulted, "")]
    return defaulted, errors


def _pruned(written: Any, admitted: Any, path: str) -> list[str]:
    if isinstance(written, dict) and isinstance(admitted, dict):
        return [
            found
            for key, value in written.items()
            for found in (
                _pruned(value, admitted[key], f"{path}.{key}")
                if key in admitted
                else [f"{path}.{key}".lstrip(".")]
            )
        ]
    if isinstance(written, list) and isinstance(admitted, list):
        return [
            found
            for i, (w, a) in enumerate(zip(written, admitted, strict=True))
            for found in _pruned(w, a, f"{path}[{i}]")
        ]
    return []


def _load(path: Path) -> dict[str, Any]:
    documents = list(yaml.safe_load_all(path.read_text()))
    assert len(documents) == 1, f"{path.name}: one DataMigration per file"
    obj = documents[0]
    assert isinstance(obj, dict)
    return obj


def _parsed(path: Path) -> DataMigration:
    defaulted, errors = _admit(_load(path))
    assert errors == []
    return DataMigration.from_object(defaulted)


def test_there_are_samples() -> None:
    assert len(SAMPLE_FILES) >= 7


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_a_sample_passes_admission_and_parses(path: Path) -> None:
    obj = _load(path)
    assert obj["kind"] == "DataMigration"
    defaulted, errors = _admit(obj)
    assert errors == [], f"{path.name}: {errors}"
    parsed = DataMigration.from_object(defaulted)
    assert parsed.spec.phase == "migrate", "a DataMigration is created with phase migrate"
    assert parsed.metadata.name == obj["metadata"]["name"]
    assert parsed.metadata.namespace == obj["metadata"]["namespace"]


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_a_sample_opens_with_a_comment_that_says_what_it_shows(path: Path) -> None:
    header = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    assert len(header) >= 2, f"{path.name} needs a comment header"


def test_the_samples_cover_the_common_cases() -> None:
    samples = {path.stem: _parsed(path) for path in SAMPLE_FILES}
    specs = [dm.spec for dm in samples.values()]
    minimal = samples["minimal"].spec
    assert minimal.target.api_key_secret_ref is None
    assert minimal.app.workloads == []
    assert len(minimal.collections) == 1
    assert any(s.target.api_key_secret_ref and s.target.tls.ca_secret_ref for s in specs)
    assert any(s.target.tls.enabled for s in specs)
    assert any(len(s.app.workloads) > 1 for s in specs)
    assert any(c.references for s in specs for c in s.collections)
    assert any(c.vector_column for s in specs for c in s.collections)
    tuned = [s.job_template for s in specs if s.job_template.batch_size != 500]
    assert tuned
    assert tuned[0].concurrency != 2
    assert tuned[0].objects_per_second > 0
    assert tuned[0].resources.limits.memory != "512Mi"
    policy = [s.validation for s in specs if s.validation.max_mismatches > 0]
    assert policy
    assert policy[0].max_age != "1h"
    assert policy[0].drain_timeout != "2m"
    assert any(s.app.on_delete == "keep" for s in specs)


# -- the checks above can fail ------------------------------------------------------------------


def test_a_typo_in_a_sample_is_refused() -> None:
    obj = _load(SAMPLES / "tuned-jobs.yaml")
    obj["spec"]["jobTemplate"]["batchSise"] = obj["spec"]["jobTemplate"].pop("batchSize")
    _, errors = _admit(obj)
    assert errors == ["spec.jobTemplate.batchSise: unknown field, pruned"]
    with pytest.raises(ValueError, match="batchSise"):
        DataMigration.from_object(obj)


def test_a_sample_created_past_migrate_is_refused_by_cel() -> None:
    obj = _load(SAMPLES / "minimal.yaml")
    obj["spec"]["phase"] = "switch"
    _, errors = _admit(obj)
    assert any("must start with spec.phase: migrate" in error for error in errors)


def test_a_reference_to_an_unmapped_table_is_refused_by_cel() -> None:
    obj = _load(SAMPLES / "references-and-vectors.yaml")
    collections = obj["spec"]["collections"]
    obj["spec"]["collections"] = [c for c in collections if c["table"] != "conversations"]
    _, errors = _admit(obj)
    assert any("targetTable must be a table listed" in error for error in errors)
