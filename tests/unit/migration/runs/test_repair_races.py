"""A sync repair Weaviate refused because the app deleted the referenced row (and this one with
it, by cascade) between the sync's read and its write is no failure; any other refusal is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from datamigration_operator.migration.mapping import CollectionPlan
from datamigration_operator.migration.mapping.values import Key
from datamigration_operator.migration.runs.diff import _lasting
from datamigration_operator.migration.sink.weaviate_sink import FailedObject
from tests.note_plan import NOTE_PLAN

GONE = "invalid cref: 'cref' Note:parent: no object with id 37e2 found"


def rows_left(*keys: Key) -> Any:
    def lookup(plan: CollectionPlan, wanted: Sequence[Key]) -> Mapping[Key, dict[str, object]]:
        return {key: {"id": key[0]} for key in wanted if key in keys}

    return lookup


def test_a_refused_reference_of_a_row_deleted_since_is_not_a_failure() -> None:
    raced = FailedObject("notes", (1,), GONE)
    dangling = FailedObject("notes", (2,), GONE)  # its row is still there: a real failure
    other = FailedObject("notes", (3,), "vectorizer failed")
    failed = [raced, dangling, other]
    assert _lasting(NOTE_PLAN, failed, rows_left((2,), (3,))) == [dangling, other]
    assert _lasting(NOTE_PLAN, failed, None) == failed
