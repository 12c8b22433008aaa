"""BM25 and near-vector ranking of the sandbox Weaviate, checked against hand-computed values."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest

from datamigration_sandbox.weaviate.api_errors import WeaviateError
from datamigration_sandbox.weaviate.search import bm25, distance, near_vector, tokenize

SCHEMA: dict[str, Any] = {
    "class": "Doc",
    "properties": [
        {"name": "title", "dataType": ["text"], "tokenization": "word", "indexSearchable": True},
        {"name": "tags", "dataType": ["text[]"], "tokenization": "word", "indexSearchable": True},
        {"name": "code", "dataType": ["text"], "tokenization": "field", "indexSearchable": True},
        {"name": "n", "dataType": ["int"]},
    ],
    "invertedIndexConfig": {
        "bm25": {"b": 0.75, "k1": 1.2},
        "stopwords": {"preset": "en", "additions": None, "removals": None},
    },
    "vectorIndexConfig": {"distance": "cosine"},
}


def obj(uuid: str, vector: list[float] | None = None, **properties: Any) -> dict[str, Any]:
    packed = None if vector is None else struct.pack(f"<{len(vector)}f", *vector)
    return {"id": uuid, "properties": properties, "vector": packed, "vectors": {}}


def test_word_tokenization_lowercases_and_splits_on_punctuation() -> None:
    assert tokenize("Hello, World! foo_bar x2", "word") == ["hello", "world", "foo", "bar", "x2"]
    assert tokenize("  A-b  C ", "field") == ["A-b  C"]
    assert tokenize("A-b C", "lowercase") == ["a-b", "c"]


def test_bm25_score_matches_the_formula() -> None:
    objects = [obj("1", title="red apple"), obj("2", title="green pear pear"), obj("3", title="x")]
    hits = bm25(SCHEMA, objects, "pear", ["title"])
    assert [h.obj["id"] for h in hits] == ["2"]
    # N=3, n=1, tf=2, dl=3, avgdl=2
    idf = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))
    expected = idf * 2 * 2.2 / (2 + 1.2 * (1 - 0.75 + 0.75 * 3 / 2))
    assert hits[0].score == pytest.approx(expected)


def test_bm25_rare_terms_and_short_fields_rank_higher() -> None:
    objects = [
        obj("long", title="apple " + "filler " * 10),
        obj("short", title="apple"),
        obj("common", tags=["apple", "fruit"], title="fruit"),
    ]
    hits = bm25(SCHEMA, objects, "apple")
    assert hits[0].obj["id"] == "short"
    assert {h.obj["id"] for h in hits} == {"short", "long", "common"}


def test_bm25_and_operator_minimum_match_and_stopwords() -> None:
    objects = [obj("1", title="red apple"), obj("2", title="red pear"), obj("3", title="the")]
    assert {h.obj["id"] for h in bm25(SCHEMA, objects, "red apple")} == {"1", "2"}
    assert [h.obj["id"] for h in bm25(SCHEMA, objects, "red apple", operator="and")] == ["1"]
    assert [h.obj["id"] for h in bm25(SCHEMA, objects, "red apple", minimum_match=2)] == ["1"]
    assert bm25(SCHEMA, objects, "the a of") == []


def test_bm25_refuses_non_text_and_unknown_properties() -> None:
    with pytest.raises(WeaviateError, match="not searchable"):
        bm25(SCHEMA, [], "1", ["n"])
    with pytest.raises(WeaviateError, match="nosuch"):
        bm25(SCHEMA, [], "x", ["nosuch"])
    with pytest.raises(WeaviateError, match="boost"):
        bm25(SCHEMA, [], "x", ["title^high"])


def test_near_vector_cosine_order_threshold_and_missing_vectors() -> None:
    objects = [
        obj("far", [0.0, 1.0]),
        obj("none"),
        obj("near", [1.0, 0.1]),
        obj("same", [2.0, 0.0]),
    ]
    hits = near_vector(SCHEMA, objects, [1.0, 0.0])
    assert [h.obj["id"] for h in hits] == ["same", "near", "far"]
    assert hits[0].distance == pytest.approx(0.0, abs=1e-7)
    assert hits[1].distance == pytest.approx(1 - 1 / math.sqrt(1.01), abs=1e-6)
    assert hits[2].distance == pytest.approx(1.0)
    within = near_vector(SCHEMA, objects, [1.0, 0.0], max_distance=0.5)
    assert [h.obj["id"] for h in within] == ["same", "near"]


def test_near_vector_refuses_wrong_dimensions_and_unknown_targets() -> None:
    with pytest.raises(WeaviateError, match="lengths don't match"):
        near_vector(SCHEMA, [obj("a", [1.0, 0.0])], [1.0, 0.0, 0.0])
    with pytest.raises(WeaviateError, match="target vector"):
        near_vector(SCHEMA, [], [1.0], target="body")


def test_bm25_statistics_come_from_the_whole_collection_not_the_filtered_part() -> None:
    objects = [obj("1", title="pear"), obj("2", title="pear tart"), obj("3", title="plum")]
    unfiltered = {h.obj["id"]: h.score for h in bm25(SCHEMA, objects, "pear")}
    filtered = bm25(SCHEMA, objects[1:], "pear", corpus=objects)
    assert [h.obj["id"] for h in filtered] == ["2"]
    assert filtered[0].score == pytest.approx(unfiltered["2"])
    # scored against the filtered part alone, "pear" would look rarer and score differently
    assert bm25(SCHEMA, objects[1:], "pear")[0].score != pytest.approx(unfiltered["2"])


def test_distance_metrics() -> None:
    assert distance("cosine", [1.0, 0.0], [0.0, 2.0]) == pytest.approx(1.0)
    assert distance("cosine", [0.0, 0.0], [1.0, 1.0]) == 1.0  # a zero vector has no direction
    assert distance("dot", [1.0, 2.0], [3.0, 4.0]) == pytest.approx(-11.0)
    assert distance("l2-squared", [1.0, 2.0], [4.0, 6.0]) == pytest.approx(25.0)
    assert distance("manhattan", [1.0, 2.0], [4.0, 6.0]) == pytest.approx(7.0)
