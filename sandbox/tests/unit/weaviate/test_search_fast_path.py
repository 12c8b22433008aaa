"""Search's fast result encoding (_Shape.result_encoder, Database.reference_members,
EncodedObject.named) writes the bytes the reference path writes:
_framed_result(_Shape.encode(obj), _metadata_bytes(obj, metadata)) for every object."""

from __future__ import annotations

import struct
import uuid as uuid_module
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from weaviate.proto.v1 import search_get_pb2

from datamigration_sandbox.weaviate.database import Database, beacon
from datamigration_sandbox.weaviate.faults import Faults
from datamigration_sandbox.weaviate.grpc_service import (
    WeaviateService,
    _framed_result,
    _metadata_bytes,
    _Shape,
)

VALUE_PROPERTIES = ["title", "n", "score", "flag", "tags", "data"]
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "title": st.text(max_size=150),
    "n": st.integers(-(2**40), 2**40),
    "score": st.floats(allow_nan=False, allow_infinity=False),
    "flag": st.booleans(),
    "tags": st.lists(st.text(max_size=5), max_size=3),
    "data": st.sampled_from(["aGVsbG8=", "AAEC"]),
}
TARGETS = 6  # target ids 0..5; only some exist
MS = 1_700_000_000_000


def _id(number: int) -> str:
    return str(uuid_module.UUID(int=number + 1))


def _database() -> Database:
    database = Database()
    database.create(
        {
            "class": "Target",
            "properties": [
                {"name": "title", "dataType": ["text"]},
                {"name": "n", "dataType": ["int"]},
            ],
        }
    )
    database.create(
        {
            "class": "Source",
            "properties": [
                {"name": "title", "dataType": ["text"]},
                {"name": "n", "dataType": ["int"]},
                {"name": "score", "dataType": ["number"]},
                {"name": "flag", "dataType": ["boolean"]},
                {"name": "tags", "dataType": ["text[]"]},
                {"name": "data", "dataType": ["blob"]},
                {"name": "link", "dataType": ["Target"]},
                {"name": "multi", "dataType": ["Target", "Source"]},
            ],
        }
    )
    return database


def _put(database: Database, name: str, uuid: str, properties: dict[str, Any], **rest: Any) -> None:
    collection = database.get(name)
    references = {k: v for k, v in properties.items() if k in ("link", "multi")}
    values = {k: v for k, v in properties.items() if k not in references}
    checked = collection.check_properties(values, auto_schema=False, known_classes={})
    # keep the drawn order, references included (entries follow the properties' order)
    ordered = {k: checked[k] if k in checked else references[k] for k in properties}
    collection.put(
        {
            "id": uuid,
            "class": collection.name,
            "properties": ordered,
            "vector": rest.get("vector"),
            "vectors": rest.get("vectors", {}),
            "creationTimeUnix": MS,
            "lastUpdateTimeUnix": MS + 1,
        }
    )


def _reference_results(service: WeaviateService, request: Any) -> list[bytes]:
    collection = service.database.get(request.collection)
    ids = collection.sorted_ids()
    if request.after:
        ids = [i for i in ids if i > request.after]
    page = [collection.objects[i] for i in ids[: request.limit]]
    properties = request.properties if request.HasField("properties") else None
    metadata = request.metadata if request.HasField("metadata") else None
    shape = _Shape(service, collection, properties)
    return [_framed_result(shape.encode(obj), _metadata_bytes(obj, metadata)) for obj in page]


BEACON_STYLES = st.sampled_from(["class", "classless", "upper", "lower-class", "source"])


def _beacon(style: str, target: int) -> dict[str, str]:
    uuid = _id(target)
    if style == "classless":
        return beacon(None, uuid)
    if style == "upper":
        return beacon("Target", uuid.upper())
    if style == "lower-class":
        return beacon("target", uuid)
    if style == "source":
        return beacon("Source", _id(100 + target))
    return beacon("Target", uuid)


