"""weaviate-client 4.24 against the sandbox Weaviate: what the copy/sync/validate Jobs rely on."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import weaviate
from weaviate.classes.config import DataType, Property, ReferenceProperty
from weaviate.classes.query import Filter, MetadataQuery, QueryReference
from weaviate.collections.classes.config import VectorIndexType

from datamigration_operator.api.job_contract import JobTarget
from datamigration_operator.api.spec import Endpoint
from datamigration_operator.migration.sink.weaviate_sink import WeaviateAuthError, connect
from sandbox_weaviate.conftest import API_KEY, RunningWeaviate

NAMESPACE = uuid.UUID("6ba7b812-9dad-11d1-80b4-00c04fd430c8")


def row_id(key: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"article/{key}")


@pytest.fixture
def client(sandbox: RunningWeaviate) -> Iterator[weaviate.WeaviateClient]:
    with sandbox.connect() as connected:
        yield connected


def create_collections(client: weaviate.WeaviateClient) -> Any:
    client.collections.create("Author", properties=[Property(name="name", data_type=DataType.TEXT)])
    return client.collections.create(
        "Article",
        properties=[
            Property(name="title", data_type=DataType.TEXT),
            Property(name="views", data_type=DataType.INT),
            Property(name="score", data_type=DataType.NUMBER),
            Property(name="published", data_type=DataType.BOOL),
            Property(name="created", data_type=DataType.DATE),
            Property(name="tags", data_type=DataType.TEXT_ARRAY),
        ],
        references=[ReferenceProperty(name="author", target_collection="Author")],
    )


def article(key: int) -> dict[str, Any]:
    return {
        "title": f"Article number {key}",
        "views": key,
        "score": key / 2,
        "published": key % 2 == 0,
        "created": datetime(2024, 1, 1 + key % 28, tzinfo=UTC),
        "tags": ["even" if key % 2 == 0 else "odd", f"t{key % 3}"],
    }


def test_collection_config_parses_as_from_a_real_weaviate(client: weaviate.WeaviateClient) -> None:
    create_collections(client)
    config = client.collections.get("Article").config.get()
    props = {p.name: p for p in config.properties}
    assert props["title"].tokenization is not None
    assert props["title"].tokenization.value == "word"
    assert props["title"].index_searchable is True
    assert props["views"].index_searchable is False
    assert props["views"].tokenization is None
    assert [r.name for r in config.references] == ["author"]
    assert config.references[0].target_collections == ["Author"]
    assert config.vector_config is not None
    default = config.vector_config["default"]
    assert default.vector_index_config is not None
    assert default.vector_index_config.distance_metric.value == "cosine"
    assert config.replication_config.factor == 1
    assert config.sharding_config is not None
    assert config.sharding_config.desired_count == 1
    assert sorted(client.collections.list_all()) == ["Article", "Author"]


def test_legacy_vectorizer_none_config(client: weaviate.WeaviateClient) -> None:
    from weaviate.classes.config import Configure

    # apps created before weaviate-client 4.16 still pass it (the client says it is deprecated)
    with pytest.warns(DeprecationWarning, match="vector_config"):
        client.collections.create("Legacy", vectorizer_config=Configure.Vectorizer.none())
    config = client.collections.get("Legacy").config.get()
    assert config.vector_index_type == VectorIndexType.HNSW
    assert config.vector_index_config is not None
    assert config.vectorizer is not None


def test_duplicate_collection_is_refused_with_the_real_error(
    client: weaviate.WeaviateClient,
) -> None:
    create_collections(client)
    with pytest.raises(weaviate.exceptions.UnexpectedStatusCodeError) as raised:
        client.collections.create("Article")
    assert raised.value.status_code == 422
    assert "already exists" in str(raised.value)


def test_insert_many_iterate_fetch_and_references(client: weaviate.WeaviateClient) -> None:
    articles = create_collections(client)
    author_id = client.collections.get("Author").data.insert({"name": "Ada"})
    objects = [
        weaviate.classes.data.DataObject(
            properties=article(key),
            uuid=row_id(key),
            references={"author": author_id},
            vector=[0.25, 0.5, float(key)],
        )
        for key in range(250)
    ]
    result = articles.data.insert_many(objects)
    assert not result.has_errors

    seen = {obj.uuid: obj.properties for obj in articles.iterator(cache_size=40)}
    assert len(seen) == 250
    assert seen[row_id(7)]["views"] == 7
    assert seen[row_id(7)]["tags"] == ["odd", "t1"]
    assert seen[row_id(7)]["created"] == datetime(2024, 1, 8, tzinfo=UTC)

    fetched = articles.query.fetch_object_by_id(
        row_id(3),
        include_vector=True,
        return_references=QueryReference(link_on="author", return_properties=["name"]),
    )
    assert fetched is not None
    assert fetched.properties["score"] == 1.5
    assert fetched.vector["default"] == [0.25, 0.5, 3.0]
    assert fetched.references["author"].objects[0].properties == {"name": "Ada"}
    assert fetched.references["author"].objects[0].uuid == author_id
    assert articles.data.exists(row_id(3))
    assert not articles.data.exists(row_id(999))


def test_filters_follow_weaviate_semantics(client: weaviate.WeaviateClient) -> None:
    articles = create_collections(client)
    articles.data.insert_many(
        [weaviate.classes.data.DataObject(properties=article(k), uuid=row_id(k)) for k in range(30)]
    )

    def keys(flt: Any) -> list[int]:
        found = articles.query.fetch_objects(filters=flt, limit=100).objects
        return sorted(int(o.properties["views"]) for o in found)

    assert keys(Filter.by_property("views").greater_than(25)) == [26, 27, 28, 29]
    assert keys(Filter.by_property("views").less_or_equal(1)) == [0, 1]
    assert keys(Filter.by_property("title").equal("NUMBER 12")) == [12]
    assert keys(
        Filter.by_property("title").like("numb*") & Filter.by_property("views").equal(3)
    ) == [3]
    assert keys(Filter.by_property("tags").contains_all(["odd", "t0"])) == [3, 9, 15, 21, 27]
    assert keys(
        Filter.by_property("tags").contains_any(["t2"])
        & Filter.by_property("published").equal(True)
    ) == [2, 8, 14, 20, 26]
    assert keys(Filter.by_id().contains_any([row_id(4), row_id(5)])) == [4, 5]
    assert keys(Filter.by_id().equal(row_id(6))) == [6]
    assert keys(Filter.not_(Filter.by_property("views").less_than(28))) == [28, 29]
    assert keys(Filter.by_property("created").less_than(datetime(2024, 1, 3, tzinfo=UTC))) == [
        0,
        1,
        28,
        29,
    ]
    assert keys(
        Filter.by_property("score").greater_or_equal(14.0) | Filter.by_property("views").equal(0)
    ) == [0, 28, 29]


def test_delete_many_and_aggregate(client: weaviate.WeaviateClient) -> None:
    articles = create_collections(client)
    articles.data.insert_many(
        [weaviate.classes.data.DataObject(properties=article(k), uuid=row_id(k)) for k in range(40)]
    )
    flt = Filter.by_property("published").equal(True)
    dry = articles.data.delete_many(where=flt, dry_run=True)
    assert (dry.matches, dry.successful) == (20, 0)
    assert articles.aggregate.over_all(total_count=True).total_count == 40
    done = articles.data.delete_many(where=flt, verbose=True)
    assert (done.matches, done.successful, done.failed) == (20, 20, 0)
    assert {o.uuid for o in done.objects} == {row_id(k) for k in range(0, 40, 2)}
    assert articles.aggregate.over_all(total_count=True).total_count == 20
    articles.data.delete_by_id(row_id(1))
    assert articles.aggregate.over_all(total_count=True).total_count == 19


def test_injected_failures_show_up_per_object(sandbox: RunningWeaviate) -> None:
    sandbox.server.faults.always_fail_ids = {str(row_id(5))}
    with sandbox.connect() as client:
        articles = create_collections(client)
        result = articles.data.insert_many(
            [
                weaviate.classes.data.DataObject(properties=article(k), uuid=row_id(k))
                for k in range(10)
            ]
        )
        assert set(result.errors) == {5}
        assert result.errors[5].message == "sandbox: injected failure"

        sandbox.server.faults.always_fail_ids = set()
        sandbox.server.faults.update({"fail_fraction": 0.1, "seed": 7})
        with client.batch.fixed_size(batch_size=50) as batch:
            for key in range(100, 300):
                batch.add_object("Article", properties=article(key), uuid=row_id(key))
        failed = client.batch.failed_objects
        assert len(failed) == 20
        assert all(f.message == "sandbox: injected failure" for f in failed)
        assert articles.aggregate.over_all(total_count=True).total_count == 9 + 180


def test_dynamic_batch_writes_everything(client: weaviate.WeaviateClient) -> None:
    articles = create_collections(client)
    with client.batch.dynamic() as batch:
        for key in range(500):
            batch.add_object("Article", properties=article(key), uuid=row_id(key))
    assert client.batch.failed_objects == []
    assert articles.aggregate.over_all(total_count=True).total_count == 500


def test_type_mismatch_is_reported_per_object(client: weaviate.WeaviateClient) -> None:
    articles = create_collections(client)
    result = articles.data.insert_many(
        [
            weaviate.classes.data.DataObject(properties={"views": 1}, uuid=row_id(1)),
            weaviate.classes.data.DataObject(properties={"views": "many"}, uuid=row_id(2)),
        ]
    )
    assert set(result.errors) == {1}
    assert "invalid integer property 'views'" in result.errors[1].message


def test_unknown_property_is_added_by_auto_schema(client: weaviate.WeaviateClient) -> None:
    articles = create_collections(client)
    articles.data.insert_many(
        [weaviate.classes.data.DataObject(properties={"extra": "x"}, uuid=row_id(1))]
    )
    names = {p.name: p.data_type.value for p in articles.config.get().properties}
    assert names["extra"] == "text"


def test_unknown_property_refused_without_auto_schema(strict_sandbox: RunningWeaviate) -> None:
    with strict_sandbox.connect() as client:
        articles = create_collections(client)
        result = articles.data.insert_many(
            [
                weaviate.classes.data.DataObject(properties={"extra": "x"}, uuid=row_id(1)),
                weaviate.classes.data.DataObject(properties={"views": 2}, uuid=row_id(2)),
            ]
        )
        assert set(result.errors) == {0}
        assert "no such prop with name 'extra'" in result.errors[0].message


def test_unavailable_burst_is_retried_by_the_client(sandbox: RunningWeaviate) -> None:
    with sandbox.connect() as client:
        articles = create_collections(client)
        sandbox.server.faults.unavailable_bursts = 1
        result = articles.data.insert_many(
            [weaviate.classes.data.DataObject(properties=article(1), uuid=row_id(1))]
        )
        assert not result.has_errors
        assert sandbox.server.faults.unavailable_bursts == 0
        assert len(articles) == 1


def test_api_key_is_required(sandbox: RunningWeaviate) -> None:
    with pytest.raises(weaviate.exceptions.WeaviateBaseError):
        sandbox.connect(api_key="wrong").close()
    request = urllib.request.Request(f"http://127.0.0.1:{sandbox.http_port}/v1/schema")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 401
    assert json.loads(raised.value.read())["code"] == 401


def test_a_wrong_key_is_told_from_no_key_as_weaviate_server_does(sandbox: RunningWeaviate) -> None:
    """401 either way; the body says which (weaviate-server: `unauthorized: invalid api key`)."""
    url = f"http://127.0.0.1:{sandbox.http_port}/v1/meta"
    wrong = urllib.request.Request(url, headers={"Authorization": "Bearer wrong"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(wrong, timeout=5)
    assert raised.value.code == 401
    assert json.loads(raised.value.read())["message"] == "unauthorized: invalid api key"
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(url, timeout=5)
    assert "anonymous access not enabled" in json.loads(raised.value.read())["message"]


def test_the_jobs_connect_tells_a_refused_key_before_any_work(sandbox: RunningWeaviate) -> None:
    target = JobTarget(
        http=Endpoint(host="127.0.0.1", port=sandbox.http_port),
        grpc=Endpoint(host="127.0.0.1", port=sandbox.grpc_port),
        tls=False,
    )
    with pytest.raises(WeaviateAuthError) as raised:
        connect(target, "wrong")
    assert str(raised.value) == (
        f"Weaviate refused the API key (HTTP 401 from http://127.0.0.1:{sandbox.http_port}: "
        "unauthorized: invalid api key)"
    )
    with pytest.raises(WeaviateAuthError, match="without an API key"):
        connect(target, None)
    connect(target, API_KEY).close()


def test_rest_object_endpoints(client: weaviate.WeaviateClient, sandbox: RunningWeaviate) -> None:
    articles = create_collections(client)
    articles.data.insert_many(
        [weaviate.classes.data.DataObject(properties=article(1), uuid=row_id(1), vector=[1.0, 0.0])]
    )
    base = f"http://127.0.0.1:{sandbox.http_port}/v1/objects/Article/{row_id(1)}?include=vector"
    request = urllib.request.Request(base, headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        body = json.loads(response.read())
    assert body["id"] == str(row_id(1))
    assert body["properties"]["views"] == 1
    assert body["vector"] == [1.0, 0.0]
    assert body["creationTimeUnix"] <= body["lastUpdateTimeUnix"]
    articles.data.update(row_id(1), properties={"views": 5})
    (fetched,) = articles.query.fetch_objects(
        filters=Filter.by_id().equal(row_id(1)), return_metadata=MetadataQuery.full()
    ).objects
    assert fetched.properties["views"] == 5
    assert fetched.properties["title"] == "Article number 1"
    assert fetched.metadata.creation_time is not None
