"""The emulated Weaviate against the real weaviate-server, the oracle: each scenario runs the
same requests on both and its outcome (status codes, error messages, stored values) must be the
same. A scenario covers what our code depends on: the REST schema endpoints, gRPC batch writes
with per-object errors, references, search, delete and aggregate."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter
from weaviate.exceptions import WeaviateInsertManyAllFailedError, WeaviateQueryError

from datamigration_operator.api.job_contract import JobTarget
from datamigration_operator.api.spec import Endpoint
from datamigration_operator.migration.sink.weaviate_sink import connect
from datamigration_sandbox.weaviate.background import serving_in_background
from datamigration_sandbox.weaviate.server import WeaviateServer
from tests.real.conftest import WEAVIATE_API_KEY, RealCluster

# collections of these scenarios only: the real server is shared with the other real tests
THING, OTHER = "ConformanceThing", "ConformanceOther"


@dataclass
class Backend:
    client: Any
    http: httpx.Client


def _target(http: int, grpc: int) -> JobTarget:
    return JobTarget(
        http=Endpoint(host="127.0.0.1", port=http),
        grpc=Endpoint(host="127.0.0.1", port=grpc),
        tls=False,
    )


def _backend(http: int, grpc: int) -> Backend:
    headers = {"Authorization": f"Bearer {WEAVIATE_API_KEY}"}
    return Backend(
        connect(_target(http, grpc), WEAVIATE_API_KEY),
        httpx.Client(base_url=f"http://127.0.0.1:{http}", headers=headers, timeout=30),
    )


@pytest.fixture(scope="module")
def backends(real_cluster: RealCluster) -> Iterator[dict[str, Backend]]:
    ports = real_cluster.plane.ports
    with serving_in_background(WeaviateServer(api_key=WEAVIATE_API_KEY)) as (http, grpc):
        pair = {
            "emulated": _backend(http, grpc),
            "real": _backend(ports.weaviate_http, ports.weaviate_grpc),
        }
        try:
            yield pair
        finally:
            for backend in pair.values():
                for name in (THING, OTHER):
                    backend.client.collections.delete(name)
                backend.client.close()
                backend.http.close()


def on_both(backends: dict[str, Backend], scenario: Callable[[Backend], Any]) -> Any:
    """The scenario's outcome, after checking it is the same on both servers."""
    outcomes = {}
    for name, backend in backends.items():
        for collection in (THING, OTHER):
            backend.client.collections.delete(collection)
        outcomes[name] = scenario(backend)
    assert outcomes["emulated"] == outcomes["real"]
    return outcomes["real"]


def _message(response: httpx.Response) -> str:
    return str(response.json()["error"][0]["message"])


def _create(backend: Backend, name: str = THING) -> int:
    body = {
        "class": name,
        "description": "conformance",
        "vectorizer": "none",
        "properties": [
            {"name": "title", "dataType": ["text"]},
            {"name": "n", "dataType": ["int"]},
        ],
    }
    return backend.http.post("/v1/schema", json=body).status_code


