"""The collection plans of a mapping over one SQLite database: the Jobs' and the dual-write
app's (which imports this without the Weaviate client, so the app starts fast).

With spec.discover the mapping is completed against the database first, by the derivation
`dmctl plan` prints (mapping.discovery), so the plan printed and the plan run are one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from datamigration_operator.api.names import fold_sql_name
from datamigration_operator.api.spec import CollectionMapping, DiscoverSpec
from datamigration_operator.migration.mapping import CollectionPlan, MappingError, plan_collections
from datamigration_operator.migration.mapping.discovery import Discovery, TableSurvey, discover
from datamigration_operator.migration.not_retryable import InvalidMappingError
from datamigration_operator.migration.source.app_outbox import LEASE_TABLE, OUTBOX_TABLE
from datamigration_operator.migration.source.app_read_analysis import READ_ANALYSIS_TABLE
from datamigration_operator.migration.source.sqlite_source import SqliteSource
from datamigration_operator.migration.source.survey import survey_source

log = logging.getLogger(__name__)

LISTED = DiscoverSpec()
# The dual-write library's tables in the app's database: never migrated.
LIBRARY_TABLES = frozenset(
    fold_sql_name(t) for t in (OUTBOX_TABLE, LEASE_TABLE, READ_ANALYSIS_TABLE)
)


def source_plans(
    source: SqliteSource,
    collections: Sequence[CollectionMapping],
    discover_spec: DiscoverSpec = LISTED,
) -> tuple[CollectionPlan, ...]:
    """The collection plans; a mapping that does not fit the database is not retryable."""
    try:
        if discover_spec != LISTED:
            return _discovered_plans(source, collections, discover_spec)
        tables = source.tables()
        wanted = {fold_sql_name(m.table) for m in collections}
        stats = {n: source.column_stats(n) for n in tables if fold_sql_name(n) in wanted}
        dates = {name: source.date_columns(name, found) for name, found in stats.items()}
        return plan_collections(collections, tables, column_stats=stats, date_columns=dates)
    except MappingError as error:
        raise InvalidMappingError(str(error)) from None


def discovered_mappings(
    source: SqliteSource, collections: Sequence[CollectionMapping], discover_spec: DiscoverSpec
) -> tuple[CollectionMapping, ...]:
    """spec.collections completed as spec.discover says, against this database."""
    try:
        return _discovery(source, collections, discover_spec)[0].collections
    except MappingError as error:
        raise InvalidMappingError(str(error)) from None


def _discovery(
    source: SqliteSource, collections: Sequence[CollectionMapping], discover_spec: DiscoverSpec
) -> tuple[Discovery, list[TableSurvey]]:
    surveys, not_tables = survey_source(source)
    found = discover(
        surveys,
        not_tables,
        tables=discover_spec.tables,
        references=discover_spec.references,
        explicit=collections,
        reserved_tables=LIBRARY_TABLES,
    )
    for skipped in found.skipped:
        log.info("discovery skipped %r: %s", skipped.name, skipped.reason)
    return found, surveys


def _discovered_plans(
    source: SqliteSource, collections: Sequence[CollectionMapping], discover_spec: DiscoverSpec
) -> tuple[CollectionPlan, ...]:
    found, surveys = _discovery(source, collections, discover_spec)
    return plan_collections(
        found.collections,
        source.tables(),
        column_stats={s.table.name: s.stats for s in surveys},
        date_columns={s.table.name: s.date_columns for s in surveys},
    )
