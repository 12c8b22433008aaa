"""What a migration reads and writes, as plain data (pure): tables in, collection plans out.

A CollectionPlan is the one mapping both the Jobs and the app-side dual-write library apply;
it serialises to JSON so the plan a copy Job chose can be published and reused unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from datamigration_operator.api.names import fold_sql_name

ROWID: Final = "rowid"


class MappingError(ValueError):
    """The spec's mapping does not fit the database; the message names the table and column."""


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    declared_type: str
    not_null: bool
    pk_position: int  # 1-based position in the primary key; 0 = not in the primary key


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: tuple[ColumnInfo, ...]
    key_columns: tuple[str, ...]  # primary-key columns, or ("rowid",) without a declared key
    without_rowid: bool = False

    def column(self, name: str) -> ColumnInfo | None:
        """The column called `name`, compared case-insensitively as SQLite does."""
        folded = fold_sql_name(name)
        return next((c for c in self.columns if fold_sql_name(c.name) == folded), None)


@dataclass(frozen=True)
class ColumnStats:
    """Storage classes a column holds, from one aggregate scan (source.column_stats)."""

    integers: int = 0
    reals: int = 0
    texts: int = 0
    blobs: int = 0
    nulls: int = 0
    min_integer: int | None = None
    max_integer: int | None = None


@dataclass(frozen=True)
class PropertyPlan:
    column: str
    name: str
    data_type: str  # text, int, number, boolean, date, uuid, blob, text[], int[], number[]
    numbers_as_text: bool = False  # INTEGER/REAL values stored as their decimal text


@dataclass(frozen=True)
class ReferencePlan:
    column: str
    name: str
    target_table: str
    target_collection: str
    target_key_type: str = ""  # declared type of the target's key column (its affinity)


@dataclass(frozen=True)
class CollectionPlan:
    table: str
    collection: str
    key_columns: tuple[str, ...]
    properties: tuple[PropertyPlan, ...]
    references: tuple[ReferencePlan, ...]
    vector_column: str | None
    notes: tuple[str, ...] = field(default=(), compare=False)  # decisions worth telling the user


@dataclass(frozen=True)
class PropertySchema:
    name: str
    data_type: str


@dataclass(frozen=True)
class ReferenceSchema:
    name: str
    target_collection: str


@dataclass(frozen=True)
class CollectionSchema:
    """The Weaviate collection a plan needs; the sink creates it or checks an existing one."""

    name: str
    properties: tuple[PropertySchema, ...]
    references: tuple[ReferenceSchema, ...]
    vectorizer: str = "none"


def plan_to_json(plan: CollectionPlan) -> dict[str, Any]:
    return {
        "table": plan.table,
        "collection": plan.collection,
        "keyColumns": list(plan.key_columns),
        "properties": [
            {
                "column": p.column,
                "name": p.name,
                "dataType": p.data_type,
                "numbersAsText": p.numbers_as_text,
            }
            for p in plan.properties
        ],
        "references": [
            {
                "column": r.column,
                "name": r.name,
                "targetTable": r.target_table,
                "targetCollection": r.target_collection,
                "targetKeyType": r.target_key_type,
            }
            for r in plan.references
        ],
        "vectorColumn": plan.vector_column,
    }


def plan_from_json(data: Mapping[str, Any]) -> CollectionPlan:
    try:
        return CollectionPlan(
            table=str(data["table"]),
            collection=str(data["collection"]),
            key_columns=tuple(str(c) for c in data["keyColumns"]),
            properties=tuple(
                PropertyPlan(
                    str(p["column"]),
                    str(p["name"]),
                    str(p["dataType"]),
                    bool(p.get("numbersAsText", False)),
                )
                for p in data["properties"]
            ),
            references=tuple(
                ReferencePlan(
                    str(r["column"]),
                    str(r["name"]),
                    str(r["targetTable"]),
                    str(r["targetCollection"]),
                    str(r.get("targetKeyType", "")),
                )
                for r in data["references"]
            ),
            vector_column=None if data.get("vectorColumn") is None else str(data["vectorColumn"]),
        )
    except (KeyError, TypeError) as error:
        raise MappingError(f"malformed collection plan: missing or invalid {error}") from None
