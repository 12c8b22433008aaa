"""plan_collections turns the spec's mapping and the reflected tables into collection plans."""

from __future__ import annotations

import pytest

from datamigration_operator.api.spec import (
    CollectionMapping,
    PropertyMapping,
    ReferenceMapping,
    mapping_problems,
)
from datamigration_operator.migration.mapping import (
    ColumnInfo,
    ColumnStats,
    MappingError,
    TableInfo,
    collection_schema,
    object_uuid,
    plan_collections,
    plan_from_json,
    plan_to_json,
)


def table(name: str, *columns: tuple[str, str, int], without_rowid: bool = False) -> TableInfo:
    infos = tuple(ColumnInfo(n, t, pk > 0, pk) for n, t, pk in columns)
    key = tuple(c.name for c in sorted(infos, key=lambda c: c.pk_position) if c.pk_position)
    return TableInfo(name, infos, key or ("rowid",), without_rowid)


TABLES = {
    "conversations": table("conversations", ("id", "TEXT", 1), ("title", "TEXT", 0)),
    "messages": table(
        "messages",
        ("id", "INTEGER", 1),
        ("conversation_id", "TEXT", 0),
        ("body", "TEXT", 0),
        ("tokens", "INTEGER", 0),
        ("score", "REAL", 0),
        ("is_read", "BOOLEAN", 0),
        ("sent_at", "DATETIME", 0),
        ("embedding", "BLOB", 0),
    ),
    "tags": table("tags", ("conversation_id", "TEXT", 1), ("tag", "TEXT", 2), ("w", "REAL", 0)),
    "log": table("log", ("event", "TEXT", 0)),
    "kv": table("kv", ("k", "TEXT", 1), ("v", "", 0), without_rowid=True),
}


def plan_one(mapping: CollectionMapping, **stats: ColumnStats) -> object:
    mappings = [mapping]
    if mapping.references:
        mappings.append(CollectionMapping(table="conversations", collection="Conversation"))
    return plan_collections(mappings, TABLES, column_stats={mapping.table: stats})[0]


def test_by_default_every_column_but_references_and_vector_becomes_a_property() -> None:
    plan = plan_one(
        CollectionMapping(
            table="messages",
            collection="Message",
            references=[ReferenceMapping(column="conversation_id", target_table="conversations")],
            vector_column="embedding",
        )
    )
    assert plan.key_columns == ("id",)
    # the key stays readable from Weaviate, under a name Weaviate does not reserve
    key = plan.properties[0]
    assert (key.column, key.name, key.data_type) == ("id", "source_id", "int")
    assert [(p.name, p.data_type) for p in plan.properties][1:] == [
        ("body", "text"),
        ("tokens", "int"),
        ("score", "number"),
        ("is_read", "boolean"),
        ("sent_at", "date"),  # DATETIME with no values yet: a date, as its values will be
    ]
    (ref,) = plan.references
    assert (ref.name, ref.target_collection, ref.target_key_type) == (
        "conversation_id",
        "Conversation",
        "TEXT",
    )
    assert plan.vector_column == "embedding"
    schema = collection_schema(plan)
    assert schema.vectorizer == "none"
    assert [r.target_collection for r in schema.references] == ["Conversation"]


def test_composite_rowid_and_without_rowid_keys() -> None:
    tags = plan_one(CollectionMapping(table="tags", collection="Tag"))
    assert tags.key_columns == ("conversation_id", "tag")
    # Composite key columns are not "id", so they stay readable as properties.
    assert [p.column for p in tags.properties] == ["conversation_id", "tag", "w"]
    assert plan_one(CollectionMapping(table="log", collection="Log")).key_columns == ("rowid",)
    kv = plan_one(CollectionMapping(table="kv", collection="Kv", id_column="k"))
    assert kv.key_columns == ("k",)
    assert [p.column for p in kv.properties] == ["k", "v"]  # the key is readable too
    with pytest.raises(MappingError, match="WITHOUT ROWID"):
        plan_one(CollectionMapping(table="kv", collection="Kv", id_column="rowid"))


