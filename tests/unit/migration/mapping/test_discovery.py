"""discover: reflected tables + stats -> the proposed spec.collections and its notes."""

from __future__ import annotations

from datamigration_operator.api.spec import CollectionMapping
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
