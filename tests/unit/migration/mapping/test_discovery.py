"""discover: reflected tables + stats -> the proposed spec.collections and its notes."""

from __future__ import annotations

from datamigration_operator.api.spec import CollectionMapping, PropertyMapping
from datamigration_operator.migration.mapping import ColumnInfo, ColumnStats, TableInfo
from datamigration_operator.migration.mapping.discovery import (
    ForeignKey,
    SkippedObject,
    TableSurvey,
    discover,
)


def table(name: str, *columns: tuple[str, str, int], without_rowid: bool = False) -> TableInfo:
    infos = tuple(ColumnInfo(n, t, pk > 0, pk) for n, t, pk in columns)
    key = tuple(c.name for c in sorted(infos, key=lambda c: c.pk_position) if c.pk_position)
    return TableInfo(name, infos, key or ("rowid",), without_rowid)


INTS = ColumnStats(integers=3, min_integer=1, max_integer=3)
TEXTS = ColumnStats(texts=3)


def survey(info: TableInfo, **kwargs: object) -> TableSurvey:
    stats = kwargs.pop("stats", None) or {c.name: INTS for c in info.columns}
    return TableSurvey(info, stats, **kwargs)  # type: ignore[arg-type]


def by_table(collections: tuple[CollectionMapping, ...]) -> dict[str, CollectionMapping]:
    return {c.table: c for c in collections}


def dump(mapping: CollectionMapping) -> dict[str, object]:
    return mapping.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def test_types_from_the_values_dates_numbers_and_blobs() -> None:
    info = table(
        "t",
        ("id", "INTEGER", 1),
        ("at", "DATETIME", 0),
        ("day", "TEXT", 0),
        ("price", "NUMERIC", 0),
        ("ratio", "NUMERIC", 0),
        ("pic", "BLOB", 0),
        ("flag", "BOOLEAN", 0),
        ("name", "TEXT", 0),
        ("odd", "DATETIME", 0),
    )
    stats = {
        "id": INTS,
        "at": TEXTS,
        "day": TEXTS,
        "price": INTS,
        "ratio": ColumnStats(integers=2, reals=1, min_integer=1, max_integer=2),
        "pic": ColumnStats(blobs=3),
        "flag": ColumnStats(integers=3, min_integer=0, max_integer=1),
        "name": TEXTS,
        "odd": TEXTS,  # text that is no date: stays text
    }
    found = discover([survey(info, stats=stats, date_columns=frozenset({"at", "day"}))])
    (mapping,) = found.collections
    types = {p.column: p.data_type for p in mapping.properties}
    assert types == {
        "id": "int",
        "at": "date",
        "day": "date",
        "price": "number",  # NUMERIC affinity: the next row may hold a real
        "ratio": "number",
        "pic": "blob",
        "flag": "boolean",
        "name": "text",
        "odd": "text",
    }
    assert dump(mapping)["properties"][0] == {  # type: ignore[index]
        "column": "id",
        "name": "source_id",
        "dataType": "int",
    }


def test_keys_composite_rowid_and_unusable() -> None:
    found = discover(
        [
            survey(table("Order Details", ("o", "INTEGER", 1), ("p", "INTEGER", 2))),
            survey(table("Log", ("event", "TEXT", 0))),
            survey(table("Bad", ("a", "INTEGER", 1), ("b", "INTEGER", 2), ("id", "TEXT", 0))),
            survey(
                table("Nulls", ("code", "TEXT", 1)),
                stats={"code": ColumnStats(texts=2, nulls=1)},
            ),
            survey(table("Shadowed", ("rowid", "INT", 0), ("oid", "INT", 0), ("_rowid_", "T", 0))),
            survey(table("Wide", *((f"c{n}", "TEXT", 0) for n in range(129)))),
        ],
        [SkippedObject("v", "a view")],
    )
    mappings = by_table(found.collections)
    assert set(mappings) == {"Order Details", "Log"}
    assert mappings["Order Details"].collection == "OrderDetails"
    assert mappings["Order Details"].id_column == "id"  # the default: the whole primary key
    assert mappings["Log"].id_column == "rowid"
    assert "VACUUM" in found.notes["Log"][0]
    skipped = {s.name: s.reason for s in found.skipped}
    assert set(skipped) == {"v", "Bad", "Nulls", "Shadowed", "Wide"}
    assert "NULL" in skipped["Nulls"]