def test_types_follow_the_storage_classes_a_column_really_holds() -> None:
    plan = plan_one(
        CollectionMapping(table="messages", collection="Message"),
        tokens=ColumnStats(integers=3, min_integer=-1, max_integer=2**63 - 1),
        score=ColumnStats(integers=2, reals=1, min_integer=0, max_integer=9),
        body=ColumnStats(texts=5, integers=1, min_integer=1, max_integer=1),
        is_read=ColumnStats(integers=2, min_integer=0, max_integer=7),
        embedding=ColumnStats(blobs=4),
    )
    types = {p.column: (p.data_type, p.numbers_as_text) for p in plan.properties}
    assert types["tokens"] == ("text", True)
    assert types["score"] == ("number", False)
    assert types["body"] == ("text", True)
    # not only 0/1, so not a boolean; BOOLEAN has NUMERIC affinity, which takes reals too
    assert types["is_read"] == ("number", False)
    assert types["embedding"] == ("blob", False)
    assert any("tokens: holds integers from -1 to 9223372036854775807" in n for n in plan.notes)
    assert any("body: mixes numbers with text" in n for n in plan.notes)


def test_listed_properties_change_their_columns_and_keep_every_other_one() -> None:
    plan = plan_one(
        CollectionMapping(
            table="messages",
            collection="Message",
            properties=[
                PropertyMapping(column="id", name="messageId"),
                PropertyMapping(column="sent_at", name="SentAt", data_type="date"),
                PropertyMapping(column="tokens", data_type="text"),
            ],
        )
    )
    assert [(p.column, p.name, p.data_type, p.numbers_as_text) for p in plan.properties] == [
        ("id", "messageId", "int", False),
        ("conversation_id", "conversation_id", "text", False),
        ("body", "body", "text", False),
        ("tokens", "tokens", "text", True),
        ("score", "score", "number", False),
        ("is_read", "is_read", "boolean", False),
        ("sent_at", "sentAt", "date", False),  # Weaviate lower-cases the first letter
        ("embedding", "embedding", "blob", False),
    ]


