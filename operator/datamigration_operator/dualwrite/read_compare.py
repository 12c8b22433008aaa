"""Whether Weaviate and SQLite gave the same answer to a read, compared through the plan.

The SQLite side is what the app's own query returned (ORM values: datetimes, Decimals), put
back into SQLite's stored forms and then through the plan's value codec (row_to_object), the
same as the copy; the Weaviate side is already in that form (read_results.row_from_object).
Only the planned property columns count (the keys among them); lists compare as multisets, so
ties in an ORDER BY do not count as a mismatch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

from datamigration_operator.migration.mapping import CollectionPlan, RowError, row_to_object

Row = Mapping[str, object]


def _stored(value: object) -> object:
    """An ORM value as SQLite stores it (SQLAlchemy's SQLite formats)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def sqlite_view(plan: CollectionPlan, row: Row, migration_namespace: str) -> dict[str, object]:
    """A SQLite row as Weaviate would hold it, keyed by column; a row the plan cannot store
    faithfully (RowError) is kept raw, so it shows as a mismatch."""
    stored = {column: _stored(value) for column, value in row.items()}
    try:
        properties = row_to_object(plan, stored, migration_namespace=migration_namespace).properties
    except RowError:
        return {prop.column: stored.get(prop.column) for prop in plan.properties}
    return {prop.column: properties.get(prop.name) for prop in plan.properties}


def weaviate_view(plan: CollectionPlan, row: Row) -> dict[str, object]:
    return {prop.column: row.get(prop.column) for prop in plan.properties}


def _fingerprint(view: dict[str, object]) -> str:
    return repr(sorted(view.items()))


def reads_agree(
    plan: CollectionPlan,
    weaviate: Row | Sequence[Row] | None,
    sqlite: Row | Sequence[Row] | None,
    migration_namespace: str,
) -> bool:
    """The same rows (one, none, or a list) from both stores."""
    if weaviate is None or sqlite is None:
        return weaviate is None and sqlite is None
    if isinstance(weaviate, Mapping) or isinstance(sqlite, Mapping):
        if not (isinstance(weaviate, Mapping) and isinstance(sqlite, Mapping)):
            return False
        return weaviate_view(plan, weaviate) == sqlite_view(plan, sqlite, migration_namespace)
    left = sorted(_fingerprint(weaviate_view(plan, row)) for row in weaviate)
    right = sorted(_fingerprint(sqlite_view(plan, row, migration_namespace)) for row in sqlite)
    return left == right