SOURCE = st.fixed_dictionaries(
    {
        # some of the value properties, in any order
        "order": st.permutations(VALUE_PROPERTIES),
        "keep": st.lists(st.booleans(), min_size=6, max_size=6),
        "values": st.fixed_dictionaries(VALUES),
        "link": st.none() | st.lists(st.tuples(BEACON_STYLES, st.integers(0, TARGETS)), max_size=3),
        "multi": st.none()
        | st.lists(st.tuples(BEACON_STYLES, st.integers(0, TARGETS)), max_size=2),
        "vector": st.booleans(),
        "named_vector": st.booleans(),
        "references_first": st.booleans(),
    }
)

VECTOR_NAMES = st.lists(st.sampled_from(["v1", "v2"]), max_size=2)
METADATA = (
    st.none()
    | st.builds(
        # validation's kind: no times, so encode_page's fast path
        search_get_pb2.MetadataRequest,
        uuid=st.just(True),
        vector=st.booleans(),
        vectors=VECTOR_NAMES,
    )
    | st.builds(
        search_get_pb2.MetadataRequest,
        uuid=st.booleans(),
        vector=st.booleans(),
        creation_time_unix=st.booleans(),
        last_update_time_unix=st.booleans(),
        vectors=VECTOR_NAMES,
    )
)
TARGET_PROPERTIES = st.none() | st.builds(
    search_get_pb2.PropertiesRequest,
    non_ref_properties=st.lists(st.sampled_from(["title", "n"]), max_size=2),
    return_all_nonref_properties=st.booleans(),
)
REFERENCE = st.builds(
    search_get_pb2.RefPropertiesRequest,
    reference_property=st.sampled_from(["link", "multi"]),
    properties=st.one_of(st.just(search_get_pb2.PropertiesRequest()), TARGET_PROPERTIES),
    metadata=st.one_of(st.just(search_get_pb2.MetadataRequest(uuid=True)), METADATA),
    target_collection=st.sampled_from(["", "", "Target", "Source"]),
)
BARE_REFERENCE = st.builds(
    search_get_pb2.RefPropertiesRequest,
    reference_property=st.sampled_from(["link", "multi"]),
    properties=st.just(search_get_pb2.PropertiesRequest()),
    metadata=st.sampled_from([None, search_get_pb2.MetadataRequest(uuid=True)]),
)
# validation's shape: every value property, references to bare targets
VALIDATION = st.builds(
    search_get_pb2.PropertiesRequest,
    non_ref_properties=st.just(VALUE_PROPERTIES),
    ref_properties=st.lists(BARE_REFERENCE, min_size=1, max_size=2),
)
PROPERTIES = (
    st.none()
    | VALIDATION
    | VALIDATION
    | st.builds(
        search_get_pb2.PropertiesRequest,
        non_ref_properties=st.one_of(
            st.just(VALUE_PROPERTIES),  # every value property in schema order: EncodedObject.named
            st.lists(st.sampled_from([*VALUE_PROPERTIES, "nope", "link"]), max_size=7),
        ),
        ref_properties=st.lists(REFERENCE, max_size=2),
        return_all_nonref_properties=st.booleans(),
    )
)


def _request(properties: Any, metadata: Any, after: str) -> Any:
    request = search_get_pb2.SearchRequest(collection="Source", limit=50, after=after)
    if properties is not None:
        request.properties.CopyFrom(properties)
    if metadata is not None:
        request.metadata.CopyFrom(metadata)
    return request


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.booleans(), min_size=TARGETS, max_size=TARGETS),
    st.lists(st.booleans(), min_size=TARGETS, max_size=TARGETS),
    st.lists(SOURCE, max_size=6),
    PROPERTIES,
    METADATA,
    st.booleans(),
)
def test_the_fast_path_writes_what_the_reference_path_writes(
    present: list[bool],
    deleted: list[bool],
    sources: list[dict[str, Any]],
    properties: Any,
    metadata: Any,
    cursor: bool,
) -> None:
    database = _database()
    service = WeaviateService(database, Faults(), None)
    for number in range(TARGETS):
        if present[number]:
            _put(database, "Target", _id(number), {"title": f"t{number}", "n": number})
    for number, source in enumerate(sources):
        values = {
            name: source["values"][name]
            for name, keep in zip(source["order"], source["keep"], strict=True)
            if keep
        }
        references = {
            name: [_beacon(style, target) for style, target in source[name]]
            for name in ("link", "multi")
            if source[name] is not None
        }
        drawn = {**references, **values} if source["references_first"] else {**values, **references}
        vector = struct.pack("<2f", 0.5, number) if source["vector"] else None
        vectors = {"v1": (struct.pack("<2f", 1.0, 2.0), False)} if source["named_vector"] else {}
        _put(database, "Source", _id(100 + number), drawn, vector=vector, vectors=vectors)
    after = _id(99) if cursor else ""
    request = _request(properties, metadata, after)
    # twice: the second reads remembered reference members
    assert service._search(request) == _reference_results(service, request)
    assert service._search(request) == _reference_results(service, request)
    # a deleted target is skipped from then on, a replaced one still found
    for number in range(TARGETS):
        if present[number] and deleted[number]:
            database.get("Target").delete(_id(number))
        elif present[number]:
            _put(database, "Target", _id(number), {"title": "again"})
    assert service._search(request) == _reference_results(service, request)


