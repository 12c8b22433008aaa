"""docs/api-reference.md is generated from the models: no drift, and every field is on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from datamigration_operator.api import reference
from datamigration_operator.api.spec import DataMigrationSpec, JobTemplateSpec
from datamigration_operator.api.status import DataMigrationStatus


def test_the_committed_reference_is_what_the_models_generate() -> None:
    assert reference.main(["--check"]) == 0, (
        "docs/api-reference.md is stale: python -m datamigration_operator.api.reference"
    )


def test_a_stale_page_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "api-reference.md"
    page.write_text(reference.render().replace("Objects per Weaviate batch", "Rows per batch"))
    assert reference.main(["--check", "--output", str(page)]) == 1
    assert "Objects per Weaviate batch" in capsys.readouterr().out
    assert reference.main(["--output", str(page)]) == 0
    assert reference.main(["--check", "--output", str(page)]) == 0


def _models(root: type[BaseModel]) -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = set()
    pending = [root]
    while pending:
        model = pending.pop()
        if model in found:
            continue
        found.add(model)
        for field in model.model_fields.values():
            for candidate in _types(field.annotation):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    pending.append(candidate)
    return found


def _types(annotation: object) -> list[object]:
    args = getattr(annotation, "__args__", ())
    return [annotation, *[t for arg in args for t in _types(arg)]]


@pytest.mark.parametrize("root", [DataMigrationSpec, DataMigrationStatus])
def test_every_model_and_field_has_a_row_with_its_description(root: type[BaseModel]) -> None:
    page = reference.render()
    for model in _models(root):
        section = page.split(f"### {model.__name__}\n", 1)[1].split("\n### ", 1)[0]
        for name, field in model.model_fields.items():
            alias = field.alias or name
            rows = [line for line in section.splitlines() if line.startswith(f"| `{alias}` |")]
            assert len(rows) == 1, f"{model.__name__}.{alias}"
            assert field.description, f"{model.__name__}.{alias} has no docstring"
            assert " ".join(field.description.split())[:40] in rows[0]


def test_a_row_shows_type_default_and_limits() -> None:
    page = reference.render()
    row = next(line for line in page.splitlines() if line.startswith("| `batchSize` |"))
    assert row.startswith("| `batchSize` | integer | `500` | ≥ 1, ≤ 10000 |")
    field = JobTemplateSpec.model_fields["batch_size"]
    assert field.default == 500
    assert "| `source` | [SourceSpec](#sourcespec) | required |" in page
    assert '| `onDelete` | `restore` \\| `keep` | `"restore"` |' in page
