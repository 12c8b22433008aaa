"""A DataMigration may name any table and column SQLite accepts; admission and the models agree."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from datamigration_operator.api.crd import build_crd
from datamigration_operator.api.resource import DataMigration
from datamigration_sandbox.kube.crd_schema import SchemaValidator

ODD_COLLECTIONS: list[dict[str, Any]] = [
    {
        "table": "Order Details",
        "collection": "OrderDetails",
        "idColumn": "Order ID",
        "properties": [{"column": "unit price"}, {"column": 'say "hi"', "name": "sayHi"}],
        "references": [{"column": "product-id", "targetTable": 'quo"te'}],
        "vectorColumn": "embedding vector",
    },
    {"table": 'quo"te', "collection": "Quoted", "idColumn": "k-ey"},
    {"table": "select", "collection": "Select"},
    {"table": "商品", "collection": "Goods", "properties": [{"column": "名前", "name": "namae"}]},
]


def _migration(collections: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "migrations.gremlins.ai/v1alpha1",
        "kind": "DataMigration",
        "metadata": {"name": "odd", "namespace": "shop"},
        "spec": {
            "source": {"claimName": "shop-data", "path": "app.db"},
            "target": {
                "http": {"host": "weaviate", "port": 8080},
                "grpc": {"host": "weaviate", "port": 50051},
            },
            "collections": collections,
            "app": {"configMapRef": {"name": "shop"}},
        },
    }


@pytest.fixture(scope="module")
def validator() -> SchemaValidator:
    return SchemaValidator(build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def test_tables_and_columns_with_spaces_quotes_unicode_and_keywords_are_admitted(
    validator: SchemaValidator,
) -> None:
    defaulted = validator.apply_defaults(_migration(copy.deepcopy(ODD_COLLECTIONS)))
    assert validator.validate(defaulted, None) == []
    parsed = DataMigration.from_object(defaulted)
    assert [c.table for c in parsed.spec.collections] == [
        "Order Details",
        'quo"te',
        "select",
        "商品",
    ]
    assert parsed.spec.collections[0].id_column == "Order ID"


def test_an_empty_name_and_a_nul_are_refused_by_admission_and_the_models(
    validator: SchemaValidator,
) -> None:
    for table in ("", "a\x00b"):
        bad = _migration([{"table": table, "collection": "T"}])
        causes = validator.validate(validator.apply_defaults(bad), None)
        assert [c.field for c in causes] == ["spec.collections[0].table"], causes
        with pytest.raises(ValidationError):
            DataMigration.from_object(bad)