def _validation_request(after: str = "") -> Any:
    return _request(
        search_get_pb2.PropertiesRequest(
            non_ref_properties=VALUE_PROPERTIES,
            ref_properties=[
                search_get_pb2.RefPropertiesRequest(
                    reference_property="link",
                    properties=search_get_pb2.PropertiesRequest(),
                    metadata=search_get_pb2.MetadataRequest(uuid=True),
                )
            ],
        ),
        search_get_pb2.MetadataRequest(uuid=True, vector=True),
        after,
    )


def test_remembered_reference_members_follow_deletes_drops_and_recreation() -> None:
    database = _database()
    service = WeaviateService(database, Faults(), None)
    _put(database, "Target", _id(0), {"title": "t"})
    _put(database, "Source", _id(100), {"title": "s", "link": [beacon("Target", _id(0))]})
    request = _validation_request()

    def linked() -> list[str]:
        reply = search_get_pb2.SearchReply.FromString(b"".join(service._search(request)))
        return [
            target.metadata.id
            for result in reply.results
            for ref in result.properties.ref_props
            for target in ref.properties
        ]

    assert linked() == [_id(0)]
    assert database.reference_members
    database.get("Target").delete(_id(0))
    assert linked() == []
    _put(database, "Target", _id(0), {"title": "back"})
    assert linked() == [_id(0)]
    database.drop("Target")
    assert linked() == []
    database.create({"class": "Target", "properties": [{"name": "title", "dataType": ["text"]}]})
    assert linked() == []
    _put(database, "Target", _id(0), {"title": "new"})
    assert linked() == [_id(0)]
    assert service._search(request) == _reference_results(service, request)


def test_a_cursor_page_follows_replacements_and_new_objects() -> None:
    database = _database()
    service = WeaviateService(database, Faults(), None)
    for number in (3, 1, 2):
        _put(database, "Source", _id(100 + number), {"title": f"s{number}"})
    request = _validation_request(after=_id(100))
    assert service._search(request) == _reference_results(service, request)
    _put(database, "Source", _id(102), {"title": "replaced", "n": 5})
    assert service._search(request) == _reference_results(service, request)
    _put(database, "Source", _id(100), {"title": "new"})
    database.get("Source").delete(_id(103))
    assert service._search(request) == _reference_results(service, request)
    reply = search_get_pb2.SearchReply.FromString(b"".join(service._search(request)))
    assert [r.metadata.id for r in reply.results] == [_id(101), _id(102)]
    assert reply.results[1].properties.non_ref_props.fields["title"].text_value == "replaced"


def test_named_vectors_come_back_beside_the_vector() -> None:
    database = _database()
    service = WeaviateService(database, Faults(), None)
    vectors = {"v1": (struct.pack("<2f", 1.0, 2.0), False)}
    _put(database, "Source", _id(100), {"title": "s"}, vectors=vectors)
    _put(database, "Source", _id(101), {"title": "s"}, vector=struct.pack("<f", 1.0))
    request = _validation_request()
    assert service._search(request) == _reference_results(service, request)
    reply = search_get_pb2.SearchReply.FromString(b"".join(service._search(request)))
    assert [len(r.metadata.vectors) for r in reply.results] == [1, 0]
