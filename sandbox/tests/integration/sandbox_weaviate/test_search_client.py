"""BM25 and near-vector search through the real weaviate-client against the sandbox server."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import weaviate
from weaviate.classes.config import Configure, DataType, Property
from weaviate.classes.query import Filter, MetadataQuery
from weaviate.collections import Collection
from weaviate.exceptions import WeaviateQueryError

from sandbox_weaviate.conftest import RunningWeaviate

DOCS = [
    ("fox", "The quick brown fox", "jumps over the lazy dog", "animals", [1.0, 0.0, 0.0]),
    ("dog", "A lazy dog", "sleeps all day long in the sun", "animals", [0.9, 0.1, 0.0]),
    ("db", "SQLite databases", "a small fast database engine", "tech", [0.0, 1.0, 0.0]),
    ("vec", "Vector databases", "search by vector distance, fox free", "tech", [0.0, 0.7, 0.7]),
    ("empty", "", "", "misc", [0.0, 0.0, 1.0]),
]


@pytest.fixture
def client(sandbox: RunningWeaviate) -> Iterator[weaviate.WeaviateClient]:
    with sandbox.connect() as connected:
        yield connected


@pytest.fixture
def docs(client: weaviate.WeaviateClient) -> Collection:
    collection = client.collections.create(
        "Doc",
        properties=[
            Property(name="slug", data_type=DataType.TEXT),
            Property(name="title", data_type=DataType.TEXT),
            Property(name="body", data_type=DataType.TEXT),
            Property(name="topic", data_type=DataType.TEXT),
        ],
        vector_config=Configure.Vectors.self_provided(),
    )
    with collection.batch.fixed_size(batch_size=10) as batch:
        for slug, title, body, topic, vector in DOCS:
            batch.add_object(
                {"slug": slug, "title": title, "body": body, "topic": topic}, vector=vector
            )
    assert not collection.batch.failed_objects
    return collection


def slugs(result: object) -> list[str]:
    return [str(o.properties["slug"]) for o in result.objects]  # type: ignore[attr-defined]


def test_bm25_ranks_by_score_and_skips_non_matches(docs: Collection) -> None:
    result = docs.query.bm25(query="lazy dog", limit=10, return_metadata=MetadataQuery(score=True))
    # "dog" is in the title of one and in the body of the other; both contain "lazy"
    assert set(slugs(result)) == {"fox", "dog"}
    scores = [o.metadata.score for o in result.objects]
    assert all(s is not None and s > 0 for s in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    # the shorter title "A lazy dog" holds both terms: it ranks first
    assert slugs(result)[0] == "dog"


def test_bm25_query_properties_limit_and_filters(docs: Collection) -> None:
    titles_only = docs.query.bm25(query="fox", query_properties=["title"])
    assert slugs(titles_only) == ["fox"]
    everywhere = docs.query.bm25(query="fox databases", limit=10)
    assert set(slugs(everywhere)) == {"fox", "vec", "db"}
    assert len(docs.query.bm25(query="fox databases", limit=2).objects) == 2
    filtered = docs.query.bm25(
        query="fox databases", filters=Filter.by_property("topic").equal("tech"), limit=10
    )
    assert set(slugs(filtered)) == {"vec", "db"}
    assert slugs(filtered)[0] == "vec"  # matches both terms
    # a filter narrows the results; the scores stay those of the whole collection
    scored = MetadataQuery(score=True)
    everywhere_scores = {
        o.properties["slug"]: o.metadata.score
        for o in docs.query.bm25(query="fox databases", limit=10, return_metadata=scored).objects
    }
    for o in docs.query.bm25(
        query="fox databases",
        filters=Filter.by_property("topic").equal("tech"),
        return_metadata=scored,
    ).objects:
        assert o.metadata.score == pytest.approx(everywhere_scores[o.properties["slug"]])


def test_bm25_stopwords_only_and_unknown_property(docs: Collection) -> None:
    assert docs.query.bm25(query="the of a").objects == []
    with pytest.raises(WeaviateQueryError, match="nosuch"):
        docs.query.bm25(query="fox", query_properties=["nosuch"])


def test_bm25_boost_changes_the_ranking(docs: Collection) -> None:
    # "fox" in the title of "fox" and the body of "vec": boosting body puts "vec" first
    plain = docs.query.bm25(query="fox", query_properties=["title", "body"])
    boosted = docs.query.bm25(query="fox", query_properties=["title", "body^10"])
    assert set(slugs(plain)) == set(slugs(boosted)) == {"fox", "vec"}
    assert slugs(boosted)[0] == "vec"


def test_near_vector_orders_by_cosine_distance(docs: Collection) -> None:
    result = docs.query.near_vector(
        near_vector=[1.0, 0.0, 0.0], limit=2, return_metadata=MetadataQuery(distance=True)
    )
    assert slugs(result) == ["fox", "dog"]
    distances = [o.metadata.distance for o in result.objects]
    assert distances[0] == pytest.approx(0.0, abs=1e-6)
    assert distances[1] == pytest.approx(1 - 0.9 / math.sqrt(0.82), abs=1e-5)
    assert distances == sorted(distances)  # type: ignore[type-var]


def test_near_vector_with_filter_and_max_distance(docs: Collection) -> None:
    tech = docs.query.near_vector(
        near_vector=[1.0, 0.0, 0.0], filters=Filter.by_property("topic").equal("tech"), limit=5
    )
    assert set(slugs(tech)) == {"db", "vec"}
    close = docs.query.near_vector(near_vector=[1.0, 0.0, 0.0], distance=0.1, limit=5)
    assert slugs(close) == ["fox", "dog"]


def test_near_vector_dimension_mismatch_is_an_error(docs: Collection) -> None:
    with pytest.raises(WeaviateQueryError, match="vector lengths"):
        docs.query.near_vector(near_vector=[1.0, 0.0])
