"""Rows become objects with deterministic ids; what cannot be stored is reported by key."""

from __future__ import annotations

import datetime
import json
import struct
import uuid

import pytest

from datamigration_operator.migration.mapping import (
    OBJECT_ID_NAMESPACE,
    CollectionPlan,
    MigrationObject,
    PropertyPlan,
    ReferencePlan,
    RowError,
    object_from_weaviate,
    object_uuid,
    row_to_object,
)
from datamigration_operator.migration.mapping.canonical import (
    VECTOR_FIELD,
    content_hash,
    differing_fields,
)
from datamigration_operator.migration.mapping.values import key_to_json

NS = "default/migrate-gremlins"
MESSAGES = CollectionPlan(
    table="messages",
    collection="Message",
    key_columns=("id",),
    properties=(
        PropertyPlan("body", "body", "text"),
        PropertyPlan("tokens", "tokens", "int"),
        PropertyPlan("raw", "raw", "blob"),
    ),
    references=(
        ReferencePlan(
            "conversation_id", "conversation", "conversations", "Conversation", "INTEGER"
        ),
    ),
    vector_column="embedding",
)


def test_ids_are_uuid5_of_migration_table_and_typed_key() -> None:
    first = object_uuid(NS, "messages", (1,))
    assert first == object_uuid(NS, "Messages", (1,))  # SQLite table names ignore case
    assert first.version == 5
    assert len({first, object_uuid(NS, "messages", ("1",)), object_uuid(NS, "other", (1,))}) == 3
    assert object_uuid("other/ns", "messages", (1,)) != first
    assert object_uuid(NS, "tags", ("a", "b")) != object_uuid(NS, "tags", ("a\x1fb",))


@pytest.mark.parametrize("key", [(7,), ('ab"c\x00é',), ("a", 1), (b"\x00",), (1.5,)])
def test_ids_follow_the_documented_uuid5_formula(key: tuple[object, ...]) -> None:
    namespace = uuid.uuid5(OBJECT_ID_NAMESPACE, NS)
    name = "messages\x1f" + json.dumps(key_to_json(key), ensure_ascii=False, separators=(",", ":"))
    expected = uuid.uuid5(namespace, name)
    found = object_uuid(NS, "messages", key)
    assert (found, str(found), hash(found)) == (expected, str(expected), hash(expected))


def test_a_row_becomes_an_object_and_null_means_absent() -> None:
    vector = struct.pack("<2f", 0.25, 1.0)
    obj = row_to_object(
        MESSAGES,
        {
            "id": 7,
            "body": "hi\x00",
            "tokens": None,
            "raw": b"\x00",
            "conversation_id": "3",
            "embedding": vector,
        },
        migration_namespace=NS,
    )
    assert obj.uuid == object_uuid(NS, "messages", (7,))
    assert obj.properties == {"body": "hi\x00", "raw": b"\x00"}
    # The TEXT "3" takes the INTEGER affinity of conversations.id, as SQLite compares it.
    assert obj.references == {"conversation": (object_uuid(NS, "conversations", (3,)),)}
    assert obj.vector == vector


@pytest.mark.parametrize("stored", [3, "3", "003", " 3 ", "3.0", "3e0", 3.0])
def test_references_follow_sqlite_integer_affinity(stored: object) -> None:
    obj = row_to_object(MESSAGES, {"id": 1, "conversation_id": stored}, migration_namespace=NS)
    assert obj.references == {"conversation": (object_uuid(NS, "conversations", (3,)),)}


def test_an_unrepresentable_value_is_reported_with_the_row_key_and_column() -> None:
    with pytest.raises(RowError) as caught:
        row_to_object(MESSAGES, {"id": 9, "tokens": 2**60}, migration_namespace=NS)
    error = caught.value
    assert (error.table, error.key, error.column) == ("messages", (9,), "tokens")
    assert "2^53" in error.message
    with pytest.raises(RowError, match="primary key is NULL"):
        row_to_object(MESSAGES, {"id": None}, migration_namespace=NS)
    with pytest.raises(RowError, match="embedding"):
        row_to_object(MESSAGES, {"id": 1, "embedding": b"abc"}, migration_namespace=NS)


def test_what_weaviate_returns_hashes_equal_to_the_row() -> None:
    row = {
        "id": 7,
        "body": "hi",
        "tokens": 12,
        "raw": b"\x01\x02",
        "conversation_id": 3,
        "embedding": "[0.1, 0.2]",
    }
    written = row_to_object(MESSAGES, row, migration_namespace=NS)
    read = object_from_weaviate(
        MESSAGES,
        written.uuid,
        {"body": "hi", "tokens": 12.0, "raw": "AQI=", "unplanned": "ignored"},
        {"conversation": [str(object_uuid(NS, "conversations", (3,)))]},
        [0.1, 0.2],
    )
    assert content_hash(read) == content_hash(written)
    assert differing_fields(read, written) == []


def test_hashes_tell_apart_what_a_value_of_another_type_would_collide_with() -> None:
    def hash_of(value: object) -> bytes:
        return content_hash(MigrationObject(uuid.uuid4(), {"a": value}, {}, None))

    values: list[object] = [1, 1.0, True, "1", b"1", (1,), [1], "True", "1.0", 2**70, "\udcff"]
    assert len({hash_of(v) for v in values}) == len(values)
    assert hash_of(2**70) == hash_of(2**70)
    assert hash_of(-0.0) != hash_of(0.0)


def test_a_value_marshal_cannot_write_hashes_through_the_json_fallback() -> None:
    class Label(str):  # a str subclass: marshal refuses it
        pass

    moment = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    odd = MigrationObject(uuid.uuid4(), {"b": moment, "a": Label("x")}, {}, None)
    same = MigrationObject(uuid.uuid4(), {"a": Label("x"), "b": moment}, {}, None)
    assert content_hash(odd) == content_hash(same)
    plain = MigrationObject(odd.uuid, {"a": "x", "b": moment.isoformat()}, {}, None)
    assert content_hash(odd) != content_hash(plain)


def test_hashes_see_types_values_references_and_vectors() -> None:
    base = MigrationObject(uuid.uuid4(), {"a": 1, "b": "x"}, {}, None)
    same = MigrationObject(uuid.uuid4(), {"b": "x", "a": 1, "c": None}, {}, None)
    assert content_hash(base) == content_hash(same)
    variants = {
        "a": MigrationObject(base.uuid, {"a": 1.0, "b": "x"}, {}, None),
        "b": MigrationObject(base.uuid, {"a": 1, "b": b"x"}, {}, None),
        "ref": MigrationObject(base.uuid, {"a": 1, "b": "x"}, {"ref": (base.uuid,)}, None),
        VECTOR_FIELD: MigrationObject(base.uuid, {"a": 1, "b": "x"}, {}, b"\x00" * 4),
    }
    hashes = {content_hash(v) for v in variants.values()}
    assert len(hashes) == len(variants)
    assert content_hash(base) not in hashes
    for field, variant in variants.items():
        assert differing_fields(base, variant) == [field]
    assert differing_fields(base, MigrationObject(base.uuid, {"a": True, "b": "x"}, {}, None)) == [
        "a"
    ]
