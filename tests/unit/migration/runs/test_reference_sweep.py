"""reference_sweep: which rows' objects the second look must judge although they hash equal
(a stored reference where the foreign key is NULL, or several stored in one property), and
that a NOT NULL foreign key costs no second read."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, cast
from uuid import UUID

from datamigration_operator.migration.mapping import (
    CollectionPlan,
    ColumnInfo,
    ReferencePlan,
    TableInfo,
    object_uuid,
)
from datamigration_operator.migration.runs.reference_sweep import (
    nullable_reference_columns,
    reference_suspects,
)
from datamigration_operator.migration.sink.target_reader import TargetReader

PLAN = CollectionPlan(
    table="books",
    collection="Book",
    key_columns=("id",),
    properties=(),
    references=(ReferencePlan("author_id", "author", "authors", "Author", "TEXT"),),
    vector_column=None,
)
ROWS = [{"id": f"b{n}", "author_id": None if n % 2 else "a1"} for n in range(6)]


def _id(key: str) -> UUID:
    return object_uuid("ns", "books", (key,))


class Source:
    def __init__(self) -> None:
        self.reads = 0

    def rows(self, plan: CollectionPlan, *, after: Any = None, batch_size: int) -> Iterator[Any]:
        self.reads += 1
        for start in range(0, len(ROWS), batch_size):
            yield ROWS[start : start + batch_size]


class Reader:
    page_size = 2

    def __init__(self, holding: set[UUID], several: list[UUID]) -> None:
        self.holding, self.several = holding, several
        self.asked: list[list[UUID]] = []

    def holding_several(self, plan: CollectionPlan, reference: str) -> list[UUID]:
        return self.several

    def holding_references(
        self, plan: CollectionPlan, reference: str, uuids: Sequence[UUID], *, more_than: int = 0
    ) -> set[UUID]:
        self.asked.append(list(uuids))
        return self.holding & set(uuids)


def _suspects(source: Source, reader: Reader, nullable: set[str]) -> list[tuple[UUID, Any]]:
    pages = reference_suspects(
        source,
        cast(TargetReader, reader),
        PLAN,
        namespace="ns",
        nullable=nullable,
        batch_size=4,
    )
    return [item for page in pages for item in page]


def test_rows_with_a_null_key_whose_object_stores_a_reference_are_suspects() -> None:
    reader = Reader(holding={_id("b1"), _id("b2")}, several=[])
    assert _suspects(Source(), reader, {"author_id"}) == [(_id("b1"), ("b1",))]
    # only rows whose foreign key is NULL are asked about, a lookup page (2) at a time
    assert reader.asked == [[_id("b1"), _id("b3")], [_id("b5")]]


def test_objects_storing_several_references_are_suspects_with_their_keys() -> None:
    reader = Reader(holding=set(), several=[_id("b4")])
    assert _suspects(Source(), reader, set()) == [(_id("b4"), ("b4",))]


def test_a_not_null_foreign_key_with_nothing_stored_twice_reads_nothing() -> None:
    source = Source()
    assert _suspects(source, Reader(holding=set(), several=[]), set()) == []
    assert source.reads == 0


def test_nullable_reference_columns_come_from_the_declared_table() -> None:
    table = TableInfo(
        "books",
        (ColumnInfo("id", "TEXT", True, 1), ColumnInfo("author_id", "TEXT", True, 0)),
        ("id",),
    )

    class Sqlite:
        def tables(self) -> dict[str, TableInfo]:
            return {"books": table}

    assert nullable_reference_columns(Sqlite(), PLAN) == set()
    assert nullable_reference_columns(object(), PLAN) == {"author_id"}
