"""Tables in the order Weaviate takes their objects: every reference target first."""

from __future__ import annotations

from datamigration_operator.migration.mapping.model import CollectionPlan, ReferencePlan
from datamigration_operator.migration.mapping.reference_order import (
    deferred_references,
    reference_depths,
    referenced_first,
)


def plan(table: str, *targets: str) -> CollectionPlan:
    refs = tuple(ReferencePlan(f"{t}_id", f"{t}Ref", t, t.title()) for t in targets)
    return CollectionPlan(table, table.title(), ("id",), (), refs, None)


def test_targets_come_first_whatever_the_spec_order() -> None:
    plans = [plan("items", "orders", "products"), plan("orders", "customers"), plan("products")]
    plans.append(plan("customers"))
    assert [p.table for p in referenced_first(plans)] == [
        "products",
        "customers",
        "orders",
        "items",
    ]


def test_self_references_and_cycles_do_not_loop() -> None:
    employees = plan("employees", "employees")
    a, b = plan("a", "b"), plan("b", "a")
    depths = reference_depths([employees, a, b])
    assert depths["employees"] == 0
    assert sorted(depths[t] for t in ("a", "b")) == [0, 1]
    # what closes each loop waits for a second write: the self-reference, and one of a, b
    deferred = deferred_references([employees, a, b])
    assert deferred["employees"] == frozenset({"employeesRef"})
    assert len(set(deferred) & {"a", "b"}) == 1
    assert len(referenced_first([employees, a, b])) == 3


def test_table_names_compare_as_sqlite_does() -> None:
    assert [p.table for p in referenced_first([plan("Msgs", "CONVS"), plan("convs")])] == [
        "convs",
        "Msgs",
    ]
