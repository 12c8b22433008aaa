"""Property values are checked against their dataType; auto-schema infers dataTypes."""

from __future__ import annotations

import pytest

from datamigration_sandbox.weaviate.property_values import (
    PropertyValueError,
    coercer_for,
    infer_property,
)


def test_whole_doubles_become_ints_and_others_are_refused() -> None:
    coerce = coercer_for({"name": "views", "dataType": ["int"]}, "Article")
    assert coerce(3.0) == 3
    assert isinstance(coerce(3.0), int)
    with pytest.raises(
        PropertyValueError, match="invalid integer property 'views' on class 'Article'"
    ):
        coerce(3.5)
    with pytest.raises(PropertyValueError):
        coerce(True)


def test_dates_need_an_offset() -> None:
    coerce = coercer_for({"name": "at", "dataType": ["date[]"]}, "A")
    assert coerce(["2024-01-01T00:00:00Z"]) == ["2024-01-01T00:00:00Z"]
    with pytest.raises(PropertyValueError, match="RFC3339"):
        coerce(["2024-01-01T00:00:00"])


def test_nested_objects_are_checked() -> None:
    prop = {
        "name": "meta",
        "dataType": ["object"],
        "nestedProperties": [{"name": "n", "dataType": ["int"]}],
    }
    coerce = coercer_for(prop, "A")
    assert coerce({"n": 2.0}) == {"n": 2}
    with pytest.raises(PropertyValueError, match="no such nested property 'm'"):
        coerce({"m": 1})


@pytest.mark.parametrize(
    ("value", "data_type"),
    [
        ("plain", "text"),
        ("2024-05-01T10:00:00+02:00", "date"),
        ("6ba7b812-9dad-11d1-80b4-00c04fd430c8", "uuid"),
        (1.5, "number"),
        (2, "int"),
        (True, "boolean"),
        (["a"], "text[]"),
        ([{"x": "y"}], "object[]"),
    ],
)
def test_auto_schema_inference(value: object, data_type: str) -> None:
    inferred = infer_property("p", value)
    assert inferred is not None
    assert inferred["dataType"] == [data_type]


def test_empty_list_teaches_nothing() -> None:
    assert infer_property("p", []) is None


@pytest.mark.parametrize(
    ("value", "data_type"), [(None, "text"), ([], "text[]"), (2, "number"), (True, "boolean")]
)
def test_auto_schema_of_a_rest_body_as_weaviate_1_35(value: object, data_type: str) -> None:
    # what weaviate-server 1.35.2 added for POST /v1/objects {"a": null, "b": [], "c": 1}
    inferred = infer_property("p", value, rest=True)
    assert inferred is not None
    assert inferred["dataType"] == [data_type]