def _property_view(prop: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("name", "dataType", "tokenization", "indexFilterable", "indexSearchable")
    return tuple(str(prop.get(key)) for key in keys)


def test_rest_schema_endpoints(backends: dict[str, Backend]) -> None:
    def scenario(backend: Backend) -> dict[str, Any]:
        http = backend.http
        out: dict[str, Any] = {"create": _create(backend)}
        again = http.post("/v1/schema", json={"class": THING, "vectorizer": "none"})
        out["create again"] = (again.status_code, _message(again))
        got = http.get(f"/v1/schema/{THING}").json()
        out["properties"] = [_property_view(p) for p in got["properties"]]
        out["config"] = (
            got["vectorizer"],
            got["description"],
            got["replicationConfig"]["factor"],
            got["multiTenancyConfig"]["enabled"],
        )
        out["get missing"] = http.get("/v1/schema/Missing").status_code
        extra = {"name": "extra", "dataType": ["text"]}
        out["add property"] = http.post(f"/v1/schema/{THING}/properties", json=extra).status_code
        twice = http.post(f"/v1/schema/{THING}/properties", json=extra)
        out["add it again"] = (twice.status_code, _message(twice))
        reference = {"name": "other", "dataType": [THING]}
        added = http.post(f"/v1/schema/{THING}/properties", json=reference)
        out["add reference"] = added.status_code
        changed = {**http.get(f"/v1/schema/{THING}").json(), "description": "changed"}
        updated = http.put(f"/v1/schema/{THING}", json=changed)
        out["update"] = (updated.status_code, updated.json()["description"])
        out["delete"] = http.delete(f"/v1/schema/{THING}").status_code
        out["delete missing"] = http.delete(f"/v1/schema/{THING}").status_code
        return out

    outcome = on_both(backends, scenario)
    assert outcome["create"] == 200
    assert outcome["create again"][0] == 422
    assert outcome["add it again"] == (
        422,
        f'class "{THING}": conflict for property "extra": already in use or provided '
        "multiple times",
    )
    assert outcome["update"] == (200, "changed")
    assert (outcome["get missing"], outcome["delete missing"]) == (404, 200)


IDS = [str(uuid.UUID(int=n + 1)) for n in range(8)]


def test_grpc_batch_per_object_errors_and_references(backends: dict[str, Backend]) -> None:
    def scenario(backend: Backend) -> dict[str, Any]:
        _create(backend)
        backend.http.post(
            f"/v1/schema/{THING}/properties", json={"name": "other", "dataType": [THING]}
        )
        things = backend.client.collections.get(THING)
        written = things.data.insert_many(
            [
                DataObject(properties={"title": "alpha", "n": 1}, uuid=IDS[0]),
                DataObject(properties={"title": 5, "n": 1}, uuid=IDS[1]),
                DataObject(properties={"title": "c", "n": "x"}, uuid=IDS[2]),
                DataObject(properties={"title": "d", "n": 2.5}, uuid=IDS[3]),
                DataObject(properties={"title": "e", "added": "auto"}, uuid=IDS[4]),
                # the target is in this batch (validated before any of it is stored)
                DataObject(properties={"title": "f"}, uuid=IDS[5], references={"other": IDS[0]}),
                DataObject(properties={"title": "g"}, uuid=IDS[6], references={"other": IDS[7]}),
            ]
        )
        again = things.data.insert_many(
            [DataObject(properties={"title": "f"}, uuid=IDS[5], references={"other": IDS[0]})]
        )
        schema = backend.http.get(f"/v1/schema/{THING}").json()["properties"]
        return {
            "errors": {index: error.message for index, error in written.errors.items()},
            "then": {index: error.message for index, error in again.errors.items()},
            "schema": sorted((p["name"], p["dataType"][0]) for p in schema),
            "count": things.aggregate.over_all(total_count=True).total_count,
        }

    outcome = on_both(backends, scenario)
    cref = f"invalid cref: 'cref' {THING}:other: no object with id"
    assert outcome["errors"] == {
        1: f"invalid text property 'title' on class '{THING}': not a string, but float64",
        2: f"invalid integer property 'n' on class '{THING}': requires an integer, the "
        "given value is 'x'",
        3: f"invalid integer property 'n' on class '{THING}': requires an integer, the "
        "given value is '2.5'",
        5: f"{cref} {IDS[0]} found",
        6: f"{cref} {IDS[7]} found",
    }
    assert outcome["then"] == {}
    assert ("added", "text") in outcome["schema"]  # auto-schema
    assert outcome["count"] == 3


def _error(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except WeaviateQueryError as error:
        # the real server prefixes the shard's path to its cause
        cause = "invalid search term, only stopwords provided"
        return f"error: {cause}" if cause in str(error) else f"error: {error}"


def test_grpc_search_delete_and_aggregate(backends: dict[str, Backend]) -> None:
    def scenario(backend: Backend) -> dict[str, Any]:
        _create(backend)
        backend.http.post(
            f"/v1/schema/{THING}/properties", json={"name": "extra", "dataType": ["text"]}
        )
        things = backend.client.collections.get(THING)
        many = [
            DataObject(properties={"title": f"word{n % 3} the", "n": n}, uuid=uuid.UUID(int=n))
            for n in range(1, 131)
        ]
        assert not things.data.insert_many(many).errors
        first = things.query.fetch_object_by_id(uuid.UUID(int=1))
        by_title = Filter.by_property("title")
        gone = things.data.delete_many(
            where=Filter.by_id().contains_any([uuid.UUID(int=1), uuid.UUID(int=999)]),
            verbose=True,
        )
        return {
            "every property, null where unset": first.properties if first else None,
            "cursor": [str(o.uuid) for o in things.iterator()],
            "ids": sorted(
                str(o.uuid)
                for o in things.query.fetch_objects(
                    filters=Filter.by_id().contains_any([uuid.UUID(int=2), uuid.UUID(int=3)])
                ).objects
            ),
            "n > 120": len(
                things.query.fetch_objects(
                    filters=Filter.by_property("n").greater_than(120)
                ).objects
            ),
            "word equal": len(
                things.query.fetch_objects(filters=by_title.equal("word1"), limit=200).objects
            ),
            "stopwords only": _error(
                lambda: things.query.fetch_objects(filters=by_title.equal("the"))
            ),
            "aggregate": things.aggregate.over_all(total_count=True).total_count,
            "aggregate filtered": things.aggregate.over_all(
                total_count=True, filters=by_title.equal("word2")
            ).total_count,
            "aggregate stopwords": _error(
                lambda: things.aggregate.over_all(total_count=True, filters=by_title.equal("a"))
            ),
            "delete": (
                gone.failed,
                gone.matches,
                gone.successful,
                [(str(o.uuid), o.successful) for o in gone.objects],
            ),
            "after delete": things.aggregate.over_all(total_count=True).total_count,
        }

    outcome = on_both(backends, scenario)
    assert outcome["every property, null where unset"] == {
        "title": "word1 the",
        "n": 1,
        "extra": None,
    }
    assert outcome["cursor"] == sorted(outcome["cursor"])
    assert len(outcome["cursor"]) == 129  # read after the delete
    assert outcome["word equal"] == 43  # 44 titles hold word1, one deleted
    assert outcome["stopwords only"] == outcome["aggregate stopwords"]
    assert outcome["stopwords only"] == "error: invalid search term, only stopwords provided"
    assert outcome["delete"] == (0, 1, 1, [(str(uuid.UUID(int=1)), True)])
    assert outcome["after delete"] == 129


@pytest.mark.xfail(
    strict=True,
    reason="a difference left open: weaviate-server (auto-schema on, its default) creates a "
    "collection a batch names and lacks; the emulator refuses the objects ('could not find "
    "class ... in schema'), which is what CollectionKeeper relies on to notice a Weaviate "
    "that restarted without its data; with auto-schema on, the copy's final claim check "
    "(ownership.check_still_claimed) notices instead",
)
def test_a_batch_into_a_missing_collection(backends: dict[str, Backend]) -> None:
    def scenario(backend: Backend) -> Any:
        missing = backend.client.collections.get(OTHER)
        try:
            written = missing.data.insert_many([DataObject(properties={"a": "b"}, uuid=IDS[0])])
        except WeaviateInsertManyAllFailedError as refused:
            return str(refused)
        return (written.errors, backend.client.collections.exists(OTHER))

    assert on_both(backends, scenario) == ({}, True)
