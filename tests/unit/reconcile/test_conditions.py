from __future__ import annotations

from datetime import UTC, datetime, timedelta

from datamigration_operator.reconcile.conditions import find_condition, is_true, set_condition

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def test_transition_time_moves_only_when_status_changes() -> None:
    conditions = set_condition(
        [], "Migrated", "False", "JobRunning", "copying", now=T0, generation=1
    )
    same = set_condition(conditions, "Migrated", "False", "JobFailed", "boom", now=T1, generation=2)
    changed = find_condition(same, "Migrated")
    assert changed is not None
    assert changed.last_transition_time == T0
    assert (changed.reason, changed.message, changed.observed_generation) == (
        "JobFailed",
        "boom",
        2,
    )
    flipped = set_condition(same, "Migrated", "True", "JobSucceeded", "", now=T1, generation=2)
    assert find_condition(flipped, "Migrated").last_transition_time == T1  # type: ignore[union-attr]
    assert is_true(flipped, "Migrated")


def test_unchanged_condition_returns_the_same_list_and_order_is_kept() -> None:
    conditions = set_condition([], "Migrated", "True", "JobSucceeded", "", now=T0, generation=1)
    conditions = set_condition(
        conditions, "Ready", "True", "PhaseComplete", "", now=T0, generation=1
    )
    again = set_condition(conditions, "Migrated", "True", "JobSucceeded", "", now=T1, generation=1)
    assert again is conditions
    assert [
        c.type
        for c in set_condition(conditions, "Migrated", "False", "X", "", now=T1, generation=1)
    ] == [
        "Migrated",
        "Ready",
    ]
    assert not is_true([], "Validated")
