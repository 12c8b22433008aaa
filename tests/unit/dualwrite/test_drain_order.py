"""The drainer writes reference targets before the collections pointing to them: the real
Weaviate refuses an object whose reference names an object it does not hold yet."""

from __future__ import annotations

from datamigration_operator.dualwrite.drainer import _Writes, referenced_first
from datamigration_operator.migration.mapping.model import CollectionPlan, ReferencePlan


def _plan(table: str, *targets: str) -> CollectionPlan:
    return CollectionPlan(
        table=table,
        collection=table.title(),
        key_columns=("id",),
        properties=(),
        references=tuple(
            ReferencePlan(f"{t}_id", f"{t}_id", t, t.title(), "INTEGER") for t in targets
        ),
        vector_column=None,
    )


def test_targets_come_first_whatever_the_entries_order() -> None:
    conversations = _plan("conversations")
    messages = _plan("messages", "conversations")
    reactions = _plan("reactions", "messages", "reactions")  # a self-reference too
    documents = _plan("documents")
    plans = [reactions, messages, conversations, documents]
    batch = [_Writes(reactions), _Writes(messages), _Writes(documents), _Writes(conversations)]

    ordered = [writes.plan.table for writes in referenced_first(batch, plans)]

    assert ordered == ["documents", "conversations", "messages", "reactions"]


def test_a_reference_cycle_still_orders_every_table() -> None:
    a, b = _plan("a", "b"), _plan("b", "a")
    ordered = referenced_first([_Writes(a), _Writes(b)], [a, b])
    assert sorted(writes.plan.table for writes in ordered) == ["a", "b"]
