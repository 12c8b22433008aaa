"""Weaviate objects back to row dicts, through the same plan and value codec as the Jobs."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from datamigration_operator.migration.mapping import CollectionPlan, object_from_weaviate


def row_from_object(
    plan: CollectionPlan, uuid: UUID, properties: Mapping[str, object]
) -> dict[str, object]:
    """The planned property columns of one object, keyed by column name.

    Values come back in the form the migration compares (object_from_weaviate): text, int,
    float, bool, RFC 3339 date text, uuid text, bytes and tuples for arrays. A column whose
    value is NULL in SQLite is absent from Weaviate and maps to None here.
    """
    normalised = object_from_weaviate(plan, uuid, properties, {}, None).properties
    return {prop.column: normalised.get(prop.name) for prop in plan.properties}
