"""The app's plans take the collection's recorded types; text always takes numbers."""

from __future__ import annotations

import pytest

from datamigration_operator.dualwrite.plan_alignment import aligned_plan, text_takes_numbers
from datamigration_operator.migration.mapping import (
    CollectionPlan,
    MappingError,
    ObjectBuilder,
    PropertyPlan,
    ReferencePlan,
)

PLANNED_ON_AN_EMPTY_TABLE = CollectionPlan(
    table="items",
    collection="Item",
    key_columns=("id",),
    properties=(
        PropertyPlan("meta", "meta", "number"),  # JSON affinity NUMERIC, no rows yet
        PropertyPlan("price", "price", "number"),
        PropertyPlan("raw", "raw", "text", numbers_as_text=True),
        PropertyPlan("title", "title", "text"),
        PropertyPlan("added", "added", "int"),  # not in the collection yet
    ),
    references=(),
    vector_column=None,
)


def test_recorded_types_win_and_text_takes_numbers() -> None:
    recorded = {"meta": "text", "price": "int", "raw": "int", "title": "text"}
    plan = aligned_plan(PLANNED_ON_AN_EMPTY_TABLE, recorded, frozenset())
    assert [(p.name, p.data_type, p.numbers_as_text) for p in plan.properties] == [
        ("meta", "text", True),
        ("price", "int", False),
        ("raw", "int", False),
        ("title", "text", True),
        ("added", "int", False),
    ]
    built = ObjectBuilder(plan, migration_namespace="ns/dm").build(
        {"id": 1, "meta": '{"a": 1}', "price": 3, "raw": 5, "title": 42, "added": 7}
    )
    assert built.properties["meta"] == '{"a": 1}'
    assert built.properties["title"] == "42"


def test_a_reference_against_a_scalar_property_is_refused_by_name() -> None:
    with pytest.raises(MappingError, match="has meta as a reference"):
        aligned_plan(PLANNED_ON_AN_EMPTY_TABLE, {}, frozenset({"meta"}))
    with_reference = CollectionPlan(
        table="messages",
        collection="Message",
        key_columns=("id",),
        properties=(),
        references=(ReferencePlan("conversation_id", "conversation", "conversations", "Conv"),),
        vector_column=None,
    )
    with pytest.raises(MappingError, match="has conversation as a int property"):
        aligned_plan(with_reference, {"conversation": "int"}, frozenset())


def test_text_takes_numbers_leaves_other_types() -> None:
    plan = text_takes_numbers(PLANNED_ON_AN_EMPTY_TABLE)
    assert [p.numbers_as_text for p in plan.properties] == [False, False, True, True, False]
