"""The smallest collection plan: table notes, keyed by id, one text property (Weaviate `Note`)."""

from __future__ import annotations

from datamigration_operator.migration.mapping import CollectionPlan, PropertyPlan

NOTE_PLAN = CollectionPlan(
    table="notes",
    collection="Note",
    key_columns=("id",),
    properties=(PropertyPlan("body", "body", "text"),),
    references=(),
    vector_column=None,
)
