"""The app's collection plans made to agree with the Jobs', whatever data each planned from.

The planner infers property types from the values a column holds when it is planned
(planning._infer). The app plans when it starts, the copy Job from its snapshot later, so the
two can disagree: a JSON or NUMERIC column of an empty table plans as `number` and, once
filled, as `text` or `int`; a column without a declared type flips between `int` and `text`.
Left alone, the drainer then fails on every batch with a schema conflict (the outbox grows
until the app restarts), or, for a `text` property the copy planned with numbers as text,
skips the rows the app writes numbers into.

Two rules make the app's objects equal the Jobs':
- A `text` property always converts numbers to their decimal text. The Jobs do exactly that
  whenever the column holds a number when they plan, and a sync or validate plans after any
  number the app wrote; for text values both conversions are the identity.
- When the collection exists (the copy created it), its recorded property types win over
  the app's inference: that schema is the copy's plan, and the one every later Job checks
  against. A property the collection records as a reference and the app as a scalar (or the
  other way round) cannot be reconciled and raises MappingError naming both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from datamigration_operator.migration.mapping import CollectionPlan, MappingError, PropertyPlan


def text_takes_numbers(plan: CollectionPlan) -> CollectionPlan:
    properties = tuple(
        replace(p, numbers_as_text=True) if p.data_type == "text" else p for p in plan.properties
    )
    return replace(plan, properties=properties)


def aligned_plan(
    plan: CollectionPlan, recorded: Mapping[str, str], recorded_references: frozenset[str]
) -> CollectionPlan:
    """`plan` with the collection's recorded property types (`recorded`: property name ->
    dataType; `recorded_references`: names of reference properties)."""
    properties = []
    for prop in plan.properties:
        if prop.name in recorded_references:
            raise MappingError(
                f"collection {plan.collection} has {prop.name} as a reference, the app's plan "
                f"maps column {plan.table}.{prop.column} to a {prop.data_type} property"
            )
        found = recorded.get(prop.name, prop.data_type)
        as_text = prop.numbers_as_text and found == prop.data_type  # text_takes_numbers below
        properties.append(PropertyPlan(prop.column, prop.name, found, as_text))
    for ref in plan.references:
        if ref.name in recorded:
            raise MappingError(
                f"collection {plan.collection} has {ref.name} as a {recorded[ref.name]} "
                f"property, the app's plan maps column {plan.table}.{ref.column} to a reference"
            )
    return text_takes_numbers(replace(plan, properties=tuple(properties)))


def align_plans(client: Any, plans: Mapping[str, CollectionPlan]) -> dict[str, CollectionPlan]:
    """Each plan aligned with its collection in Weaviate; unchanged where it does not exist."""
    aligned = {}
    for name, plan in plans.items():
        if not client.collections.exists(plan.collection):
            aligned[name] = text_takes_numbers(plan)
            continue
        config = client.collections.export_config(plan.collection)
        recorded = {p.name: str(p.data_type.value) for p in config.properties}
        references = frozenset(r.name for r in config.references)
        aligned[name] = aligned_plan(plan, recorded, references)
    return aligned
