"""Checkpoint keys survive the status schema (int | str) with their storage class."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamigration_operator.api.status import Checkpoint
from datamigration_operator.migration.runs.checkpoint import (
    CheckpointError,
    CheckpointFile,
    advance,
    advance_references,
    decode_key,
    encode_key,
    finish_table,
    resume_after,
)


@pytest.mark.parametrize(
    ("key", "columns"),
    [
        ((42,), ("id",)),
        (("abc",), ("id",)),
        (("7",), ("id",)),  # a TEXT key that looks like a number stays TEXT
        ((1.5,), ("id",)),
        (("conv-1", "tag"), ("conversation_id", "tag")),
        ((3, "x"), ("a", "b")),
    ],
)
def test_a_key_round_trips_through_its_encoding(
    key: tuple[object, ...], columns: tuple[str, ...]
) -> None:
    encoded = encode_key(key)
    assert isinstance(encoded, int | str)
    assert decode_key(encoded, columns) == key


def test_a_key_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(CheckpointError, match="key columns a, b"):
        decode_key(encode_key((1,)), ("a", "b"))
    with pytest.raises(CheckpointError):
        decode_key("not json", ("a",))


def test_resume_position_follows_advance_and_finish() -> None:
    checkpoint = advance(Checkpoint(), "messages", ("m-9",))
    assert resume_after(checkpoint, "messages", ("id",)) == ("m-9",)
    assert resume_after(checkpoint, "documents", ("id",)) is None
    done = finish_table(checkpoint, "messages")
    assert done.tables_done == ["messages"]
    assert resume_after(done, "messages", ("id",)) is None
    assert finish_table(done, "messages").tables_done == ["messages"]


def test_checkpoint_file_saves_and_loads_and_refuses_garbage(tmp_path: Path) -> None:
    file = CheckpointFile(tmp_path / "sub" / "copy.ckpt")
    assert file.load() is None
    checkpoint = advance(Checkpoint(tables_done=["a"]), "b", (5,))
    file.save(checkpoint)
    assert file.load() == checkpoint
    assert [p.name for p in file.path.parent.iterdir()] == ["copy.ckpt"]  # no temp file left
    file.path.write_text("{broken")
    with pytest.raises(CheckpointError, match="is not a checkpoint"):
        file.load()


def test_the_second_pass_keeps_its_position_on_its_table_and_starts_others_over() -> None:
    done = Checkpoint(tables_done=["teams", "employees"])
    started = advance_references(done, "teams")
    assert (started.table, started.last_key, started.tables_done) == (
        "teams",
        None,
        ["teams", "employees"],
    )
    moved = advance(started, "teams", (40,))
    assert advance_references(moved, "teams") == moved  # resumed: the same position
    following = advance_references(moved, "employees")
    assert resume_after(following, "employees", ("id",)) is None  # from its first row
    ended = advance_references(following, None)
    assert (ended.table, ended.last_key) == (None, None)
