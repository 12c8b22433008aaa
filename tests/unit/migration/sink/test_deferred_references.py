"""write_resolving against a store that refuses a reference to an object it does not hold yet,
checking every object of a batch before storing any (as Weaviate does)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import cast
from uuid import UUID, uuid4

from datamigration_operator.migration.mapping import CollectionPlan, MigrationObject
from datamigration_operator.migration.mapping.model import ReferencePlan
from datamigration_operator.migration.mapping.reference_order import deferred_references
from datamigration_operator.migration.sink.deferred_references import write_resolving
from datamigration_operator.migration.sink.weaviate_sink import (
    FailedObject,
    WeaviateSink,
    WriteOutcome,
)

PLAN = CollectionPlan(
    "employees",
    "Employee",
    ("id",),
    (),
    (ReferencePlan("manager_id", "manager", "employees", "Employee", "INTEGER"),),
    None,
)


class Store:
    def __init__(self, held: Sequence[UUID] = ()) -> None:
        self.objects: dict[UUID, dict[str, tuple[UUID, ...]]] = {uid: {} for uid in held}
        self.batches: list[int] = []

    def write(
        self, plan: CollectionPlan, objects: Sequence[MigrationObject], keys: Sequence[Hashable]
    ) -> WriteOutcome:
        self.batches.append(len(objects))
        outcome = WriteOutcome()
        valid = []
        for obj, key in zip(objects, keys, strict=True):
            missing = [t for ids in obj.references.values() for t in ids if t not in self.objects]
            if missing:
                message = f"invalid cref: no object with id {missing[0]} found"
                outcome.failed.append(FailedObject(plan.table, key, message))
            else:
                valid.append(obj)
        for obj in valid:
            self.objects[obj.uuid] = dict(obj.references)
        outcome.written = len(valid)
        return outcome


def _employee(uid: UUID, manager: UUID | None) -> MigrationObject:
    return MigrationObject(uid, {"name": "e"}, {"manager": (manager,) if manager else ()}, None)


def test_deferred_references_are_self_references_and_the_reference_closing_a_cycle() -> None:
    teams = CollectionPlan(
        "teams",
        "Team",
        ("id",),
        (),
        (ReferencePlan("lead_id", "lead", "employees", "Employee", "INT"),),
        None,
    )
    members = CollectionPlan(
        "members",
        "Member",
        ("id",),
        (),
        (ReferencePlan("team", "team", "teams", "Team", "INT"),),
        None,
    )
    employees = CollectionPlan(
        "employees",
        "Employee",
        ("id",),
        (),
        (*PLAN.references, ReferencePlan("team_id", "team", "teams", "Team", "INTEGER")),
        None,
    )
    deferred = deferred_references([employees, teams, members])
    # teams come first (cut where the cycle closes): its reference to employees waits
    assert deferred == {"employees": frozenset({"manager"}), "teams": frozenset({"lead"})}


def test_a_chain_and_a_cycle_inside_one_write_land_whole_in_two_requests() -> None:
    ids = [uuid4() for _ in range(5)]
    # 0 -> 1 -> 2 -> 3 (forward chain), 4 -> 4 (itself)
    objects = [_employee(ids[i], ids[i + 1]) for i in range(3)] + [
        _employee(ids[3], ids[0]),
        _employee(ids[4], ids[4]),
    ]
    store = Store()
    written = write_resolving(
        cast(WeaviateSink, store), PLAN, objects, list(range(5)), frozenset({"manager"})
    )
    assert written.outcome.failed == []
    assert written.outcome.written == 5
    assert written.unresolved.objects == []
    assert store.batches == [5, 5]
    assert {uid: refs["manager"] for uid, refs in store.objects.items()} == {
        o.uuid: o.references["manager"] for o in objects
    }


def test_a_target_outside_the_write_leaves_the_object_stored_and_unresolved() -> None:
    held, later, absent = uuid4(), uuid4(), uuid4()
    objects = [_employee(uuid4(), held), _employee(uuid4(), later), _employee(uuid4(), None)]
    store = Store([held])
    written = write_resolving(
        cast(WeaviateSink, store), PLAN, objects, ["a", "b", "c"], frozenset({"manager"})
    )
    assert written.outcome.failed == []
    assert written.unresolved.keys == ["b"]
    assert written.unresolved.objects == [objects[1]]  # whole, for the caller's later write
    assert store.objects[objects[1].uuid] == {}  # its data is stored, without the reference
    assert store.objects[objects[0].uuid] == {"manager": (held,)}
    assert absent not in store.objects


def test_without_deferred_references_it_is_one_plain_write() -> None:
    missing = uuid4()
    store = Store()
    written = write_resolving(
        cast(WeaviateSink, store), PLAN, [_employee(uuid4(), missing)], ["a"], frozenset()
    )
    assert [f.key for f in written.outcome.failed] == ["a"]
    assert store.batches == [1]
