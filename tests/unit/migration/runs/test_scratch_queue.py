"""The diff's scratch queue holds one entry per object and round; an object with a reference
problem among its differences (or found by the reference sweep) is queued to have its
references judged."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from datamigration_operator.migration.runs.diff import Difference, Problem, Scratch

B1, B2 = UUID(int=1), UUID(int=2)


def _queued(scratch: Scratch, round_: int) -> list[tuple[str, bytes]]:
    rows = scratch.db.execute(
        "SELECT problem, uuid FROM diff WHERE round = ? ORDER BY rowid", (round_,)
    )
    return list(rows)


def test_an_object_is_queued_once_and_its_reference_problem_wins(tmp_path: Path) -> None:
    scratch = Scratch(tmp_path)
    try:
        problems: tuple[Problem, ...] = ("mismatched", "wrongReference", "mismatched")
        for problem in problems:
            scratch.defer(Difference("books", ("b1",), B1, problem), 1, quiet=True)
        scratch.defer(Difference("books", ("b2",), B2, "mismatched"), 1, quiet=True)
        assert _queued(scratch, 1) == [("wrongReference", B1.bytes), ("mismatched", B2.bytes)]
    finally:
        scratch.close()


def test_suspects_mark_a_first_pass_difference_and_queue_the_rest(tmp_path: Path) -> None:
    scratch = Scratch(tmp_path)
    try:
        scratch.db.execute(
            "INSERT INTO diff (tbl, problem, uuid, key) VALUES ('books', 'mismatched', ?, 's:b1')",
            (B1.bytes,),
        )
        added = scratch.suspect("books", [(B1, ("b1",)), (B2, ("b2",))])
        assert added == 1
        assert _queued(scratch, 0) == [
            ("danglingReference", B1.bytes),
            ("danglingReference", B2.bytes),
        ]
    finally:
        scratch.close()
