"""The mapping from SQLite rows to Weaviate objects, shared by the Jobs and the dual-write library.

Pure: imports neither kopf, kubernetes, weaviate nor sqlalchemy (an import-linter contract).
The pieces live in model (data), derivation (spec + tables -> plans), values (value codec) and
objects (rows <-> objects); this module is the one place callers import them from.
"""

from __future__ import annotations

from datamigration_operator.migration.mapping.derivation import collection_schema, plan_collections
from datamigration_operator.migration.mapping.model import (
    ROWID,
    CollectionPlan,
    CollectionSchema,
    ColumnInfo,
    ColumnStats,
    MappingError,
    PropertyPlan,
    PropertySchema,
    ReferencePlan,
    ReferenceSchema,
    TableInfo,
    plan_from_json,
    plan_to_json,
)
from datamigration_operator.migration.mapping.objects import (
    OBJECT_ID_NAMESPACE,
    MigrationObject,
    ObjectBuilder,
    RowError,
    object_from_weaviate,
    object_uuid,
    row_to_object,
)

__all__ = [
    "OBJECT_ID_NAMESPACE",
    "ROWID",
    "CollectionPlan",
    "CollectionSchema",
    "ColumnInfo",
    "ColumnStats",
    "MappingError",
    "MigrationObject",
    "ObjectBuilder",
    "PropertyPlan",
    "PropertySchema",
    "ReferencePlan",
    "ReferenceSchema",
    "RowError",
    "TableInfo",
    "collection_schema",
    "object_from_weaviate",
    "object_uuid",
    "plan_collections",
    "plan_from_json",
    "plan_to_json",
    "row_to_object",
]
