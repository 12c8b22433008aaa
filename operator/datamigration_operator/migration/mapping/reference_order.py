"""Tables in the order Weaviate can take their objects: every reference target first.

Weaviate refuses an object whose reference names an object it does not hold yet ("invalid
cref: ... no object with id", checked for the whole batch before any of it is stored), so a
collection is written after the collections it points to. A cycle (or a self-reference) has
no such order: there the sink's retries of the refused objects carry the references once their
targets landed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from datamigration_operator.migration.mapping.model import CollectionPlan


def reference_depths(plans: Iterable[CollectionPlan]) -> Mapping[str, int]:
    """Per table (casefolded): 0 for one that references no other table, else one more than
    the deepest table it references (cycles cut where they close)."""
    targets = {
        plan.table.casefold(): {r.target_table.casefold() for r in plan.references}
        - {plan.table.casefold()}  # a self-reference orders nothing
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
    return sorted(plans, key=lambda plan: depths[plan.table.casefold()])


def references_itself(plan: CollectionPlan) -> bool:
    return any(r.target_table.casefold() == plan.table.casefold() for r in plan.references)