def test_excluded_columns_stay_out_and_a_listed_key_keeps_its_safe_name() -> None:
    plan = plan_one(
        CollectionMapping(
            table="messages",
            collection="Message",
            properties=[
                PropertyMapping(column="id"),  # listed without a name: still source_id
                PropertyMapping(column="BODY", exclude=True),  # SQLite ignores ASCII case
                PropertyMapping(column="embedding", exclude=True),
            ],
        )
    )
    assert [p.name for p in plan.properties] == [
        "source_id",
        "conversation_id",
        "tokens",
        "score",
        "is_read",
        "sent_at",
    ]
    with pytest.raises(ValueError, match="column body is excluded: leave out name and dataType"):
        PropertyMapping(column="body", exclude=True, data_type="text")
    with pytest.raises(MappingError, match="column body is listed twice under properties"):
        plan_one(
            CollectionMapping(
                table="messages",
                collection="M",
                properties=[PropertyMapping(column="body"), PropertyMapping(column="Body")],
            )
        )


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (CollectionMapping(table="nope", collection="Nope"), "table nope does not exist"),
        (
            CollectionMapping(table="tags", collection="Tag", id_column="tag"),
            "not its primary key",
        ),
        (
            CollectionMapping(table="messages", collection="M", id_column="uid"),
            "idColumn uid: table messages has no such column",
        ),
        (
            CollectionMapping(
                table="messages",
                collection="M",
                properties=[PropertyMapping(column="missing")],
            ),
            "property column missing: table messages has no such column",
        ),
        (
            CollectionMapping(
                table="messages",
                collection="M",
                properties=[PropertyMapping(column="body", name="id")],
            ),
            "column messages.body. is reserved by Weaviate; give it another name",
        ),
        (
            CollectionMapping(
                table="messages",
                collection="M",
                properties=[
                    PropertyMapping(column="body", name="x"),
                    PropertyMapping(column="tokens", name="X"),
                ],
            ),
            "table messages: columns 'body' and 'tokens' both map to the Weaviate property x; "
            "list one of them under properties with another name",
        ),
        (
            CollectionMapping(table="messages", collection="M", vector_column="vec"),
            "vectorColumn vec",
        ),
    ],
)
def test_mapping_errors_name_the_table_and_column(mapping: CollectionMapping, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        plan_one(mapping)


def test_a_reference_to_an_unmapped_table_is_refused() -> None:
    mapping = CollectionMapping(
        table="messages",
        collection="Message",
        references=[ReferenceMapping(column="conversation_id", target_table="conversations")],
    )
    with pytest.raises(MappingError, match="conversations, which is not mapped"):
        plan_collections([mapping], TABLES)


def test_a_reference_to_a_composite_key_is_refused() -> None:
    mappings = [
        CollectionMapping(
            table="messages",
            collection="Message",
            references=[ReferenceMapping(column="conversation_id", target_table="tags")],
        ),
        CollectionMapping(table="tags", collection="Tag"),
    ]
    with pytest.raises(MappingError, match="composite key"):
        plan_collections(mappings, TABLES)


def test_null_primary_keys_are_refused_before_any_copy() -> None:
    with pytest.raises(MappingError, match="2 rows with NULL in primary-key column tag"):
        plan_one(
            CollectionMapping(table="tags", collection="Tag"),
            tag=ColumnStats(texts=5, nulls=2),
        )


def test_plans_round_trip_through_json() -> None:
    plan = plan_one(
        CollectionMapping(
            table="messages",
            collection="Message",
            references=[ReferenceMapping(column="conversation_id", target_table="conversations")],
            vector_column="embedding",
        ),
        tokens=ColumnStats(integers=1, min_integer=2**60, max_integer=2**60),
    )
    assert plan_from_json(plan_to_json(plan)) == plan
    with pytest.raises(MappingError, match="malformed collection plan"):
        plan_from_json({"table": "t"})


ODD = table(
    "Order Details",
    ("Order ID", "INTEGER", 1),
    ("unit price", "NUMERIC", 0),
    ("Größe", "TEXT", 0),
    ('say "hi"', "TEXT", 0),
    ("select", "TEXT", 0),
    ("customer_id", "TEXT", 0),
)


def test_columns_weaviate_refuses_get_camel_case_names_and_valid_ones_keep_theirs() -> None:
    mapping = CollectionMapping(table="Order Details", collection="OrderDetails")
    plan = plan_collections([mapping], {"Order Details": ODD})[0]
    assert plan.key_columns == ("Order ID",)
    assert [(p.column, p.name) for p in plan.properties] == [
        ("Order ID", "orderID"),
        ("unit price", "unitPrice"),
        ("Größe", "grosse"),
        ('say "hi"', "sayHi"),
        ("select", "select"),
        ("customer_id", "customer_id"),
    ]


def test_two_columns_deriving_one_name_are_refused_naming_both_and_an_override_fixes_it() -> None:
    clash = table("t", ("id", "INTEGER", 1), ("unit price", "REAL", 0), ("Unit-Price", "REAL", 0))
    with pytest.raises(MappingError, match="columns 'unit price' and 'Unit-Price' both map to"):
        plan_collections([CollectionMapping(table="t", collection="T")], {"t": clash})
    fixed = CollectionMapping(
        table="t",
        collection="T",
        properties=[
            PropertyMapping(column="unit price"),
            PropertyMapping(column="Unit-Price", name="listPrice"),
        ],
    )
    plan = plan_collections([fixed], {"t": clash})[0]
    assert [p.name for p in plan.properties] == ["source_id", "unitPrice", "listPrice"]


def test_a_column_with_no_latin_letters_is_refused_with_the_override_to_set() -> None:
    cjk = table("t", ("id", "INTEGER", 1), ("名前", "TEXT", 0))
    with pytest.raises(
        MappingError, match=r"column t\.名前 has no letters or digits .* with a name"
    ):
        plan_collections([CollectionMapping(table="t", collection="T")], {"t": cjk})
    named = CollectionMapping(
        table="t", collection="T", properties=[PropertyMapping(column="名前", name="namae")]
    )
    assert [p.name for p in plan_collections([named], {"t": cjk})[0].properties] == [
        "source_id",
        "namae",
    ]


def test_names_fold_ascii_case_only_as_sqlite_does() -> None:
    upper, lower = table("Ä", ("id", "INTEGER", 1)), table("ä", ("ID", "INTEGER", 1))
    both = {"Ä": upper, "ä": lower}
    plans = plan_collections(
        [
            CollectionMapping(table="Ä", collection="Upper"),
            CollectionMapping(table="ä", collection="Lower"),
        ],
        both,
    )
    assert [(p.table, p.collection) for p in plans] == [("Ä", "Upper"), ("ä", "Lower")]
    assert upper.column("ID") is not None  # ASCII letters: one column, however spelled
    accented = table("t", ("Ö", "TEXT", 0))
    assert accented.column("ö") is None  # two names to SQLite
    assert object_uuid("ns", "Orders", (1,)) == object_uuid("ns", "ORDERS", (1,))
    assert object_uuid("ns", "Ä", (1,)) != object_uuid("ns", "ä", (1,))
    problems = mapping_problems(
        [
            CollectionMapping(table="Orders", collection="A"),
            CollectionMapping(table="orders", collection="B"),
            CollectionMapping(table="Ä", collection="C"),
            CollectionMapping(table="ä", collection="D"),
        ]
    )
    assert problems == [
        "table 'Orders', 'orders' is mapped more than once (SQLite ignores the case of ASCII "
        "letters)"
    ]
