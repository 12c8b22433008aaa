"""Filters compiled from the client's own protobuf, evaluated over stored objects."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from weaviate.classes.query import Filter
from weaviate.collections.filters import _FilterToGRPC

from datamigration_sandbox.weaviate.api_errors import WeaviateError
from datamigration_sandbox.weaviate.database import Database, beacon
from datamigration_sandbox.weaviate.filters import compile_filter, tokenize

AUTHOR = str(uuid.uuid5(uuid.NAMESPACE_DNS, "ada"))


@pytest.fixture
def database() -> Database:
    database = Database()
    database.create({"class": "Author", "properties": [{"name": "name", "dataType": ["text"]}]})
    database.create(
        {
            "class": "Post",
            "properties": [
                {"name": "title", "dataType": ["text"]},
                {"name": "code", "dataType": ["text"], "tokenization": "field"},
                {"name": "n", "dataType": ["int"]},
                {"name": "tags", "dataType": ["text[]"]},
                {"name": "at", "dataType": ["date"]},
                {"name": "author", "dataType": ["Author"]},
            ],
        }
    )
    author = database.get("Author")
    author.put(_obj(AUTHOR, "Author", {"name": "Ada Lovelace"}))
    posts = database.get("Post")
    for n in range(6):
        properties: dict[str, Any] = {
            "title": f"Hello, World number {n}",
            "code": f"C-{n}",
            "n": n,
            "tags": ["red" if n % 2 else "blue", f"t{n}"],
            "at": f"2024-01-0{n + 1}T00:00:00Z",
        }
        if n < 2:
            properties["author"] = [beacon("Author", AUTHOR)]
        posts.put(_obj(str(uuid.UUID(int=n)), "Post", properties))
    return database


def _obj(uid: str, cls: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": uid,
        "class": cls,
        "properties": properties,
        "vector": None,
        "vectors": {},
        "creationTimeUnix": 1000,
        "lastUpdateTimeUnix": 1000,
    }


def matching(database: Database, flt: Any) -> list[int]:
    posts = database.get("Post")
    predicate = compile_filter(_FilterToGRPC.convert(flt), posts, database)
    return sorted(o["properties"]["n"] for o in posts.objects.values() if predicate(o))


def test_word_tokenized_equal_matches_contained_tokens(database: Database) -> None:
    assert matching(database, Filter.by_property("title").equal("hello NUMBER 3")) == [3]
    assert matching(database, Filter.by_property("title").not_equal("number 3")) == [0, 1, 2, 4, 5]


def test_field_tokenization_compares_whole_values(database: Database) -> None:
    assert matching(database, Filter.by_property("code").equal("C-2")) == [2]
    assert matching(database, Filter.by_property("code").equal("c-2")) == []
    assert matching(database, Filter.by_property("code").like("C-*")) == [0, 1, 2, 3, 4, 5]


def test_ranges_dates_and_arrays(database: Database) -> None:
    assert matching(database, Filter.by_property("n").greater_or_equal(4)) == [4, 5]
    assert matching(database, Filter.by_property("at").less_than("2024-01-03T00:00:00Z")) == [0, 1]
    assert matching(database, Filter.by_property("tags").contains_any(["t1", "t2"])) == [1, 2]
    assert matching(database, Filter.by_property("tags").contains_all(["red", "t3"])) == [3]
    assert matching(database, Filter.by_property("tags").contains_none(["red"])) == [0, 2, 4]


def test_boolean_combinations_and_ids(database: Database) -> None:
    either = Filter.by_property("n").equal(0) | Filter.by_id().equal(uuid.UUID(int=5))
    assert matching(database, either) == [0, 5]
    assert matching(database, Filter.not_(Filter.by_property("n").less_than(5))) == [5]
    assert matching(database, Filter.by_property("author").is_none(True)) == [2, 3, 4, 5]


def test_reference_targets_and_counts(database: Database) -> None:
    by_author = Filter.by_ref("author").by_property("name").equal("ada")
    assert matching(database, by_author) == [0, 1]
    assert matching(database, Filter.by_ref_count("author").equal(1)) == [0, 1]


def test_unknown_property_is_a_clear_error(database: Database) -> None:
    with pytest.raises(WeaviateError, match="no such prop with name 'nope'"):
        matching(database, Filter.by_property("nope").equal(1))


def test_tokenize() -> None:
    assert tokenize("Hello, World_x 42", "word") == ["hello", "world", "x", "42"]
    assert tokenize(" A b ", "whitespace") == ["A", "b"]
    assert tokenize(" A b ", "field") == ["A b"]
