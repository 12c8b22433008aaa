"""The collection plans of a mapping over one SQLite database: the Jobs' and the dual-write
app's (which imports this without the Weaviate client, so the app starts fast)."""

from __future__ import annotations

from collections.abc import Sequence

from datamigration_operator.api.spec import CollectionMapping
from datamigration_operator.migration.mapping import CollectionPlan, MappingError, plan_collections
from datamigration_operator.migration.not_retryable import InvalidMappingError
from datamigration_operator.migration.source.sqlite_source import SqliteSource


def source_plans(
    source: SqliteSource, collections: Sequence[CollectionMapping]
) -> tuple[CollectionPlan, ...]:
    """The collection plans; a mapping that does not fit the database is not retryable."""
    tables = source.tables()
    wanted = {m.table.casefold() for m in collections}
    stats = {name: source.column_stats(name) for name in tables if name.casefold() in wanted}
    try:
        return plan_collections(collections, tables, column_stats=stats)
    except MappingError as error:
        raise InvalidMappingError(str(error)) from None