def test_references_from_foreign_keys_self_included() -> None:
    people = table("people", ("id", "INTEGER", 1), ("boss", "INTEGER", 0), ("team", "TEXT", 0))
    teams = table("teams", ("name", "TEXT", 1))
    stray = table("stray", ("id", "INTEGER", 1), ("who", "INTEGER", 0), ("pair", "INTEGER", 0))
    found = discover(
        [
            survey(
                people,
                foreign_keys=(
                    ForeignKey(("boss",), "people", (None,)),
                    ForeignKey(("team",), "TEAMS", ("name",)),
                ),
            ),
            survey(teams),
            survey(
                stray,
                foreign_keys=(
                    ForeignKey(("who",), "people", ("id",), orphans=2),
                    ForeignKey(("who", "pair"), "people", ("id", "boss")),
                    ForeignKey(("pair",), "gone", (None,)),
                ),
            ),
        ]
    )
    mappings = by_table(found.collections)
    refs = {r.column: r.target_table for r in mappings["people"].references}
    assert refs == {"boss": "people", "team": "teams"}
    assert [p.column for p in mappings["people"].properties] == ["id"]
    assert mappings["stray"].references == []
    assert [p.column for p in mappings["stray"].properties] == ["id", "who", "pair"]
    assert len(found.notes["stray"]) == 3


def test_names_fall_back_and_stay_unique() -> None:
    found = discover(
        [
            survey(table("order_items", ("Unit Price", "REAL", 0), ("unit-price", "REAL", 0))),
            survey(table("OrderItems", ("名前", "TEXT", 0)), stats={"名前": TEXTS}),
            survey(table("商品", ("id", "INTEGER", 1))),
        ]
    )
    mappings = by_table(found.collections)
    assert {m.collection for m in mappings.values()} == {"OrderItems", "OrderItems2", "Table3"}
    names = [p.name for p in mappings["order_items"].properties]
    assert names == [None, "unitPrice2"]
    assert [p.name for p in mappings["OrderItems"].properties] == ["column1"]
    assert any("Table3" in note for note in found.notes["商品"])


def _shop() -> list[TableSurvey]:
    goods = table("商品", ("code", "TEXT", 1), ("名前", "TEXT", 0), ("price", "NUMERIC", 0))
    orders = table("orders", ("id", "INTEGER", 1), ("goods", "TEXT", 0), ("at", "DATETIME", 0))
    texts = {"code": TEXTS, "名前": TEXTS, "price": INTS}
    return [
        survey(goods, stats=texts),
        survey(
            orders,
            stats={"id": INTS, "goods": TEXTS, "at": TEXTS},
            date_columns=frozenset({"at"}),
            foreign_keys=(ForeignKey(("goods",), "商品", (None,)),),
        ),
        survey(table("datamigration_outbox", ("seq", "INTEGER", 1))),
    ]


def test_an_override_changes_what_it_sets_and_keeps_the_discovered_rest() -> None:
    reserved = frozenset({"datamigration_outbox"})
    proposed = by_table(discover(_shop(), reserved_tables=reserved).collections)
    assert set(proposed) == {"商品", "orders"}  # the dual-write outbox is never migrated
    override = CollectionMapping.model_validate(
        {
            "table": "商品",
            "collection": "Goods",
            "properties": [{"column": "price", "dataType": "text"}],
        }
    )
    found = discover(_shop(), explicit=[override], reserved_tables=reserved)
    goods = by_table(found.collections)["商品"]
    assert goods.collection == "Goods"
    # the fallback name discovery gave the column with no Latin letters survives the override
    assert [(p.column, p.name, p.data_type) for p in goods.properties] == [
        ("code", None, "text"),
        ("名前", "column2", "text"),
        ("price", None, "text"),
    ]
    assert by_table(found.collections)["orders"] == proposed["orders"]  # untouched


def test_listed_tables_get_references_from_their_foreign_keys() -> None:
    listed = [
        CollectionMapping(table="orders", collection="Order"),
        CollectionMapping(
            table="商品",
            collection="Goods",
            properties=[PropertyMapping(column="名前", name="namae")],
        ),
    ]
    found = by_table(discover(_shop(), tables="listed", explicit=listed).collections)
    assert set(found) == {"orders", "商品"}
    assert [(r.column, r.target_table) for r in found["orders"].references] == [("goods", "商品")]
    assert found["商品"] == listed[1]  # a listed entry stays as written
    alone = discover(_shop(), tables="listed", explicit=listed[:1]).collections
    # the target is not migrated: no reference, the column stays a property
    assert alone[0].references == []
    no_keys = discover(_shop(), tables="listed", references="listed", explicit=listed[:1])
    assert no_keys.collections == (listed[0],)
