"""Tables in the order Weaviate can take their objects: every reference target first.

Weaviate refuses an object whose reference names an object it does not hold yet ("invalid
cref: ... no object with id", checked for the whole batch before any of it is stored), so a
collection is written after the collections it points to. A cycle (or a self-reference) has
no such order: there the reference that points back (deferred_references) is written in a
second step, once its targets are there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from datamigration_operator.api.names import fold_sql_name
from datamigration_operator.migration.mapping.model import CollectionPlan


def reference_depths(plans: Iterable[CollectionPlan]) -> Mapping[str, int]:
    """Per table (folded as SQLite folds names): 0 for one that references no other table,
    else one more than the deepest table it references (cycles cut where they close)."""
    targets = {
        fold_sql_name(plan.table): {fold_sql_name(r.target_table) for r in plan.references}
        - {fold_sql_name(plan.table)}  # a self-reference orders nothing
        for plan in plans
    }
    depths: dict[str, int] = {}

    def depth(table: str, seen: frozenset[str]) -> int:
        if table not in depths:
            above = [depth(t, seen | {table}) for t in targets.get(table, ()) if t not in seen]
            depths[table] = 1 + max(above, default=-1)
        return depths[table]

    for table in targets:
        depth(table, frozenset())
    return depths


def referenced_first(plans: Sequence[CollectionPlan]) -> list[CollectionPlan]:
    """`plans` with every reference target before the plans pointing to it (stable)."""
    depths = reference_depths(plans)
    return sorted(plans, key=lambda plan: depths[fold_sql_name(plan.table)])


def deferred_references(plans: Sequence[CollectionPlan]) -> Mapping[str, frozenset[str]]:
    """Per table (folded as SQLite folds names): the reference properties whose targets
    referenced_first does not put strictly before the table (a self-reference, or the
    reference that closes a cycle). Their targets may land after the object pointing to them,
    so a writer stores such an object without them first and with them once the targets are
    there. Tables without any are left out."""
    depths = reference_depths(plans)
    deferred: dict[str, frozenset[str]] = {}
    for plan in plans:
        depth = depths[fold_sql_name(plan.table)]
        names = frozenset(
            r.name
            for r in plan.references
            if depths.get(fold_sql_name(r.target_table), -1) >= depth  # unknown target: no order
        )
        if names:
            deferred[fold_sql_name(plan.table)] = names
    return deferred
