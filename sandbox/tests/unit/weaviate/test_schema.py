"""Class definitions get real Weaviate's defaults; invalid ones are refused with 422."""

from __future__ import annotations

from typing import Any

import pytest

from datamigration_sandbox.weaviate.api_errors import WeaviateError
from datamigration_sandbox.weaviate.schema import build_class


def build(body: dict[str, Any], known: tuple[str, ...] = ()) -> dict[str, Any]:
    return build_class(body, dict.fromkeys(known))


def test_defaults_match_a_real_weaviate() -> None:
    schema = build(
        {
            "class": "article",
            "properties": [
                {"name": "title", "dataType": ["text"]},
                {"name": "views", "dataType": ["int"]},
            ],
        }
    )
    assert schema["class"] == "Article"
    assert schema["vectorizer"] == "none"
    assert schema["vectorIndexType"] == "hnsw"
    assert schema["vectorIndexConfig"]["efConstruction"] == 128
    assert schema["invertedIndexConfig"]["bm25"] == {"b": 0.75, "k1": 1.2}
    assert schema["shardingConfig"]["desiredCount"] == 1
    title, views = schema["properties"]
    assert title == {
        "dataType": ["text"],
        "name": "title",
        "tokenization": "word",
        "indexFilterable": True,
        "indexRangeFilters": False,
        "indexSearchable": True,
    }
    assert "tokenization" not in views
    assert views["indexSearchable"] is False


def test_named_vector_gets_a_full_index_config() -> None:
    schema = build(
        {
            "class": "A",
            "vectorConfig": {"default": {"vectorizer": {"none": {}}, "vectorIndexType": "hnsw"}},
        }
    )
    assert "vectorizer" not in schema
    assert schema["vectorConfig"]["default"]["vectorIndexConfig"]["distance"] == "cosine"


def test_given_settings_override_defaults() -> None:
    schema = build({"class": "A", "replicationConfig": {"factor": 3}})
    assert schema["replicationConfig"]["factor"] == 3
    assert schema["replicationConfig"]["deletionStrategy"] == "NoAutomatedResolution"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"class": "A"}, "already exists"),
        ({"class": "1abc"}, "not a valid class name"),
        ({"class": "B", "properties": [{"name": "id", "dataType": ["text"]}]}, "reserved"),
        (
            {
                "class": "B",
                "properties": [{"name": "x", "dataType": ["int"], "tokenization": "word"}],
            },
            "Tokenization is not allowed",
        ),
        (
            {"class": "B", "properties": [{"name": "r", "dataType": ["Missing"]}]},
            "nonexistent class",
        ),
        ({"class": "B", "properties": [{"name": "o", "dataType": ["object"]}]}, "nested property"),
        (
            {
                "class": "B",
                "properties": [
                    {"name": "x", "dataType": ["text"]},
                    {"name": "X", "dataType": ["int"]},
                ],
            },
            "twice",
        ),
    ],
)
def test_invalid_definitions_are_refused(body: dict[str, Any], message: str) -> None:
    with pytest.raises(WeaviateError, match=message) as raised:
        build(body, known=("A",))
    assert raised.value.status == 422


def test_reference_to_a_known_class_and_to_itself() -> None:
    schema = build(
        {
            "class": "Post",
            "properties": [
                {"name": "author", "dataType": ["author"]},
                {"name": "parent", "dataType": ["Post"]},
            ],
        },
        known=("Author",),
    )
    assert [p["dataType"] for p in schema["properties"]] == [["Author"], ["Post"]]
